#!/usr/bin/env python3
"""One million concurrent connections on this machine, and what they cost.

Starts the server (`--workers 56`, a keep-alive timeout longer than the run, defaults
otherwise), measures `GET /` latency with wrk -c50 while nothing is held, then opens N
connections from `benches/hold.rs` (many client processes, 64 loopback source addresses, one
request each), holds them while it samples the server's idle CPU and runs the same wrk again,
then sends a second request on every held connection and counts the answers. It prints the
time to establish and the connect rate, the server's Pss per connection, the kernel's Slab per
connection, total memory used, idle CPU, both wrk latencies, the answered count and the
server's own `status` totals.

Not for CI: it needs most of the machine for minutes (about 10.5 KB of kernel memory per
connection for both ends). 127.0.0.0/8 only; everything it starts is stopped at the end.

    benches/million.py [-n 1000000] [--workers 56] [--hold 60] [--sse SECS] [--binary PATH]

With --sse SECS every connection is a `/sse` stream with one event every SECS seconds for the
hold, and the run counts the events delivered against those due.
"""

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def meminfo():
    out = {}
    for line in open("/proc/meminfo"):
        k, v = line.split(":")
        out[k] = int(v.split()[0])  # KiB
    return out


def tree(pid):
    pids, stack = [], [pid]
    while stack:
        p = stack.pop()
        pids.append(p)
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                stack.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return pids


def cpu_ticks(pids):
    total = 0
    for p in pids:
        try:
            fields = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime
        except OSError:
            pass
    return total


def pss_kib(pids):
    total = 0
    for p in pids:
        try:
            for line in open(f"/proc/{p}/smaps_rollup"):
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def wrk(port, seconds):
    out = subprocess.run(["wrk", "-t1", "-c50", f"-d{seconds}s", "--latency",
                          f"http://127.0.0.1:{port}/"], capture_output=True, text=True).stdout
    def pct(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)", out, re.M)
        if not m:
            return None
        scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
        return round(float(m.group(1)) * scale, 3)
    reqs = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Socket errors: .*", out)
    return {"p50": pct(50), "p99": pct(99), "rps": float(reqs.group(1)) if reqs else 0,
            "errors": errors.group(0) if errors else "none"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-n", type=int, default=1_000_000)
    p.add_argument("--workers", type=int, default=56)
    p.add_argument("--hold", type=int, default=60)
    p.add_argument("--procs", type=int, default=0, help="client processes (default n/15000)")
    p.add_argument("--sse", type=int, default=0, metavar="SECS",
                   help="hold /sse streams with one event every SECS instead of idle connections")
    p.add_argument("--binary", default=os.path.join(TOP, "target", "release", "prefork-server"))
    args = p.parse_args()
    procs = args.procs or -(-args.n // 15_000)
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=TOP, check=True)
    subprocess.run(["cargo", "bench", "--bench", "hold", "--no-run", "--quiet"], cwd=TOP,
                   check=True)
    for knob in ["fs/file-max", "fs/nr_open", "net/ipv4/ip_local_port_range",
                 "net/ipv4/tcp_mem", "net/core/somaxconn"]:
        value = open(f"/proc/sys/{knob}").read().split()
        print(f"{knob.replace('/', '.')}: {' '.join(value)}")
    print(f"clients: {procs} processes, 200 source addresses; server: {args.workers} workers",
          flush=True)
    port = free_port()
    server = subprocess.Popen([args.binary, "--bind", "127.0.0.1", "--port", str(port),
                               "--workers", str(args.workers), "--keepalive-timeout", "1h",
                               "--header-timeout", "5m", "--max-duration", "1h"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    log_lines = []
    threading.Thread(target=lambda: log_lines.extend(server.stderr), daemon=True).start()
    hold = None
    try:
        deadline = time.time() + 30
        while not any("listening on" in l for l in log_lines):
            if time.time() > deadline or server.poll() is not None:
                sys.exit("the server did not start:\n" + "".join(log_lines[-20:]))
            time.sleep(0.1)
        time.sleep(1)
        base = wrk(port, 10)
        print(f"wrk -c50 GET /, nothing held: p50 {base['p50']} ms, p99 {base['p99']} ms, "
              f"{base['rps']:.0f} req/s", flush=True)
        mem0 = meminfo()
        pss0 = pss_kib(tree(server.pid))
        hold = subprocess.Popen(["cargo", "bench", "--quiet", "--bench", "hold", "--",
                                 "--port", str(port), "-n", str(args.n), "--procs", str(procs),
                                 "--sources", "200", "--pid", str(server.pid),
                                 "--hold", str(args.hold)]
                                + (["--sse", str(args.sse)] if args.sse else []),
                                cwd=TOP, stdout=subprocess.PIPE, text=True)
        for line in hold.stdout:
            print(line.rstrip(), flush=True)
            if line.startswith("holding"):
                break
        held_at = time.time()
        time.sleep(5)
        pids = tree(server.pid)
        t0, c0 = time.time(), cpu_ticks(pids)
        time.sleep(10)
        idle = (cpu_ticks(pids) - c0) / os.sysconf("SC_CLK_TCK") / (time.time() - t0)
        mem1 = meminfo()
        pss1 = pss_kib(pids)
        loaded = wrk(port, 20)
        print(f"wrk -c50 GET /, {args.n} held: p50 {loaded['p50']} ms, p99 {loaded['p99']} ms, "
              f"{loaded['rps']:.0f} req/s, errors: {loaded['errors']}", flush=True)
        status = subprocess.run([args.binary, "status", "--port", str(port)],
                                capture_output=True, text=True).stdout
        left = args.hold - (time.time() - held_at)
        rest = hold.stdout.read()
        print(rest.rstrip(), flush=True)
        hold.wait(timeout=600)
        n = args.n
        slab = (mem1["Slab"] - mem0["Slab"]) * 1024 / n
        unrecl = (mem1["SUnreclaim"] - mem0["SUnreclaim"]) * 1024 / n
        used = (mem0["MemAvailable"] - mem1["MemAvailable"]) / 1024 / 1024
        print("\n## Figures")
        print(f"server Pss: {(pss1 - pss0) * 1024 / n:.0f} B per connection "
              f"({pss0 / 1024:.0f} MiB before, {pss1 / 1024:.0f} MiB held)")
        print(f"kernel Slab: {slab:.0f} B per connection (SUnreclaim {unrecl:.0f} B), both ends")
        print(f"memory used (MemAvailable drop): {used:.2f} GiB")
        print(f"server CPU while holding, idle: {idle * 100:.2f}% of one core "
              f"({len(pids)} processes)")
        print(f"wrk p50/p99: {base['p50']}/{base['p99']} ms nothing held, "
              f"{loaded['p50']}/{loaded['p99']} ms with {n} held (hold ended {max(left, 0):.0f} s "
              "after wrk)")
        print("\n## prefork-server status (while held)\n" + status)
        return 0
    finally:
        if hold and hold.poll() is None:
            hold.send_signal(signal.SIGINT)
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    sys.exit(main())
