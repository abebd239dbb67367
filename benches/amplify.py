#!/usr/bin/env python3
"""Response shapes that cost more than their bytes, against a running server: is the loop
still fair, and how much does the kernel hold for clients that never read?

CLIENTS connections each send one request for a large body the server generates in small
pieces (by default `/stream-bytes/1048576?chunk_size=1`: every byte its own chunk, 6 bytes
on the wire per byte) and never read a byte of the answer. Meanwhile a probe opens a fresh
connection for `GET /` every 20 ms. Prints the probe's p50, p99 and worst time, the
server's CPU per flood request (utime + stime of PIDS over the run, divided by CLIENTS), and
the kernel's TCP memory (/proc/net/sockstat `TCP: ... mem`, pages of 4 KiB) before the flood
and at its height. The probe runs without the flood first, for a baseline.

usage: benches/amplify.py --port P --pids PID[,PID...] [--clients 1000] [--seconds 10]
                          [--path '/stream-bytes/1048576?chunk_size=1']
"""
import argparse
import os
import resource
import socket
import time

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / TICK


def tcp_mem_mib():
    with open("/proc/net/sockstat") as f:
        for line in f:
            if line.startswith("TCP:"):
                parts = line.split()
                return int(parts[parts.index("mem") + 1]) * 4096 / 2**20
    return 0.0


def probe_once(port):
    start = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            while s.recv(65536):
                pass
    except OSError:
        return 5.0
    return time.monotonic() - start


def probe(port, seconds):
    times = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        times.append(probe_once(port))
        time.sleep(0.02)
    times.sort()
    return times


def summary(times):
    pick = lambda q: times[min(len(times) - 1, len(times) * q // 100)] * 1000
    return f"p50 {pick(50):.1f} ms, p99 {pick(99):.1f} ms, worst {times[-1] * 1000:.1f} ms"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pids", required=True, help="server processes whose CPU is summed")
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--path", default="/stream-bytes/1048576?chunk_size=1")
    a = ap.parse_args()
    pids = [int(p) for p in a.pids.split(",")]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    quiet = probe(a.port, 2)
    mem_before = tcp_mem_mib()
    cpu_before = cpu_seconds(pids)
    request = f"GET {a.path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    flood = []
    for _ in range(a.clients):
        s = socket.create_connection(("127.0.0.1", a.port))
        s.sendall(request)
        flood.append(s)
    loaded = probe(a.port, a.seconds)
    mem_during = tcp_mem_mib()
    cpu = cpu_seconds(pids) - cpu_before
    for s in flood:
        s.close()
    print(f"{a.clients} clients on {a.path} that never read:")
    print(f"  fresh GET / without the flood: {summary(quiet)}")
    print(f"  fresh GET / under the flood:   {summary(loaded)} ({len(loaded)} probes)")
    print(f"  server CPU {cpu:.2f} s, {cpu / a.clients * 1000:.2f} ms per flood request")
    print(f"  kernel TCP memory {mem_before:.0f} MiB before, {mem_during:.0f} MiB under "
          f"the flood ({(mem_during - mem_before) * 1024 / a.clients:.0f} KiB per client)")


if __name__ == "__main__":
    main()
