#!/usr/bin/env python3
"""HTTP/2 benchmark: prefork-server against h2o 2.2 and nginx 1.22, interleaved in ONE run,
127.0.0.1 only (see README.md next to this file).

Every server runs as one worker / one process (h2o: one thread), pinned with taskset to
--server-cpu (1); the load client (h2load -t1, or this script's idle client) to --client-cpu (0).
Within each round, each scenario runs against each server back to back (A B C, A B C, ...; the
order is reversed on odd rounds), so the per-round ratios compare runs taken seconds apart.

Scenarios:
  h2c       h2load -c100 -m10 -t1 -D SECS http://127.0.0.1:P/   (prior knowledge)
  h2tls     the same over TLS, ALPN h2: https://127.0.0.1:T/
  download  ours (and --base) only: 1 MiB over one stream, HTTP/2 against HTTP/1.1
            (h2load -c1 -m1 vs h2load --h1 -c1), GET /bytes/1048576 and a 1 MiB file /big.bin
            under --root: server CPU per MiB and the ratio h2 / h1 (target: within 10%)
  idle      10,000 idle HTTP/2 connections (preface, SETTINGS, SETTINGS ack, one GET /, then
            held) to a fresh ours and nginx: Pss (smaps_rollup, every server process) after
            minus before, over the connections = bytes per connection

Measured for the h2load scenarios: the server's CPU (utime+stime from /proc/PID/stat of every
process in its process group, all threads included) across the h2load run, over the requests
h2load reports succeeded = µs of server CPU per request; also req/s and h2load's failed and
errored counts (must be 0; a row with either is flagged). A warm-up run (--warmup s, same
command) precedes each measured one and is not counted. Reported: medians over rounds, and the
median of the per-round ratios to ours.

Everything started runs in its own process group and is stopped by that group's id (at the
end, on error, on Ctrl-C or SIGTERM); every subprocess is bounded in time; temp dirs are removed.

usage: python3 benches/h2/bench.py [--rounds 3] [--duration 5] [--scenarios h2c,h2tls,download,idle]
       [--ours PATH] [--base PATH] [--peers h2o,nginx] [--idle-conns 10000] [--out DIR]
"""
import argparse
import csv
import hashlib
import os
import re
import resource
import selectors
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
CLK_TCK = os.sysconf("SC_CLK_TCK")
OURS = os.path.join(TOP, "target", "release", "prefork-server")
MIB = 1 << 20
BODY = b"Hello, World!"

ALL_SCENARIOS = ["h2c", "h2tls", "download", "idle"]
# download modes: (name, path, h2load protocol args)
DOWNLOADS = [
    ("bytes-h2", "/bytes/1048576", ["-m1"]),
    ("bytes-h1", "/bytes/1048576", ["--h1"]),
    ("file-h2", "/big.bin", ["-m1"]),
    ("file-h1", "/big.bin", ["--h1"]),
]


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def q(cmd):
    return " ".join(shlex.quote(str(c)) for c in cmd)


# ---------------------------------------------------------------- processes
# The /proc readings the wrk bench takes, the same way (benches/load/lib/bench_http.py).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "load", "lib"))
from bench_http import cpu_ticks, group_pids  # noqa: E402


def sched_ns(pids):
    """On-CPU nanoseconds of every thread of pids (/proc/PID/task/TID/schedstat): a
    finer cross-check of the tick counts."""
    t = 0
    for p in pids:
        try:
            tids = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{p}/task/{tid}/schedstat") as f:
                    t += int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass
    return t


def pss_bytes(pids):
    t = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        t += int(line.split()[1]) * 1024
                        break
        except OSError:
            pass
    return t


def port_accepts(port, timeout=0.5):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def run_bounded(cmd, timeout, cpu=None):
    """Runs cmd (pinned to cpu), at most timeout seconds; returns (rc, output)."""
    if cpu is not None:
        cmd = ["taskset", "-c", str(cpu)] + list(cmd)
    with tempfile.TemporaryFile() as tf:
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=tf, stderr=subprocess.STDOUT,
                             start_new_session=True)
        try:
            rc = p.wait(timeout=timeout)
        except BaseException as e:  # the time is up, or Ctrl-C / SIGTERM: stop it by its group id
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
            if not isinstance(e, subprocess.TimeoutExpired):
                raise
            rc = "timeout"
        tf.seek(0)
        return rc, tf.read().decode(errors="replace")


class Server:
    """One server process tree, in its own session / process group."""

    def __init__(self, name, kind, binary=None):
        self.name, self.kind, self.binary = name, kind, binary
        self.popen, self.port, self.tls_port, self.dir, self.cmd, self.logpath = (None,) * 6

    def start(self, port, tls_port, cpu, work, cert, key, root=None, tag=""):
        """Starts it on port (h2c / plain) and tls_port (TLS, ALPN h2) and waits until both accept."""
        self.port, self.tls_port = port, tls_port
        self.dir = tempfile.mkdtemp(prefix=f"{self.name}-", dir=work)
        if self.kind == "ours":
            cmd = [self.binary, "--port", str(port), "--workers", "1", "--bind", "127.0.0.1",
                   "--tls-port", str(tls_port), "--tls-cert", cert, "--tls-key", key,
                   "--shutdown-timeout", "2s"]
            if root:
                # --root turns the httpbin routes off unless asked: /bytes/N and /big.bin both
                cmd += ["--root", root, "--httpbin", "on"]
        elif self.kind == "nginx":
            conf = os.path.join(self.dir, "nginx.conf")
            os.makedirs(os.path.join(self.dir, "tmp"))
            with open(conf, "w") as f:
                f.write(NGINX_CONF.format(dir=self.dir, port=port, tls_port=tls_port, cert=cert, key=key))
            r = subprocess.run(["nginx", "-t", "-q", "-p", self.dir, "-c", conf], capture_output=True,
                               text=True, timeout=20)
            if r.returncode != 0:
                raise RuntimeError(f"nginx -t: {r.stderr}")
            cmd = ["nginx", "-p", self.dir, "-c", conf]
        elif self.kind == "h2o":
            www = os.path.join(self.dir, "www")
            os.makedirs(www)
            with open(os.path.join(www, "index.html"), "wb") as f:
                f.write(BODY)
            conf = os.path.join(self.dir, "h2o.conf")
            with open(conf, "w") as f:
                f.write(H2O_CONF.format(dir=self.dir, www=www, port=port, tls_port=tls_port, cert=cert,
                                        key=key))
            r = subprocess.run(["h2o", "-t", "-c", conf], capture_output=True, text=True, timeout=20)
            if r.returncode != 0:
                raise RuntimeError(f"h2o -t: {r.stdout}{r.stderr}")
            cmd = ["h2o", "-c", conf]
        else:
            raise ValueError(self.kind)
        self.cmd = ["taskset", "-c", str(cpu)] + cmd
        self.logpath = os.path.join(work, f"server-{self.name}{tag}.log")
        lf = open(self.logpath, "a")
        self.popen = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=lf, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        lf.close()
        deadline = time.time() + 30
        while time.time() < deadline:
            if port_accepts(port) and port_accepts(tls_port):
                time.sleep(0.2)  # workers forked and listening
                return
            if self.popen.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not accept on :{port}/:{tls_port}; log {self.logpath}:\n"
                           + open(self.logpath).read()[-2000:])

    def pids(self):
        return group_pids(self.popen.pid) if self.popen else []

    def stop(self):
        if self.popen:
            pgid = self.popen.pid
            for sig, wait_s in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
                try:
                    os.killpg(pgid, sig)
                except ProcessLookupError:
                    pass
                deadline = time.time() + wait_s
                while time.time() < deadline:
                    try:
                        self.popen.wait(timeout=0.05)
                    except subprocess.TimeoutExpired:
                        pass
                    if not group_pids(pgid):
                        break
                    time.sleep(0.05)
                if not group_pids(pgid):
                    break
            self.popen = None
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


NGINX_CONF = """\
user root;
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile 20000;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{
    use epoll;
    worker_connections 20000;
}}
http {{
    access_log off;
    server_tokens off;
    keepalive_requests 1000000000;
    keepalive_timeout 600s;
    http2_idle_timeout 600s;
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port} http2 backlog=4096;
        listen 127.0.0.1:{tls_port} ssl http2 backlog=4096;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        location = / {{
            default_type text/plain;
            return 200 "Hello, World!";
        }}
    }}
}}
"""

H2O_CONF = """\
user: root
pid-file: {dir}/h2o.pid
error-log: {dir}/error.log
num-threads: 1
max-connections: 20000
http2-idle-timeout: 600
listen:
  port: {port}
  host: 127.0.0.1
listen:
  port: {tls_port}
  host: 127.0.0.1
  ssl:
    certificate-file: {cert}
    key-file: {key}
    minimum-version: TLSv1.2
    ocsp-update-interval: 0
hosts:
  default:
    paths:
      /:
        file.dir: {www}
"""


# ---------------------------------------------------------------- h2load
def parse_h2load(out):
    r = {}
    m = re.search(r"finished in ([\d.]+)(ms|s), ([\d.]+) req/s, ([\d.]+)([KMG]?B)/s", out)
    if m:
        r["secs"] = float(m.group(1)) / (1000 if m.group(2) == "ms" else 1)
        r["rps"] = float(m.group(3))
    m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
                  r"(\d+) errored, (\d+) timeout", out)
    if m:
        for k, v in zip(("total", "started", "done", "succeeded", "failed", "errored", "timeout"), m.groups()):
            r[k] = int(v)
    m = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
    if m:
        r["non2xx"] = sum(int(x) for x in m.groups()[1:])
    m = re.search(r"traffic: .*?\((\d+)\) total, .*?\((\d+)\) headers .*?, .*?\((\d+)\) data", out)
    if m:
        r["bytes_total"], r["bytes_headers"], r["bytes_data"] = (int(x) for x in m.groups())
    m = re.search(r"Application protocol: (\S+)", out)
    r["proto"] = m.group(1) if m else "?"
    m = re.search(r"TLS Protocol: (\S+)", out)
    if m:
        r["proto"] += "/" + m.group(1)
    m = re.search(r"Cipher: (\S+)", out)
    if m:
        r["proto"] += "/" + m.group(1)
    return r if "succeeded" in r and "secs" in r else None


def h2load(url, conns, streams, duration, count, extra, cpu):
    cmd = ["h2load", "-t1", f"-c{conns}"] + list(extra)
    if "--h1" not in extra and not any(x.startswith("-m") for x in extra):
        cmd.append(f"-m{streams}")
    cmd += [f"-D{int(duration * 1000)}ms"] if count is None else [f"-n{count}"]
    cmd.append(url)
    bound = (duration if count is None else 60) + 30
    rc, out = run_bounded(cmd, bound, cpu)
    return parse_h2load(out), out, q(cmd), rc


def measure(server, url, a, conns, streams, extra, count=None):
    """Warm-up run, then the measured run with the server's CPU read around it."""
    h2load(url, conns, streams, a.warmup, None, extra, a.client_cpu)
    time.sleep(a.pause)
    pids = server.pids()
    c0, n0, t0 = cpu_ticks(pids), sched_ns(pids), time.time()
    r, out, cmd, rc = h2load(url, conns, streams, a.duration, count, extra, a.client_cpu)
    c1, n1, t1 = cpu_ticks(pids), sched_ns(pids), time.time()
    if r is None:
        return None, out, cmd
    r["srv_cpu_s"] = (c1 - c0) / CLK_TCK
    r["srv_sched_s"] = (n1 - n0) / 1e9
    r["wall_s"] = t1 - t0
    r["rc"] = rc
    return r, out, cmd


# ---------------------------------------------------------------- idle client
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(ftype, flags, stream, payload=b""):
    return len(payload).to_bytes(3, "big") + bytes([ftype, flags]) + stream.to_bytes(4, "big") + payload


def idle_client(port, n, with_request, hold_s, inflight=200):
    """Child process: opens n HTTP/2 connections (preface + empty SETTINGS, our ack of the server's
    SETTINGS, one GET / answered in full unless --no-request), prints a READY line, then holds them
    until stdin closes or hold_s passes."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    auth = b"127.0.0.1"
    # HPACK: :method GET, :scheme http, :path /, :authority (literal, indexed name 1, no indexing)
    hdrs = bytes([0x82, 0x86, 0x84, 0x01, len(auth)]) + auth
    hello = PREFACE + frame(4, 0, 0)
    if with_request:
        hello += frame(1, 0x5, 1, hdrs)  # HEADERS END_STREAM|END_HEADERS
    sel = selectors.DefaultSelector()
    state = {}  # sock -> dict
    ok = failed = started = 0
    deadline = time.time() + 60

    def fail(s):
        nonlocal failed
        failed += 1
        try:
            sel.unregister(s)
        except (KeyError, ValueError):
            pass
        s.close()
        state.pop(s, None)

    pending = 0
    while (started < n or pending) and time.time() < deadline:
        while started < n and pending < inflight:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                s.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            except OSError:
                s.close()
                failed += 1
                started += 1
                continue
            state[s] = {"out": hello, "in": b"", "settings": False, "acked": False, "done": not with_request}
            sel.register(s, selectors.EVENT_WRITE | selectors.EVENT_READ)
            started += 1
            pending += 1
        for key, ev in sel.select(timeout=0.5):
            s = key.fileobj
            st = state.get(s)
            if st is None:
                continue
            try:
                if ev & selectors.EVENT_WRITE and st["out"]:
                    k = s.send(st["out"])
                    st["out"] = st["out"][k:]
                if ev & selectors.EVENT_READ:
                    data = s.recv(65536)
                    if not data:
                        raise OSError("closed")
                    st["in"] += data
                    buf = st["in"]
                    while len(buf) >= 9:
                        ln = int.from_bytes(buf[:3], "big")
                        if len(buf) < 9 + ln:
                            break
                        ft, fl, sid = buf[3], buf[4], int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
                        if ft == 4 and not fl & 1:
                            st["settings"] = True
                            st["out"] += frame(4, 1, 0)  # SETTINGS ack
                        elif ft in (0, 1) and sid == 1 and fl & 1:
                            st["done"] = True
                        elif ft in (3, 7):  # RST_STREAM, GOAWAY
                            raise OSError(f"frame type {ft}")
                        elif ft == 6 and not fl & 1:  # PING: answer it
                            st["out"] += frame(6, 1, 0, buf[9:9 + ln])
                        buf = buf[9 + ln:]
                    st["in"] = buf
            except OSError:
                fail(s)
                pending -= 1
                continue
            if st["settings"] and st["done"] and not st["out"] and not st.get("ready"):
                st["ready"] = True
                ok += 1
                pending -= 1
                sel.modify(s, selectors.EVENT_READ)
            elif st["out"]:
                sel.modify(s, selectors.EVENT_WRITE | selectors.EVENT_READ)
            else:
                sel.modify(s, selectors.EVENT_READ)
    print(f"READY ok={ok} failed={failed + pending} started={started}", flush=True)
    # hold: keep reading (answer PINGs), until stdin closes or hold_s passes
    sel.register(0, selectors.EVENT_READ)
    end = time.time() + hold_s
    lost = 0
    while time.time() < end:
        for key, ev in sel.select(timeout=1):
            if key.fileobj == 0:
                if not os.read(0, 4096):
                    end = 0
                    sel.unregister(0)
                continue
            s = key.fileobj
            try:
                if not s.recv(65536):
                    raise OSError
            except BlockingIOError:
                pass
            except OSError:
                lost += 1
                sel.unregister(s)
                s.close()
    print(f"DONE lost={lost}", flush=True)
    for s in list(state):
        s.close()
    return 0


def idle_measure(server, a, work):
    """Pss of the server's processes before and after opening a.idle_conns connections."""
    # one small warm-up so lazy start-up allocations are in "before"
    h2load(f"http://127.0.0.1:{server.port}/", 4, 10, None, 400, [], a.client_cpu)
    time.sleep(1.0)
    pids = server.pids()
    before = pss_bytes(pids)
    per = [a.idle_conns // a.idle_procs + (1 if i < a.idle_conns % a.idle_procs else 0) for i in range(a.idle_procs)]
    kids = []
    t0 = time.time()
    try:
        for k in per:
            cmd = ["taskset", "-c", str(a.client_cpu), sys.executable, os.path.abspath(__file__), "--idle-client",
                   str(server.port), str(k), "0" if a.idle_no_request else "1", "120"]
            kids.append(subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                         start_new_session=True))
        ok = failed = 0
        notes = []
        for p in kids:
            line = b""
            end = time.time() + 90
            while time.time() < end:
                line = p.stdout.readline()
                if not line or line.startswith(b"READY"):
                    break
                notes.append(line.decode(errors="replace").strip())
            m = re.search(rb"ok=(\d+) failed=(\d+)", line or b"")
            if m:
                ok += int(m.group(1))
                failed += int(m.group(2))
            else:
                failed += per[kids.index(p)]
                notes.append(f"client {p.pid}: no READY")
        opened_s = time.time() - t0
        time.sleep(a.idle_settle)
        pids = server.pids()
        after = pss_bytes(pids)
    finally:
        lost = 0
        for p in kids:
            try:
                p.stdin.close()
            except OSError:
                pass
        for p in kids:
            try:
                p.wait(timeout=30)
                m = re.search(rb"DONE lost=(\d+)", p.stdout.read())
                lost += int(m.group(1)) if m else 0
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
    return dict(ok=ok, failed=failed, lost=lost, before=before, after=after, open_s=opened_s,
                per_conn=(after - before) / ok if ok else float("nan"), notes=notes)


# ---------------------------------------------------------------- summaries
def med(xs):
    xs = [x for x in xs if x == x]
    return statistics.median(xs) if xs else float("nan")


def load_table(rows, scenario, names, ref):
    by = {}
    for r in rows:
        if r["scenario"] == scenario:
            by.setdefault(r["server"], {})[r["round"]] = r
    if not by:
        return ""
    lines = [f"| server | req/s (median) | server CPU µs/req (median, min–max) | ratio CPU/req vs {ref} "
             f"(median of per-round) | failed+errored | protocol | n |",
             "|---|---:|---:|---:|---:|---|---:|"]
    for name in names:
        rs = by.get(name)
        if not rs:
            continue
        us = [x["cpu_us_per_req"] for x in rs.values()]
        ratios = [rs[k]["cpu_us_per_req"] / by[ref][k]["cpu_us_per_req"] for k in rs
                  if ref in by and k in by[ref] and by[ref][k]["cpu_us_per_req"] > 0]
        bad = sum(x["failed"] + x["errored"] for x in rs.values())
        flag = " **FAILED REQUESTS**" if bad else ""
        lines.append(f"| {name}{flag} | {med(x['rps'] for x in rs.values()):,.0f} | {med(us):.2f} "
                     f"({min(us):.2f}–{max(us):.2f}) | {med(ratios) if ratios else float('nan'):.3f} | {bad} | "
                     f"{sorted({x['proto'] for x in rs.values()})[0]} | {len(rs)} |")
    return "\n".join(lines) + "\n"


def download_table(rows, names):
    out = []
    for name in names:
        by = {}
        for r in rows:
            if r["scenario"] == "download" and r["server"] == name:
                by.setdefault(r["mode"], {})[r["round"]] = r
        if not by:
            continue
        out.append(f"\n{name}:\n")
        out.append("| mode | MiB/s (median) | server CPU µs/MiB (median, min–max) | ratio h2 / h1 (median of per-round) "
                   "| failed+errored | n |")
        out.append("|---|---:|---:|---:|---:|---:|")
        for mode, path, _ in DOWNLOADS:
            rs = by.get(mode)
            if not rs:
                continue
            us = [x["cpu_us_per_mib"] for x in rs.values()]
            ratio = ""
            if mode.endswith("-h2"):
                h1 = by.get(mode[:-3] + "-h1", {})
                rr = [rs[k]["cpu_us_per_mib"] / h1[k]["cpu_us_per_mib"] for k in rs if k in h1 and h1[k]["cpu_us_per_mib"] > 0]
                ratio = f"**{med(rr):.3f}** ({min(rr):.3f}–{max(rr):.3f})" if rr else "n/a"
            bad = sum(x["failed"] + x["errored"] for x in rs.values())
            out.append(f"| {mode} `{path}`{' **FAILED REQUESTS**' if bad else ''} | "
                       f"{med(x['mib_s'] for x in rs.values()):,.0f} | {med(us):.1f} ({min(us):.1f}–{max(us):.1f}) | "
                       f"{ratio} | {bad} | {len(rs)} |")
    return "\n".join(out) + "\n"


def idle_table(rows, names):
    by = {}
    for r in rows:
        if r["scenario"] == "idle":
            by.setdefault(r["server"], []).append(r)
    if not by:
        return ""
    lines = ["| server | Pss per connection, bytes (median, min–max) | Pss before → after, MB (median) "
             "| connections ok / failed / lost while held | n |", "|---|---:|---:|---:|---:|"]
    for name in names:
        rs = by.get(name)
        if not rs:
            continue
        pc = [x["pss_per_conn"] for x in rs]
        lines.append(f"| {name} | {med(pc):,.0f} ({min(pc):,.0f}–{max(pc):,.0f}) | "
                     f"{med(x['pss_before'] for x in rs) / 1e6:.1f} → {med(x['pss_after'] for x in rs) / 1e6:.1f} | "
                     f"{sum(x['requests'] for x in rs)} / {sum(x['failed'] for x in rs)} / "
                     f"{sum(x['errored'] for x in rs)} | {len(rs)} |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- main
CSV_COLS = ["round", "scenario", "mode", "server", "url", "proto", "requests", "failed", "errored", "secs",
            "rps", "srv_cpu_s", "srv_sched_s", "cpu_us_per_req", "mib_s", "cpu_us_per_mib", "pss_before",
            "pss_after", "pss_per_conn"]


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--idle-client":
        port, n, req, hold = sys.argv[2:6]
        return idle_client(int(port), int(n), req == "1", float(hold))
    ap = argparse.ArgumentParser(description="Interleaved HTTP/2 benchmark: prefork-server vs h2o and nginx.")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=5, help="seconds per measured h2load run (default 5)")
    ap.add_argument("--warmup", type=float, default=1, help="seconds of warm-up before each (default 1)")
    ap.add_argument("--pause", type=float, default=0.3)
    ap.add_argument("--scenarios", default=",".join(ALL_SCENARIOS))
    ap.add_argument("--ours", default=OURS, help=f"our binary (default {OURS})")
    ap.add_argument("--base", help="a second binary of ours, reported as 'base' (regressions)")
    ap.add_argument("--peers", default="h2o,nginx", help="comma-separated, of h2o,nginx (default both)")
    ap.add_argument("--download-n", type=int, default=None,
                    help="download: a fixed count of 1 MiB requests per run instead of --duration")
    ap.add_argument("--idle-conns", type=int, default=10000)
    ap.add_argument("--idle-procs", type=int, default=4, help="client processes for idle (default 4)")
    ap.add_argument("--idle-servers", default="ours,base,nginx", help="of ours,base,nginx,h2o")
    ap.add_argument("--idle-settle", type=float, default=2.0)
    ap.add_argument("--idle-no-request", action="store_true", help="idle: no GET / on each connection")
    ap.add_argument("--server-cpu", type=int, default=1)
    ap.add_argument("--client-cpu", type=int, default=0)
    ap.add_argument("--base-port", type=int, default=64100)
    ap.add_argument("--out", default=time.strftime("/tmp/h2-bench-%Y%m%d-%H%M%S"))
    a = ap.parse_args()
    scenarios = [s for s in a.scenarios.split(",") if s]
    for s in scenarios:
        if s not in ALL_SCENARIOS:
            raise SystemExit(f"unknown scenario {s}; known: {', '.join(ALL_SCENARIOS)}")
    if not (1 <= a.rounds <= 50 and 1 <= a.duration <= 120 and 0 < a.warmup <= 30):
        raise SystemExit("rounds 1..50, duration 1..120 s, warmup (0, 30] s")
    for b in [a.ours] + ([a.base] if a.base else []):
        if not os.access(b, os.X_OK):
            raise SystemExit(f"no binary at {b}")
    peers = [p for p in a.peers.split(",") if p]
    for p in peers:
        if p not in ("h2o", "nginx"):
            raise SystemExit(f"unknown peer {p}")
    os.makedirs(a.out, exist_ok=True)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    def on_signal(signum, frame_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    work = tempfile.mkdtemp(prefix="h2-bench-")
    cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
    rc, out = run_bounded(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                           "-nodes", "-subj", "/CN=localhost", "-days", "2", "-keyout", key, "-out", cert,
                           "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], 30)
    if rc != 0:
        raise SystemExit(f"openssl: {out}")
    root = os.path.join(work, "root")
    os.makedirs(root)
    with open(os.path.join(root, "big.bin"), "wb") as f:
        f.write(os.urandom(MIB))

    # copies of the binaries: a rebuild of target/release during the run changes nothing
    bins = {}
    for name, b in (("ours", a.ours), ("base", a.base)):
        if b:
            bins[name] = os.path.join(work, f"prefork-server-{name}")
            shutil.copy2(b, bins[name])
    ours = [Server("ours", "ours", bins["ours"])] + ([Server("base", "ours", bins["base"])] if a.base else [])
    servers = ours + [Server(p, p) for p in peers]
    names = [s.name for s in servers]
    ports = {s.name: (a.base_port + 10 * i, a.base_port + 10 * i + 1) for i, s in enumerate(servers)}
    loadavg0 = os.getloadavg()
    meta = [
        f"date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}",
        f"host: {os.uname().release}, {os.cpu_count()} cpus, loadavg at start {loadavg0}",
        f"h2load: {run_bounded(['h2load', '--version'], 10)[1].strip()}; "
        f"h2o: {run_bounded(['h2o', '--version'], 10)[1].splitlines()[0]}; "
        f"nginx: {run_bounded(['nginx', '-v'], 10)[1].strip()}",
        f"ours: {a.ours} ({time.strftime('%Y-%m-%d %H:%M', time.localtime(os.path.getmtime(a.ours)))}, "
        f"sha256 {hashlib.sha256(open(a.ours, 'rb').read()).hexdigest()[:12]})"
        + (f"; base: {a.base}" if a.base else ""),
        f"cmdline: {q([sys.executable.split('/')[-1]] + sys.argv)}",
        f"rounds={a.rounds} duration={a.duration}s warmup={a.warmup}s scenarios={scenarios} "
        f"server CPU {a.server_cpu}, client CPU {a.client_cpu}",
    ]
    for m in meta:
        log(m)
    rows, cmds = [], {}
    csvf = open(os.path.join(a.out, "runs.csv"), "w", newline="")
    cw = csv.DictWriter(csvf, CSV_COLS, extrasaction="ignore")
    cw.writeheader()
    h2log = open(os.path.join(a.out, "h2load.log"), "w")
    interrupted = False

    def record(row, out=None, cmd=None):
        rows.append(row)
        cw.writerow({k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in row.items()})
        csvf.flush()
        if out is not None:
            h2log.write(f"### r{row['round']} {row['scenario']} {row.get('mode', '')} {row['server']}: {cmd}\n{out}\n")
            h2log.flush()

    started = []
    try:
        load_sc = [s for s in scenarios if s in ("h2c", "h2tls")]
        if load_sc:
            for s in servers:
                s.start(*ports[s.name], a.server_cpu, work, cert, key)
                started.append(s)
                log(f"   started {s.name} :{s.port} (TLS :{s.tls_port}) pids {s.pids()}: {q(s.cmd)}")
                cmds[f"{s.name} server"] = q(s.cmd).replace(work, "$TMP")
        dl_servers = []
        if "download" in scenarios:
            for i, s in enumerate(ours):
                d = Server(s.name, "ours", s.binary)
                d.start(a.base_port + 100 + 10 * i, a.base_port + 101 + 10 * i, a.server_cpu, work, cert, key,
                        root=root, tag="-download")
                started.append(d)
                dl_servers.append(d)
                log(f"   started {d.name} (download) :{d.port} pids {d.pids()}: {q(d.cmd)}")
                cmds[f"{d.name} server (download)"] = q(d.cmd).replace(work, "$TMP")
        for rnd in range(a.rounds):
            order = servers if rnd % 2 == 0 else list(reversed(servers))
            for sc in scenarios:
                if sc in ("h2c", "h2tls"):
                    for s in order:
                        url = (f"http://127.0.0.1:{s.port}/" if sc == "h2c" else f"https://127.0.0.1:{s.tls_port}/")
                        r, out, cmd = measure(s, url, a, 100, 10, [])
                        cmds.setdefault(f"{sc} client", re.sub(r":\d+/", ":PORT/", cmd))
                        if r is None:
                            log(f"   !! h2load failed, {s.name} {sc}: {out[-600:]}")
                            continue
                        row = dict(round=rnd, scenario=sc, mode="", server=s.name, url=url, proto=r["proto"],
                                   requests=r["succeeded"], failed=r["failed"], errored=r["errored"],
                                   secs=r["secs"], rps=r["succeeded"] / r["secs"] if r["secs"] else 0.0,
                                   srv_cpu_s=r["srv_cpu_s"], srv_sched_s=r["srv_sched_s"],
                                   cpu_us_per_req=r["srv_cpu_s"] * 1e6 / r["succeeded"] if r["succeeded"] else float("inf"))
                        record(row, out, cmd)
                        bad = "  <-- FAILED" if r["failed"] or r["errored"] or r.get("non2xx") else ""
                        log(f"   r{rnd} {sc:6s} {s.name:6s} {row['rps']:>10,.0f} req/s  "
                            f"{row['cpu_us_per_req']:6.2f} µs/req (sched {r['srv_sched_s'] * 1e6 / max(1, r['succeeded']):6.2f})"
                            f"  {r['proto']}  failed {r['failed']} errored {r['errored']}{bad}")
                elif sc == "download":
                    dorder = dl_servers if rnd % 2 == 0 else list(reversed(dl_servers))
                    modes = DOWNLOADS if rnd % 2 == 0 else list(reversed(DOWNLOADS))
                    for s in dorder:
                        for mode, path, extra in modes:
                            url = f"http://127.0.0.1:{s.port}{path}"
                            r, out, cmd = measure(s, url, a, 1, 1, extra, a.download_n)
                            cmds.setdefault(f"download {mode} client", re.sub(r":\d+/", ":PORT/", cmd))
                            if r is None:
                                log(f"   !! h2load failed, {s.name} download {mode}: {out[-600:]}")
                                continue
                            # data bytes h2load received: the completed bodies plus, in duration mode,
                            # part of the one in flight when time was up (the server's work too)
                            data = r.get("bytes_data", 0)
                            mib = data / MIB
                            bad_size = not (r["succeeded"] * MIB <= data <= (r["succeeded"] + 1) * MIB)
                            row = dict(round=rnd, scenario="download", mode=mode, server=s.name, url=url,
                                       proto=r["proto"], requests=r["succeeded"], failed=r["failed"],
                                       errored=r["errored"] + (1 if bad_size else 0), secs=r["secs"],
                                       rps=r["succeeded"] / r["secs"] if r["secs"] else 0.0,
                                       srv_cpu_s=r["srv_cpu_s"], srv_sched_s=r["srv_sched_s"],
                                       mib_s=mib / r["secs"] if r["secs"] else 0.0,
                                       cpu_us_per_mib=r["srv_cpu_s"] * 1e6 / mib if mib else float("inf"))
                            record(row, out, cmd)
                            log(f"   r{rnd} dl {mode:9s} {s.name:5s} {row['mib_s']:>8,.0f} MiB/s  "
                                f"{row['cpu_us_per_mib']:7.1f} µs/MiB (sched {r['srv_sched_s'] * 1e6 / max(mib, 1e-9):7.1f})"
                                f"  {r['proto']}  failed {r['failed']} errored {r['errored']}"
                                f"{'  <-- body size wrong' if bad_size else ''}")
                elif sc == "idle":
                    want = [x for x in a.idle_servers.split(",") if x in names]
                    iorder = want if rnd % 2 == 0 else list(reversed(want))
                    for name in iorder:
                        kind = "ours" if name in ("ours", "base") else name
                        binary = next((s.binary for s in ours if s.name == name), None)
                        s = Server(name, kind, binary)
                        s.start(a.base_port + 200 + 10 * names.index(name), a.base_port + 201 + 10 * names.index(name), a.server_cpu, work, cert, key, tag="-idle")
                        started.append(s)
                        try:
                            m = idle_measure(s, a, work)
                        finally:
                            s.stop()
                            started.remove(s)
                        row = dict(round=rnd, scenario="idle", mode="", server=name, url=f"http://127.0.0.1:{s.port}/",
                                   proto="h2c", requests=m["ok"], failed=m["failed"], errored=m["lost"],
                                   pss_before=m["before"], pss_after=m["after"], pss_per_conn=m["per_conn"])
                        record(row)
                        log(f"   r{rnd} idle {name:6s} {m['ok']} ok {m['failed']} failed {m['lost']} lost in "
                            f"{m['open_s']:.1f} s; Pss {m['before'] / 1e6:.1f} → {m['after'] / 1e6:.1f} MB = "
                            f"{m['per_conn']:,.0f} B/conn {' '.join(m['notes'][:3])}")
                        cmds.setdefault("idle client", f"{a.idle_procs} x `bench.py --idle-client PORT "
                                        f"{a.idle_conns // a.idle_procs} {0 if a.idle_no_request else 1} 120`")
    except KeyboardInterrupt:
        interrupted = True
        log("interrupted; stopping servers")
    finally:
        for s in started:
            s.stop()
        csvf.close()
        h2log.close()
        shutil.rmtree(work, ignore_errors=True)

    meta.append(f"loadavg at end {os.getloadavg()}")
    ref = "ours"
    parts = ["\n".join(meta), "\ncommands (PORT = each server's port, $TMP the run's temp dir):\n"
             + "\n".join(f"- {k}: `{v}`" for k, v in cmds.items())]
    for sc in scenarios:
        if sc in ("h2c", "h2tls"):
            t = load_table(rows, sc, names, ref)
            if t:
                parts.append(f"\n### {sc}: `GET /` (13 bytes), 100 connections x 10 streams, "
                             f"{'TLS 1.3 + ALPN h2' if sc == 'h2tls' else 'h2c prior knowledge'}\n\n{t}")
        elif sc == "download":
            t = download_table(rows, [s.name for s in ours])
            if t.strip():
                parts.append("\n### download: 1 MiB over one connection, one request at a time "
                             "(HTTP/2 -m1 vs HTTP/1.1 --h1), ours only\n" + t)
        elif sc == "idle":
            t = idle_table(rows, [n for n in a.idle_servers.split(",") if n in names])
            if t:
                parts.append(f"\n### idle: {a.idle_conns:,} idle HTTP/2 connections, Pss per connection "
                             f"(every server process, smaps_rollup)\n\n{t}")
    summary = "\n".join(parts) + "\n"
    with open(os.path.join(a.out, "summary.md"), "w") as f:
        f.write(summary)
    print(summary)
    log(f"results: {a.out}/summary.md  raw: {a.out}/runs.csv  {a.out}/h2load.log")
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
