#!/usr/bin/env bash
# The load benchmark: prefork-server, nginx and floor.c (the syscall floor: the least any epoll
# responder can do; floor-139B is the same sending our exact response bytes) under the same wrk,
# interleaved round by round in ONE run, 127.0.0.1 only.
# Prints medians and the ratio to nginx for each scenario (see benches/load/lib/bench_http.py).
#
# usage: benches/load.sh [--peers] [--files] [--httpbin] [--rounds 5] [--duration 5]
#                        [--scenarios ka100,ka1000,pipe16,close] [--configs pin1,free2]
#   pin1: one worker, server pinned to CPU 0, wrk to CPU 1; free2: two workers, not pinned.
#   --peers: also run nginx with `listen ... deferred` (TCP_DEFER_ACCEPT, which prefork-server
#            uses by default) and the Rust peers hyper, actix-web and may_minihttp, built once
#            from benches/load/peers into /tmp/perf-peers (needs the crates registry).
#   --files: serve files instead (1 KiB, 64 KiB, 1 MiB and 64 MiB, made in /tmp/prefork-bench-www):
#            ours with --root against nginx (`sendfile on; tcp_nopush on;`) without and with
#            `open_file_cache`, scenarios file1k,file64k,file1m,file64m unless --scenarios says.
#   --compress: compression on the fly and listings (a 64 KiB HTML page and a directory of 1,000
#            files, made in /tmp/prefork-bench-compress): ours with --compress
#            --compress-level-gzip 6 --autoindex against nginx with `gzip on; gzip_comp_level 6`
#            and `autoindex on`; scenarios gzip64k,br64k,zstd64k,list1000 (nginx answers br and
#            zstd with identity), then the size each server's gzip (and ours' br, zstd) comes to.
#   --httpbin: the httpbin routes (/get, /post with a 1 KiB form, /bytes/1024, /delay/0.1, at
#            1,000 connections, and GET / and /get at 100 and 1,000 for the CPU per request),
#            ours against the original httpbin (Python, gunicorn with 32 threads per worker,
#            installed once into /tmp/prefork-bench-httpbin with pip).
#   --tls:   HTTPS, ours (--tls-port) against nginx (`listen ... ssl`, `ssl_session_tickets on`,
#            see serve-nginx.sh), both with one ECDSA P-256 certificate made with openssl in
#            /tmp/prefork-bench-tls: keep-alive GET /, pipelined, and a 1 MiB file over TLS 1.3
#            (scenarios tls-ka100,tls-pipe16,tls-file1m; plain ka100 beside them), then
#            benches/tls_handshakes.py: full and resumed handshakes per server CPU-second, and
#            the memory of 10,000 idle TLS connections.
# needs: apt-get install -y nginx wrk libnginx-mod-http-echo (the script installs them if it can)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
peers=0
files=0
httpbin=0
compress=0
tls=0
args=()
for a in "$@"; do
  case "$a" in
    --peers) peers=1 ;;
    --files) files=1 ;;
    --httpbin) httpbin=1 ;;
    --compress) compress=1 ;;
    --tls) tls=1 ;;
    *) args+=("$a") ;;
  esac
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
if [ $files = 1 ]; then
  www=/tmp/prefork-bench-www
  mkdir -p "$www"
  for spec in 1k:1024 64k:65536 1m:1048576 64m:67108864; do
    name=${spec%%:*}; size=${spec#*:}
    [ "$(stat -c %s "$www/$name.bin" 2>/dev/null)" = "$size" ] || head -c "$size" /dev/urandom > "$www/$name.bin"
  done
  servers=(
    nginx="env NGINX_ROOT=$www $top/benches/load/serve-nginx.sh {PORT} {WORKERS}"
    nginx-ofc="env NGINX_ROOT=$www NGINX_OPEN_FILE_CACHE=1 $top/benches/load/serve-nginx.sh {PORT} {WORKERS}"
    ours="$top/target/release/prefork-server --bind 127.0.0.1 --port {PORT} --workers {WORKERS} --root $www"
  )
  case " ${args[*]-} " in *" --scenarios "*) ;; *) args+=(--scenarios file1k,file64k,file1m,file64m) ;; esac
fi
if [ $compress = 1 ]; then
  www=/tmp/prefork-bench-compress
  python3 "$top/benches/load/lib/make_compress_tree.py" "$www"
  servers=(
    nginx="env NGINX_ROOT=$www NGINX_GZIP=6 NGINX_AUTOINDEX=1 $top/benches/load/serve-nginx.sh {PORT} {WORKERS}"
    ours="$top/target/release/prefork-server --bind 127.0.0.1 --port {PORT} --workers {WORKERS} --root $www --autoindex --compress --compress-level-gzip 6"
  )
  case " ${args[*]-} " in *" --scenarios "*) ;; *) args+=(--scenarios gzip64k,br64k,zstd64k,list1000) ;; esac
  python3 "$top/benches/load/lib/bench_http.py" ${args[@]+"${args[@]}"} "${servers[@]}"
  # The sizes: one request each, on servers started again for it.
  port=65090
  pid=$(env NGINX_ROOT=$www NGINX_GZIP=6 "$top/benches/load/serve-nginx.sh" $port 1)
  "$top/target/release/prefork-server" --bind 127.0.0.1 --port $((port + 1)) --workers 1 \
    --root "$www" --compress --compress-level-gzip 6 >/dev/null 2>&1 &
  ours=$!
  sleep 1
  size() { curl -s -H "Accept-Encoding: $2" "http://127.0.0.1:$1/64k.html" | wc -c; }
  echo "64k.html: $(stat -c %s "$www/64k.html") bytes; nginx gzip 6: $(size $port gzip);" \
    "ours gzip 6: $(size $((port + 1)) gzip), br 5: $(size $((port + 1)) br)," \
    "zstd 3: $(size $((port + 1)) zstd)"
  kill "$pid" "$ours"
  exit 0
fi
if [ $httpbin = 1 ]; then
  venv=/tmp/prefork-bench-httpbin
  if [ ! -x "$venv/bin/gunicorn" ]; then
    python3 -m venv "$venv" && "$venv/bin/pip" install -q httpbin gunicorn brotli
  fi
  servers=(
    ours="$top/target/release/prefork-server --bind 127.0.0.1 --port {PORT} --workers {WORKERS}"
    httpbin="$venv/bin/gunicorn -b 127.0.0.1:{PORT} -w {WORKERS} -k gthread --threads 32 httpbin:app"
  )
  case " ${args[*]-} " in *" --scenarios "*) ;; *) args+=(--scenarios ka100,get100,ka1000,get1000,post1000,bytes1000,delay1000) ;; esac
fi
if [ $tls = 1 ]; then
  pki=/tmp/prefork-bench-tls
  mkdir -p "$pki"
  if [ ! -s "$pki/cert.pem" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
      -keyout "$pki/key.pem" -out "$pki/cert.pem" -subj /CN=localhost \
      -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null
  fi
  www=/tmp/prefork-bench-www
  mkdir -p "$www"
  [ "$(stat -c %s "$www/1m.bin" 2>/dev/null)" = 1048576 ] || head -c 1048576 /dev/urandom > "$www/1m.bin"
  tls_env="NGINX_TLS_PORT={TLSPORT} NGINX_TLS_CERT=$pki/cert.pem NGINX_TLS_KEY=$pki/key.pem NGINX_ROOT=$www"
  servers=(
    nginx="env $tls_env $top/benches/load/serve-nginx.sh {PORT} {WORKERS}"
    ours="$top/target/release/prefork-server --bind 127.0.0.1 --port {PORT} --workers {WORKERS} --root $www --tls-port {TLSPORT} --tls-cert $pki/cert.pem --tls-key $pki/key.pem"
  )
  case " ${args[*]-} " in *" --scenarios "*) ;; *) args+=(--scenarios ka100,tls-ka100,tls-pipe16,tls-file1m) ;; esac
  python3 "$top/benches/load/lib/bench_http.py" ${args[@]+"${args[@]}"} "${servers[@]}"
  exec python3 "$top/benches/tls_handshakes.py" --pki "$pki"
fi
exec python3 "$top/benches/load/lib/bench_http.py" ${args[@]+"${args[@]}"} "${servers[@]}"
