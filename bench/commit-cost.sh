#!/usr/bin/env bash
# Redis instructions per withdrawal, which a shared, noisy machine does not
# disturb (docs/redis.md, "What a commit costs"): runs the commit-cost probe
# (tests/api/redis_commit_cost.rs) against a fresh redis-server watched with
# MONITOR, then replays what it recorded into a fresh redis-server under
# `valgrind --tool=callgrind` twice, the setup alone and the setup with the
# withdrawals, and prints the difference per withdrawal. Then it times the
# same withdrawals without valgrind (`INFO commandstats`, `INFO cpu`).
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

# The issue's own measure, timed without valgrind: the setup replayed into a
# fresh server, its statistics reset, then the withdrawals alone replayed
# (one connection, pipelined, so Redis is busy and its caches warm), three
# times. `INFO commandstats` gives the commit's `EVALSHA` per call (its
# script's own calls included) and every command's time per withdrawal
# (the script's calls counted once, inside `EVALSHA`); `INFO cpu` Redis's
# main-thread CPU per withdrawal, reading and parsing included.
python3 -c 'import sys; s = open(sys.argv[1], "rb").read(); f = open(sys.argv[2], "rb").read(); assert f.startswith(s); open(sys.argv[3], "wb").write(f[len(s):])' \
  "$out/setup.resp" "$out/full.resp" "$out/withdrawals.resp"
timed() {
  local port
  port=$(free_port)
  # shellcheck disable=SC2046 # the options are words
  redis-server --port "$port" $(server_options "timed-$1") >"$out/timed-redis.log" 2>&1 &
  local server=$!
  wait_for "$port"
  serve_every_slot "$port"
  # The replies of the recorded traffic hold its errors too (a first
  # EVALSHA of a script not loaded yet), and `--pipe` then exits non-zero.
  redis-cli -p "$port" --pipe <"$out/setup.resp" >/dev/null 2>&1 || true
  redis-cli -p "$port" config resetstat >/dev/null
  redis-cli -p "$port" info cpu >"$out/timed-$1-cpu-before.txt"
  redis-cli -p "$port" --pipe <"$out/withdrawals.resp" >/dev/null 2>&1 || true
  redis-cli -p "$port" info commandstats >"$out/timed-$1.txt"
  redis-cli -p "$port" info cpu >>"$out/timed-$1.txt"
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
  wait "$server" || true
  python3 - "$out/timed-$1.txt" "$out/monitor.txt" "$withdrawals" "$out/timed-$1-cpu-before.txt" <<'PY'
import re, sys
text, withdrawals = open(sys.argv[1]).read(), int(sys.argv[3])
stats = {m[0]: (int(m[1]), int(m[2])) for m in re.findall(r"cmdstat_(\S+):calls=(\d+),usec=(\d+)", text)}
main_thread = lambda text: sum(float(v) for v in re.findall(r"used_cpu_(?:user|sys)_main_thread:([\d.]+)", text))
cpu = main_thread(text) - main_thread(open(sys.argv[4]).read())
# The commands sent by the gateway during the withdrawals (between the probe's
# two INFO commandstats), not those its scripts ran: each counted at its
# command's mean time a call, so a script's calls count once, inside EVALSHA.
sent, infos = {}, 0
for line in open(sys.argv[2], "rb"):
    found = re.match(rb'^\d+\.\d+ \[\d+ ([^\]]+)\] "([^"]+)"', line)
    if not found:
        continue
    name = found.group(2).decode().lower()
    if line.rstrip().endswith(b'"INFO" "commandstats"'):
        infos += 1
    elif infos == 1 and found.group(1) != b"lua":
        sent[name] = sent.get(name, 0) + 1
per_call = lambda name: stats[name][1] / stats[name][0] if name in stats else 0.0
top = sum(count * per_call(name) for name, count in sent.items())
print(f"  EVALSHA {per_call('evalsha'):.2f} µs a call; the gateway's commands {top / withdrawals:.2f} µs "
      f"and Redis main-thread CPU {cpu * 1e6 / withdrawals:.2f} µs per withdrawal")
PY
}
echo "timed (INFO commandstats and INFO cpu, no valgrind):"
for run in 1 2 3; do timed "$run"; done
echo "(recordings and callgrind profiles in $out)"
