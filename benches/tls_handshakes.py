#!/usr/bin/env python3
"""TLS handshakes and idle TLS connections: prefork-server against nginx, interleaved.

Both servers run one worker pinned to CPU 0 with the same ECDSA P-256 certificate (made by
benches/load.sh --tls in PKI_DIR), HTTPS on their own port; the clients run on CPU 1.

- full: `openssl s_time -new -www /` over TLS 1.3 and 1.2: a new connection, a full handshake
  and one GET per connection; reported as handshakes per server CPU-second (the server's
  utime+stime over the run, from /proc);
- resumed: the same with `-reuse` (TLS 1.3 tickets; TLS 1.2 tickets), so every connection
  after the first resumes;
- idle: 10,000 TLS 1.3 connections, each after one GET, held open; reported as the growth
  of the server's Pss (all its processes) per connection.

Rounds alternate the order of the servers. 127.0.0.1 only; every process is stopped at the end.

usage: benches/tls_handshakes.py --pki DIR [--rounds 5] [--seconds 4] [--idle 10000]
"""
import argparse
import os
import re
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def group(pgid):
    """Every process of a process group (a server started in a session of its own: nginx's
    master outlives the script that started it, but not its group)."""
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            if int(open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[2]) == pgid:
                out.append(int(p))
        except (OSError, IndexError, ValueError):
            continue
    return out


def cpu_seconds(pids):
    total = 0
    for p in pids:
        try:
            f = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
            total += int(f[11]) + int(f[12])
        except (OSError, IndexError):
            pass
    return total / CLK_TCK


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


def wait_port(port, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


class Server:
    def __init__(self, name, cmd, port, tls_port):
        self.name, self.cmd, self.port, self.tls_port = name, cmd, port, tls_port
        self.popen = None

    def start(self):
        self.popen = subprocess.Popen(["bash", "-c", "exec taskset -c 0 " + self.cmd],
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, start_new_session=True)
        if not wait_port(self.tls_port):
            self.stop()
            raise RuntimeError(f"{self.name} did not listen on {self.tls_port}")
        time.sleep(0.5)

    def pids(self):
        return group(self.popen.pid)

    def stop(self):
        if not self.popen:
            return
        try:
            os.killpg(self.popen.pid, signal.SIGTERM)
            self.popen.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.popen = None


def s_time(server, mode, version, seconds):
    """Connections made in `seconds`, and the server's CPU-seconds meanwhile."""
    pids = server.pids()
    c0 = cpu_seconds(pids)
    out = subprocess.run(
        ["taskset", "-c", "1", "openssl", "s_time", "-connect", f"127.0.0.1:{server.tls_port}",
         mode, version, "-time", str(seconds), "-www", "/"],
        capture_output=True, text=True, timeout=seconds + 30).stdout
    c1 = cpu_seconds(pids)
    m = re.search(r"(\d+) connections in [\d.]+s", out)
    if not m:
        raise RuntimeError(f"s_time said:\n{out}")
    return int(m.group(1)), c1 - c0


def idle(server, count):
    """Pss growth per connection for `count` TLS connections held open after one GET each."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    before = pss_kib(server.pids())
    held = []
    try:
        for _ in range(count):
            s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", server.tls_port)),
                                server_hostname="localhost")
            s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            got = b""
            while b"Hello" not in got:
                chunk = s.recv(4096)
                if not chunk:
                    raise RuntimeError("closed before the answer")
                got += chunk
            held.append(s)
        time.sleep(2)
        after = pss_kib(server.pids())
    finally:
        for s in held:
            s.close()
    return (after - before) * 1024 / count


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pki", required=True, help="directory with cert.pem and key.pem")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=4)
    ap.add_argument("--idle", type=int, default=10000, help="connections held for the idle test")
    ap.add_argument("--ours", default=os.path.join(TOP, "target/release/prefork-server"))
    ap.add_argument("--base-port", type=int, default=19400)
    a = ap.parse_args()
    import resource
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    cert, key = os.path.join(a.pki, "cert.pem"), os.path.join(a.pki, "key.pem")
    p = a.base_port
    servers = [
        Server("nginx", f"env NGINX_TLS_PORT={p + 1} NGINX_TLS_CERT={cert} NGINX_TLS_KEY={key} "
               f"{TOP}/benches/load/serve-nginx.sh {p} 1", p, p + 1),
        Server("ours", f"{a.ours} --bind 127.0.0.1 --port {p + 2} --workers 1 --tls-port {p + 3} "
               f"--tls-cert {cert} --tls-key {key}", p + 2, p + 3),
    ]
    cases = [("full", "-new", "-tls1_3"), ("full", "-new", "-tls1_2"),
             ("resumed", "-reuse", "-tls1_3"), ("resumed", "-reuse", "-tls1_2")]
    rates = {}
    pss = {}

    def on_signal(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        for s in servers:
            s.start()
        for rnd in range(a.rounds):
            order = servers if rnd % 2 == 0 else list(reversed(servers))
            for kind, mode, version in cases:
                for s in order:
                    n, cpu = s_time(s, mode, version, a.seconds)
                    rate = n / cpu if cpu > 0 else float("nan")
                    rates.setdefault((kind, version, s.name), []).append(rate)
                    log(f"   r{rnd} {kind:7s} {version} {s.name:6s} {n:6d} handshakes, "
                        f"server {cpu:.2f} CPU-s: {rate:,.0f} per CPU-second")
        if a.idle:
            for s in servers:
                pss[s.name] = idle(s, a.idle)
                log(f"   idle {s.name}: {pss[s.name]:,.0f} B of Pss per TLS connection "
                    f"({a.idle} held)")
    finally:
        for s in servers:
            s.stop()
    print(f"\n| case | nginx (per CPU-s) | ours (per CPU-s) | ours / nginx |")
    print("|---|---|---|---|")
    for kind, _, version in cases:
        n = statistics.median(rates[(kind, version, "nginx")])
        o = statistics.median(rates[(kind, version, "ours")])
        print(f"| {kind} handshakes, {version[1:].replace('_', '.')} | {n:,.0f} | {o:,.0f} | "
              f"{o / n:.2f}x |")
    if pss:
        print(f"\nidle TLS connections ({a.idle:,} held): nginx {pss['nginx']:,.0f} B, "
              f"ours {pss['ours']:,.0f} B of Pss per connection")


if __name__ == "__main__":
    main()
