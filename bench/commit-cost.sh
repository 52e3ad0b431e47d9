#!/usr/bin/env bash
# Redis instructions per withdrawal, which a shared, noisy machine does not
# disturb (docs/redis.md, "What a commit costs"): runs the commit-cost probe
# (tests/api/redis_commit_cost.rs) against a fresh redis-server watched with
# MONITOR, then replays what it recorded into a fresh redis-server under
# `valgrind --tool=callgrind` twice, the setup alone and the setup with the
# withdrawals, and prints the difference per withdrawal.
#
# With CLUSTER=1 the probe's gateway runs on a one-master Redis Cluster
# (every slot on one node, so one MONITOR sees every command, and the
# replays run on cluster-enabled servers too): a cluster's commit, measured
# the same way.
#
# Usage: [CLUSTER=1] bench/commit-cost.sh [OUT_DIR]   (needs redis-server, redis-cli, valgrind)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-$(mktemp -d)}
mkdir -p "$out"
# A cluster node's configuration from an earlier run in the same directory
# would already hold every slot, and adding them again would fail.
rm -f "$out"/nodes-*.conf
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for() { for _ in $(seq 600); do redis-cli -p "$1" ping >/dev/null 2>&1 && return; sleep 0.1; done; exit 1; }

# The options of a server (cluster-enabled with CLUSTER=1) named $1.
server_options() {
  echo --save "" --appendonly no --dir "$out"
  if [ "${CLUSTER:-0}" = 1 ]; then
    echo --cluster-enabled yes --cluster-config-file "$out/nodes-$1.conf" --cluster-port "$(free_port)"
  fi
}
# With CLUSTER=1: every slot to the server on port $1, and wait until it serves them.
serve_every_slot() {
  [ "${CLUSTER:-0}" = 1 ] || return 0
  redis-cli -p "$1" cluster addslotsrange 0 16383 >/dev/null
  for _ in $(seq 600); do
    redis-cli -p "$1" cluster info | grep -q 'cluster_state:ok' && return
    sleep 0.1
  done
  exit 1
}

port=$(free_port)
# shellcheck disable=SC2046 # the options are words
redis-server --port "$port" $(server_options recorded) >"$out/recorded-redis.log" 2>&1 &
recorded=$!
wait_for "$port"
serve_every_slot "$port"
url="redis://127.0.0.1:$port/0"
[ "${CLUSTER:-0}" = 1 ] && url="redis+cluster://127.0.0.1:$port"
redis-cli -p "$port" monitor >"$out/monitor.txt" &
monitor=$!
WALLETGATE_COST_REDIS_URL="$url" \
  cargo test --quiet --test api redis_commit_cost -- --ignored --nocapture >"$out/probe.txt" 2>&1
redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
wait "$recorded" || true
kill "$monitor" 2>/dev/null || true
withdrawals=$(sed -n 's/.*(\([0-9]*\) withdrawals).*/\1/p' "$out/probe.txt")
python3 bench/monitor_to_resp.py "$out/monitor.txt" "$out"

instructions() {
  local part=$1 port
  port=$(free_port)
  # shellcheck disable=SC2046 # the options are words
  valgrind --tool=callgrind --callgrind-out-file="$out/$part.callgrind" \
    redis-server --port "$port" $(server_options "$part") >"$out/$part-redis.log" 2>&1 &
  local server=$!
  wait_for "$port"
  serve_every_slot "$port"
  redis-cli -p "$port" --pipe <"$out/$part.resp" >"$out/$part-pipe.txt"
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
  wait "$server" || true
  sed -n 's/^totals: \([0-9]*\).*/\1/p' "$out/$part.callgrind"
}
setup=$(instructions setup)
full=$(instructions full)
echo "withdrawals: $withdrawals; Redis instructions: setup $setup, with the withdrawals $full"
echo "per withdrawal: $(( (full - setup) / withdrawals ))"
echo "(recordings and callgrind profiles in $out)"
