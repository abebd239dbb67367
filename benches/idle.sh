#!/usr/bin/env bash
# Memory per idle keep-alive connection: prefork-server and nginx (and with --peers the Rust
# peers) held by the same client (benches/hold.rs) in ONE run, one server after the other.
# Each connection sends one request first; the figure is the growth of the server's Pss
# (master and workers, /proc/PID/smaps_rollup) divided by N, so it counts everything a
# connection costs in user space, per-slot preallocation included if it is touched meanwhile.
# nginx preallocates its worker_connections slots at start (≈ 429 B each, in its baseline):
# the table adds that figure separately, as the issue counts it.
#
# usage: benches/idle.sh [-n 10000] [--workers 2] [--procs 4] [--peers]
# needs: apt-get install -y nginx (benches/load.sh installs it); 127.0.0.1 only.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
n=10000; workers=2; procs=4; peers=0
while [ $# -gt 0 ]; do
  case $1 in
    -n) n=$2; shift 2 ;;
    --workers) workers=$2; shift 2 ;;
    --procs) procs=$2; shift 2 ;;
    --peers) peers=1; shift ;;
    *) echo "usage: $0 [-n N] [--workers W] [--procs K] [--peers]" >&2; exit 2 ;;
  esac
done
(cd "$top" && cargo build --release --quiet && cargo bench --bench hold --no-run --quiet)
port=65200
results=()
live=""  # the server being measured, stopped on any exit
trap '[ -n "$live" ] && kill $live 2>/dev/null; true' EXIT INT TERM

wait_port() {
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "nothing listening on port $1" >&2; return 1
}

# measure NAME PID: holds the connections, records the line, stops nothing.
measure() {
  local name=$1 pid=$2 out bytes
  out=$(cd "$top" && cargo bench --quiet --bench hold -- --port "$port" -n "$n" --procs "$procs" --pid "$pid" 2>&1) || true
  echo "$out" | sed "s/^/   $name: /" >&2
  bytes=$(echo "$out" | sed -n 's/.*memory per idle connection: \([0-9]*\) bytes.*/\1/p')
  answered=$(echo "$out" | sed -n 's/.*, \([0-9]*\) answered again at the end.*/\1/p')
  results+=("| $name | ${bytes:-?} | ${answered:-?} / $n |")
}

echo "== prefork-server" >&2
"$top/target/release/prefork-server" --bind 127.0.0.1 --port $port --workers "$workers" 2>/dev/null &
ours=$!; live=$ours
wait_port $port
measure prefork-server $ours
kill $ours; wait $ours 2>/dev/null || true; live=""
port=$((port + 1))

echo "== nginx" >&2
nginx=$("$top/benches/load/serve-nginx.sh" $port "$workers"); live=$nginx
measure "nginx (plus ≈ 429 B preallocated per worker_connections slot)" "$nginx"
kill "$nginx"; live=""
port=$((port + 1))

if [ $peers = 1 ]; then
  for name in hyper actix may-minihttp; do
    bin=/tmp/perf-peers/$name/target/release/peer-$name
    [ -x "$bin" ] || { echo "   $name: not built (benches/load.sh --peers builds it)" >&2; continue; }
    echo "== $name" >&2
    "$bin" $port "$workers" 2>/dev/null &
    pid=$!; live=$pid
    wait_port $port
    measure "$name" $pid
    kill $pid; wait $pid 2>/dev/null || true; live=""
    port=$((port + 1))
  done
fi

echo
echo "idle keep-alive connections: $n, $workers workers, client over $procs processes"
echo
echo "| server | bytes per idle connection | answered at the end |"
echo "|---|---:|---:|"
printf '%s\n' "${results[@]}"
