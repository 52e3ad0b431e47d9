# shellcheck shell=bash
# A throwaway three-master Redis Cluster on loopback for CI, sourced by
# .ci/run (and by anyone who wants the same cluster by hand):
#
#   source .ci/redis-cluster.sh
#   start_ci_cluster          # exports CLUSTER_URL=redis+cluster://127.0.0.1:P1,…
#   stop_ci_cluster           # shuts the nodes down, removes their directories
#
# Each node runs daemonized in a temporary directory of its own, without
# persistence, on the first free client ports from CLUSTER_BASE_PORT (7100
# unless set) whose cluster-bus ports (client port + 10000) are free too.
# stop_ci_cluster is safe to call more than once, and when nothing started.

CLUSTER_BASE_PORT="${CLUSTER_BASE_PORT:-7100}"
# Longest wait, in tenths of a second, for a node to answer or the cluster to settle.
CLUSTER_WAIT_TENTHS=${CLUSTER_WAIT_TENTHS:-200}
CLUSTER_PORTS=()
CLUSTER_DIRS=()

# Whether something accepts connections on a loopback port.
port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# The next three ports from CLUSTER_BASE_PORT with their bus ports free.
pick_cluster_ports() {
  local port="$CLUSTER_BASE_PORT" picked=()
  while [ "${#picked[@]}" -lt 3 ]; do
    if [ "$port" -gt 55535 ]; then
      echo "no three free ports from ${CLUSTER_BASE_PORT} for the Redis Cluster" >&2
      return 1
    fi
    if ! port_in_use "$port" && ! port_in_use "$((port + 10000))"; then
      picked+=("$port")
    fi
    port=$((port + 1))
  done
  echo "${picked[@]}"
}

start_ci_cluster() {
  local port dir ports
  ports="$(pick_cluster_ports)" || return 1
  read -r -a CLUSTER_PORTS <<<"$ports"
  for port in "${CLUSTER_PORTS[@]}"; do
    dir="$(mktemp -d "${TMPDIR:-/tmp}/walletgate-ci-cluster-${port}-XXXXXX")"
    CLUSTER_DIRS+=("$dir")
    redis-server --port "$port" --bind 127.0.0.1 --cluster-enabled yes \
      --cluster-config-file nodes.conf --cluster-node-timeout 5000 \
      --save "" --appendonly no --daemonize yes --dir "$dir" \
      --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
  done
  local i
  for i in "${!CLUSTER_PORTS[@]}"; do
    wait_for_cluster_node "${CLUSTER_PORTS[$i]}" "${CLUSTER_DIRS[$i]}" || return 1
  done
  local addresses=()
  for port in "${CLUSTER_PORTS[@]}"; do
    addresses+=("127.0.0.1:${port}")
  done
  local created
  if ! created="$(redis-cli --cluster create "${addresses[@]}" --cluster-replicas 0 --cluster-yes 2>&1)"; then
    echo "redis-cli --cluster create failed: ${created}" >&2
    return 1
  fi
  # Slots are assigned when create returns; each node says cluster_state:ok
  # only once it has heard of every other.
  local _
  for _ in $(seq 1 "$CLUSTER_WAIT_TENTHS"); do
    if cluster_state_ok_everywhere; then
      CLUSTER_URL="redis+cluster://$(IFS=,; echo "${addresses[*]}")"
      export CLUSTER_URL
      echo "Redis Cluster up: ${CLUSTER_URL}"
      return 0
    fi
    sleep 0.1
  done
  echo "the Redis Cluster on ports ${CLUSTER_PORTS[*]} did not reach cluster_state:ok" >&2
  for port in "${CLUSTER_PORTS[@]}"; do
    redis-cli -p "$port" cluster info >&2 || true
  done
  return 1
}

wait_for_cluster_node() {
  local port="$1" dir="$2" _
  for _ in $(seq 1 "$CLUSTER_WAIT_TENTHS"); do
    if [ "$(redis-cli -p "$port" ping 2>/dev/null)" = "PONG" ]; then return 0; fi
    sleep 0.1
  done
  echo "the cluster node on port ${port} did not answer; its log:" >&2
  cat "$dir/redis.log" >&2 2>/dev/null || true
  return 1
}

cluster_state_ok_everywhere() {
  local port
  for port in "${CLUSTER_PORTS[@]}"; do
    redis-cli -p "$port" cluster info 2>/dev/null | tr -d '\r' | grep -qx 'cluster_state:ok' || return 1
  done
}

stop_ci_cluster() {
  local port dir pid _ pids=()
  # The pids first: a node removes its pidfile as it shuts down.
  for dir in "${CLUSTER_DIRS[@]}"; do
    pid="$(cat "$dir/redis.pid" 2>/dev/null || true)"
    if [ -n "$pid" ]; then pids+=("$pid"); fi
  done
  for port in "${CLUSTER_PORTS[@]}"; do
    redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
  done
  # A node that did not take the shutdown (hung, or never answered) is killed.
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" || true; fi
  done
  for dir in "${CLUSTER_DIRS[@]}"; do
    rm -rf "$dir"
  done
  CLUSTER_PORTS=()
  CLUSTER_DIRS=()
}
