#!/usr/bin/env python3
"""What does a download from disk cost the other clients of a worker?

Against running servers (ours, an older binary, nginx), each serving the same file: for every
run and every port in turn, drops the page cache (root only), then downloads PATH once while a
keep-alive connection sends `GET /` every millisecond and times each answer. Prints, per run and
port, the download's time and the p50, p99 and longest `GET /`. With --warm the cache is kept,
for the figure to compare with.

usage: benches/cold-file.py --ports 8080,8081 --path /64m.bin [--runs 6] [--warm]
"""
import argparse
import socket
import subprocess
import threading
import time

GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def drop_page_cache():
    subprocess.run(["sync"], check=True)
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def read_answer(s):
    """Reads one response with a Content-Length body from `s`."""
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += s.recv(4096)
    head, _, body = answer.partition(b"\r\n\r\n")
    fields = dict(line.split(b":", 1) for line in head.split(b"\r\n")[1:])
    length = int(next(v for k, v in fields.items() if k.lower() == b"content-length"))
    while len(body) < length:
        body += s.recv(4096)


def probe(port, done, latencies):
    """GET / on one keep-alive connection every millisecond until `done`."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while not done.is_set():
            start = time.perf_counter()
            s.sendall(GET)
            read_answer(s)
            latencies.append(time.perf_counter() - start)
            time.sleep(0.001)


def download(port, path):
    """Downloads `path` on a new connection; returns the bytes received."""
    received = 0
    with socket.create_connection(("127.0.0.1", port), timeout=60) as d:
        d.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        while chunk := d.recv(1 << 20):
            received += len(chunk)
    return received


def one_run(port, path, warm):
    if not warm:
        drop_page_cache()
    latencies, done = [], threading.Event()
    prober = threading.Thread(target=probe, args=(port, done, latencies))
    prober.start()
    time.sleep(0.2)
    start = time.perf_counter()
    received = download(port, path)
    took = time.perf_counter() - start
    time.sleep(0.1)
    done.set()
    prober.join()
    latencies.sort()

    def ms(q):
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    print(
        f"port {port}: {received:,} B in {took * 1000:.0f} ms; GET / x{len(latencies)} "
        f"p50 {ms(0.5):.2f} p99 {ms(0.99):.2f} max {latencies[-1] * 1000:.2f} ms",
        flush=True,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ports", required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--warm", action="store_true")
    args = parser.parse_args()
    for run in range(args.runs):
        print(f"run {run}", flush=True)
        for port in (int(p) for p in args.ports.split(",")):
            one_run(port, args.path, args.warm)


if __name__ == "__main__":
    main()
