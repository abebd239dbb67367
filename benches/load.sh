#!/usr/bin/env bash
# The load benchmark: prefork-server, nginx and floor.c (the syscall floor: the least any epoll
# responder can do) under the same wrk, interleaved round by round in ONE run, 127.0.0.1 only.
# Prints medians and the ratio to nginx for each scenario (see benches/load/lib/bench_http.py).
#
# usage: benches/load.sh [--rounds 5] [--duration 5] [--scenarios ka100,ka1000,pipe16,close]
#                        [--configs pin1,free2]
#   pin1: one worker, server pinned to CPU 0, wrk to CPU 1; free2: two workers, not pinned.
# needs: apt-get install -y nginx wrk libnginx-mod-http-echo (the script installs them if it can)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
if ! command -v wrk >/dev/null || [ ! -x /usr/sbin/nginx ]; then
  apt-get update -qq && apt-get install -y -qq nginx wrk libnginx-mod-http-echo >/dev/null
fi
(cd "$top" && cargo build --release --quiet)
cc -O2 -o /tmp/prefork-bench-floor "$top/benches/load/floor.c"
exec python3 "$top/benches/load/lib/bench_http.py" "$@" \
  nginx="$top/benches/load/serve-nginx.sh {PORT} {WORKERS}" \
  ours="$top/target/release/prefork-server --bind 127.0.0.1 --port {PORT} --workers {WORKERS}" \
  floor="/tmp/prefork-bench-floor {PORT} {WORKERS}"
