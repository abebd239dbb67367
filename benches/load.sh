#!/usr/bin/env bash
# The load benchmark: prefork-server, nginx and floor.c (the syscall floor: the least any epoll
# responder can do; floor-139B is the same sending our exact response bytes) under the same wrk,
# interleaved round by round in ONE run, 127.0.0.1 only.
# Prints medians and the ratio to nginx for each scenario (see benches/load/lib/bench_http.py).
#
# usage: benches/load.sh [--peers] [--rounds 5] [--duration 5]
#                        [--scenarios ka100,ka1000,pipe16,close] [--configs pin1,free2]
#   pin1: one worker, server pinned to CPU 0, wrk to CPU 1; free2: two workers, not pinned.
#   --peers: also run nginx with `listen ... deferred` (TCP_DEFER_ACCEPT, which prefork-server
#            uses by default) and the Rust peers hyper, actix-web and may_minihttp, built once
#            from benches/load/peers into /tmp/perf-peers (needs the crates registry).
# needs: apt-get install -y nginx wrk libnginx-mod-http-echo (the script installs them if it can)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
peers=0
args=()
for a in "$@"; do
  if [ "$a" = --peers ]; then peers=1; else args+=("$a"); fi
done
if ! command -v wrk >/dev/null || [ ! -x /usr/sbin/nginx ]; then
  apt-get update -qq && apt-get install -y -qq nginx wrk libnginx-mod-http-echo >/dev/null
fi
(cd "$top" && cargo build --release --quiet)
cc -O2 -o /tmp/prefork-bench-floor "$top/benches/load/floor.c"
cc -O2 -DOUR_RESPONSE -o /tmp/prefork-bench-floor-139B "$top/benches/load/floor.c"
servers=(
  nginx="$top/benches/load/serve-nginx.sh {PORT} {WORKERS}"
  ours="$top/target/release/prefork-server --bind 127.0.0.1 --port {PORT} --workers {WORKERS}"
  floor="/tmp/prefork-bench-floor {PORT} {WORKERS}"
  floor-139B="/tmp/prefork-bench-floor-139B {PORT} {WORKERS}"
)
if [ $peers = 1 ]; then
  servers+=(nginx-deferred="env NGINX_DEFERRED=1 $top/benches/load/serve-nginx.sh {PORT} {WORKERS}")
  for name in hyper actix may-minihttp; do
    dst=/tmp/perf-peers/$name
    if [ ! -x "$dst/target/release/peer-$name" ]; then
      mkdir -p "$dst/src"
      cp "$top/benches/load/peers/$name/Cargo.toml" "$dst/"
      cp "$top/benches/load/peers/$name"/src/*.rs "$dst/src/"
      echo "== building the $name peer in $dst" >&2
      (cd "$dst" && cargo build --release --quiet)
    fi
    servers+=("$name=$dst/target/release/peer-$name {PORT} {WORKERS}")
  done
fi
exec python3 "$top/benches/load/lib/bench_http.py" ${args[@]+"${args[@]}"} "${servers[@]}"
