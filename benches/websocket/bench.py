#!/usr/bin/env python3
"""WebSocket echo benchmark (issue 24): prefork-server's CPU per echoed message against the
fastest echo peers built here, interleaved round by round in ONE run, 127.0.0.1 only.

Servers (each one worker / one process, pinned with taskset to --server-cpu; the load client
ws-load to --client-cpu):
  default:    ours (prefork-server), fastwebsockets (hyper 1 + tokio, with a write-coalescing
              layer; peer `fastwebsockets-plain` is it as it comes, one write per echoed frame)
              and yawc (hyper 1 + tokio, feed + flush when idle), no compression.
  --deflate:  ours, yawc with permessage-deflate and node's `ws` with permessage-deflate (both
              threshold 0, no context takeover both ways, level 6); the client offers
              permessage-deflate and compresses every message.
Scenarios: small = 100 connections x 10 messages in flight x 32-byte text;
           large = 4 connections x 1 in flight x 1 MiB binary.
Measured: the server's CPU (utime+stime of every process in its process group, from /proc,
master and worker children for ours, all threads for the peers) over the client's measured
interval (ws-load prints START/END; the warm-up before START is not counted), and the messages
echoed (each one checked against what was sent: mismatches must be 0).
Reported per scenario: medians over rounds of server µs CPU per echoed message, messages/s,
MB echoed per server CPU-second, and the median of the per-round ratios ours/peer.

Everything it builds goes to /tmp/ws-bench (sources copied from this directory); it stops every
process it started (by process-group id), and bounds each run (warm-up + duration + 30 s).
usage: python3 benches/websocket/bench.py [--rounds 5] [--duration 6] [--warmup 1.5]
       [--deflate] [--peers a,b] [--scenarios small,large] [--ours PATH] [--out DIR]
"""
import argparse
import filecmp
import os
import re
import select
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
BUILD = "/tmp/ws-bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")
BASELINE = "/work/baseline/prefork-server-ws2"

SCENARIOS = {
    # name: (connections, window, size, binary, description)
    "small": (100, 10, 32, False, "100 conns x window 10, 32 B text"),
    "large": (4, 1, 1 << 20, True, "4 conns x window 1, 1 MiB binary"),
}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def q(cmd):
    return " ".join(shlex.quote(c) for c in cmd)


# ---------------------------------------------------------------- building
def sync_tree(src, dst):
    """Copies src's files (not node_modules/target) into dst when they differ."""
    for root, dirs, files in os.walk(src):
        dirs[:] = [d for d in dirs if d not in ("target", "node_modules")]
        rel = os.path.relpath(root, src)
        os.makedirs(os.path.join(dst, rel), exist_ok=True)
        for f in files:
            s, d = os.path.join(root, f), os.path.join(dst, rel, f)
            if not os.path.exists(d) or not filecmp.cmp(s, d, shallow=False):
                shutil.copy2(s, d)


def cargo_build(name, src, binary):
    dst = os.path.join(BUILD, name)
    sync_tree(src, dst)
    exe = os.path.join(dst, "target", "release", binary)
    log(f"== cargo build --release in {dst}")
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=dst, check=True, timeout=1800)
    return exe


def npm_install(name, src):
    dst = os.path.join(BUILD, name)
    changed = not os.path.exists(os.path.join(dst, "package.json")) or not filecmp.cmp(
        os.path.join(src, "package.json"), os.path.join(dst, "package.json"), shallow=False)
    sync_tree(src, dst)
    if changed or not os.path.isdir(os.path.join(dst, "node_modules", "ws")):
        log(f"== npm install in {dst}")
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent"], cwd=dst, check=True,
                       timeout=600)
    return dst


def ours_binary(path):
    if path:
        return path
    if os.path.exists(BASELINE):
        return BASELINE
    exe = os.path.join(TOP, "target", "release", "prefork-server")
    if not os.path.exists(exe):
        log(f"== cargo build --release in {TOP}")
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=TOP, check=True, timeout=3600)
    return exe


# ---------------------------------------------------------------- processes
def proc_stat(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()
    # rest[0]=state rest[1]=ppid rest[2]=pgrp rest[11]=utime rest[12]=stime (whole thread group)
    return int(rest[1]), int(rest[2]), int(rest[11]) + int(rest[12]), rest[0]


def group_pids(pgid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = proc_stat(int(d))
            if st and st[1] == pgid and st[3] != "Z":
                out.append(int(d))
    return out


def cpu_ticks(pids):
    return sum((proc_stat(p) or (0, 0, 0))[2] for p in pids)


def http_answers(port, timeout=0.5):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            s.settimeout(timeout)
            return s.recv(64).startswith(b"HTTP/1.1 ")
    except OSError:
        return False


def ws_received(port):
    """ours only: prefork_websocket_messages_total{direction="received"} summed over workers."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            s.settimeout(2)
            data = b""
            while True:
                b = s.recv(65536)
                if not b:
                    break
                data += b
    except OSError:
        return None
    vals = re.findall(rb'prefork_websocket_messages_total\{[^}]*direction="received"[^}]*\} (\d+)', data)
    return sum(int(v) for v in vals) if vals else None


class Server:
    def __init__(self, name, cmd, desc, is_ours=False):
        self.name, self.template, self.desc, self.is_ours = name, cmd, desc, is_ours
        self.popen, self.port, self.cmd, self.logpath = None, None, None, None

    def start(self, port, cpu, outdir):
        self.port = port
        self.cmd = ["taskset", "-c", str(cpu)] + [c.replace("{PORT}", str(port)) for c in self.template]
        self.logpath = os.path.join(outdir, f"server-{self.name}.log")
        lf = open(self.logpath, "w")
        # its own session / process group: measured and stopped by that group's id
        self.popen = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=lf, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        lf.close()
        deadline = time.time() + 30
        while time.time() < deadline:
            if http_answers(port):
                return
            if self.popen.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer on :{port}; log {self.logpath}:\n"
                           + open(self.logpath).read()[-2000:])

    def pids(self):
        return group_pids(self.popen.pid) if self.popen else []

    def stop(self):
        if not self.popen:
            return
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
            if not group_pids(pgid):
                break
        self.popen = None


# ---------------------------------------------------------------- one measurement
def run_client(client, server, sc, a):
    conns, window, size, binary, _ = SCENARIOS[sc]
    cmd = ["taskset", "-c", str(a.client_cpu), client, "--port", str(server.port), "--conns", str(conns),
           "--window", str(window), "--size", str(size), "--warmup", str(a.warmup),
           "--duration", str(a.duration), "--threads", "1"]
    if binary:
        cmd.append("--binary")
    if a.deflate:
        cmd.append("--deflate")
    pids = server.pids()
    m0 = ws_received(server.port) if server.is_ours else None
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True)
    deadline = time.time() + a.warmup + a.duration + 30
    res, c0, t0, c1, t1, lines, buf = None, None, None, None, None, [], b""
    try:
        while time.time() < deadline and res is None:
            r, _, _ = select.select([p.stdout], [], [], 0.5)
            if not r:
                if p.poll() is not None:
                    break
                continue
            chunk = os.read(p.stdout.fileno(), 65536)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                line = line.decode(errors="replace")
                lines.append(line)
                if line == "START":
                    c0, t0 = cpu_ticks(pids), time.time()
                elif line.startswith("END WSRESULT"):
                    c1, t1 = cpu_ticks(pids), time.time()
                    res = {k: float(v) for k, v in (kv.split("=") for kv in line.split()[2:])}
        try:
            p.wait(timeout=max(1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            pass
    finally:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
    err = p.stderr.read().decode(errors="replace")
    if res is None or c0 is None:
        return None, "\n".join(lines) + "\n" + err, q(cmd)
    res["srv_cpu_s"] = (c1 - c0) / CLK_TCK
    res["srv_cores"] = res["srv_cpu_s"] / (t1 - t0)
    res["cli_cores"] = res["client_cpu_s"] / (res["duration_us"] / 1e6)
    res["ready"] = next((l for l in lines if l.startswith("READY")), "")
    if m0 is not None:
        m1 = ws_received(server.port)
        res["metrics_received"] = (m1 - m0) if m1 is not None else -1
    return res, err, q(cmd)


def us_per_msg(r):
    return r["srv_cpu_s"] / r["messages"] * 1e6 if r["messages"] > 0 else float("inf")


def mb_per_cpu_s(r):
    return r["bytes"] / 1e6 / r["srv_cpu_s"] if r["srv_cpu_s"] > 0 else float("inf")


def num(v):
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


def med_range(xs, fmt):
    xs = [x for x in xs if x == x]
    if not xs:
        return "n/a"
    return f"{fmt(statistics.median(xs))} ({fmt(min(xs))}–{fmt(max(xs))})"


def summarize(rows, servers, scenarios, a):
    base = servers[0].name
    out = []
    verdicts = []
    for sc in scenarios:
        out.append(f"\n### {sc}: {SCENARIOS[sc][4]}{', permessage-deflate' if a.deflate else ''}\n")
        out.append("| server | µs server CPU / msg, median (min–max) | msg/s | MB echoed / server CPU-s "
                   "| server CPU (cores) | client CPU (cores) | ratio CPU/msg ours/server, per-round median (min–max) "
                   "| ratio MB/CPU-s ours/server | mismatches | errors | n |")
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        by = {}
        for r in rows:
            if r["scenario"] == sc:
                by.setdefault(r["server"], {})[r["round"]] = r
        for s in servers:
            rs = by.get(s.name, {})
            if not rs:
                continue
            b = by.get(base, {})
            cpu_ratio = [us_per_msg(b[k]) / us_per_msg(rs[k]) for k in rs if k in b and us_per_msg(rs[k]) > 0]
            mb_ratio = [mb_per_cpu_s(b[k]) / mb_per_cpu_s(rs[k]) for k in rs if k in b and mb_per_cpu_s(rs[k]) > 0]
            out.append(
                f"| {s.name} | {med_range([us_per_msg(x) for x in rs.values()], num)} "
                f"| {med_range([x['msg_per_s'] for x in rs.values()], lambda v: f'{v:,.0f}')} "
                f"| {med_range([mb_per_cpu_s(x) for x in rs.values()], lambda v: f'{v:,.1f}')} "
                f"| {statistics.median(x['srv_cores'] for x in rs.values()):.2f} "
                f"| {statistics.median(x['cli_cores'] for x in rs.values()):.2f} "
                f"| {med_range(cpu_ratio, lambda v: f'{v:.3f}') if s.name != base else '—'} "
                f"| {med_range(mb_ratio, lambda v: f'{v:.3f}') if s.name != base else '—'} "
                f"| {int(sum(x['mismatches'] for x in rs.values()))} | {int(sum(x['errors_total'] for x in rs.values()))} "
                f"| {len(rs)} |")
        # the target is against the best peer of the run (least CPU per message / most MB per CPU-s)
        b = by.get(base, {})
        cands = [(n, rs) for n, rs in by.items() if n != base and rs]
        if b and cands:
            dfl = " deflate" if a.deflate else ""
            if sc == "small":
                best, rs = min(cands, key=lambda c: statistics.median(us_per_msg(x) for x in c[1].values()))
                rat = [us_per_msg(b[k]) / us_per_msg(rs[k]) for k in rs if k in b and us_per_msg(rs[k]) > 0]
                r = statistics.median(rat)
                verdicts.append(f"- {sc}{dfl}: server CPU per message ours/{best} (the best peer) = {r:.3f} "
                                f"(per-round {min(rat):.3f}–{max(rat):.3f}; target ≤ 0.5): "
                                + ("MET" if r <= 0.5 else f"MISSED: {r / 0.5:.2f}x the target"))
            else:
                best, rs = max(cands, key=lambda c: statistics.median(mb_per_cpu_s(x) for x in c[1].values()))
                rat = [mb_per_cpu_s(b[k]) / mb_per_cpu_s(rs[k]) for k in rs if k in b and mb_per_cpu_s(rs[k]) > 0]
                r = statistics.median(rat)
                verdicts.append(f"- {sc}{dfl}: MB echoed per server CPU-second ours/{best} (the best peer) = {r:.3f} "
                                f"(per-round {min(rat):.3f}–{max(rat):.3f}; target ≥ 1.0): "
                                + ("MET" if r >= 1.0 else f"MISSED by {(1 - r) * 100:.0f}%"))
    out.append("\ntargets (issue 24):")
    out.extend(verdicts)
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=float, default=6.0, help="measured seconds per run (default 6)")
    ap.add_argument("--warmup", type=float, default=1.5, help="seconds before the measured interval (default 1.5)")
    ap.add_argument("--deflate", action="store_true", help="permessage-deflate: ours vs node ws")
    ap.add_argument("--peers", default=None,
                    help="comma-separated peers: fastwebsockets, fastwebsockets-plain, yawc, node-ws "
                         "(default fastwebsockets,yawc; with --deflate yawc,node-ws)")
    ap.add_argument("--scenarios", default="small,large")
    ap.add_argument("--ours", default=None, help=f"prefork-server binary (default {BASELINE} if present, "
                    "else target/release/prefork-server, built if missing)")
    ap.add_argument("--server-cpu", type=int, default=1)
    ap.add_argument("--client-cpu", type=int, default=0)
    ap.add_argument("--base-port", type=int, default=65300)
    ap.add_argument("--pause", type=float, default=0.3, help="seconds between runs")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    scenarios = [s for s in a.scenarios.split(",") if s]
    for s in scenarios:
        if s not in SCENARIOS:
            raise SystemExit(f"unknown scenario {s}; known: {', '.join(SCENARIOS)}")
    if not (1 <= a.rounds <= 50 and 0.5 <= a.duration <= 120 and 0 <= a.warmup <= 60):
        raise SystemExit("rounds 1..50, duration 0.5..120 s, warmup 0..60 s")
    out = a.out or time.strftime(f"{BUILD}/run-%Y%m%d-%H%M%S{'-deflate' if a.deflate else ''}")
    os.makedirs(out, exist_ok=True)

    t_start = time.time()
    client = cargo_build("ws-load", os.path.join(HERE, "client"), "ws-load")
    ours = ours_binary(a.ours)
    ours_cmd = [ours, "--bind", "127.0.0.1", "--port", "{PORT}", "--workers", "1", "--ws-ping-interval", "0",
                "--memory-budget", "256m", "--ws-max-message", "16m"]
    servers = [Server("ours", ours_cmd, f"prefork-server ({ours}), --workers 1 (master + 1 worker)", is_ours=True)]
    peers = [p for p in (a.peers or ("yawc,node-ws" if a.deflate else "fastwebsockets,yawc")).split(",") if p]
    for name in peers:
        if name in ("fastwebsockets", "fastwebsockets-plain"):
            if a.deflate:
                raise SystemExit("fastwebsockets has no permessage-deflate")
            fws = cargo_build("peer-fastwebsockets", os.path.join(HERE, "peers", "fastwebsockets"),
                              "peer-fastwebsockets")
            mode = "plain" if name.endswith("-plain") else "batched"
            servers.append(Server(name, [fws, "{PORT}", "1", mode],
                                  "fastwebsockets 0.10 + hyper 1 + tokio current_thread, 1 worker, "
                                  + ("one write(2) per echoed frame" if mode == "plain"
                                     else "writes coalesced until the connection has nothing to read")))
        elif name == "yawc":
            y = cargo_build("peer-yawc", os.path.join(HERE, "peers", "yawc"), "peer-yawc")
            mode = "deflate" if a.deflate else "plain"
            servers.append(Server(name, [y, "{PORT}", "1", mode],
                                  "yawc 0.5 + hyper 1 + tokio current_thread, 1 worker, feed + flush when idle"
                                  + (", permessage-deflate level 6, no context takeover, threshold 0, "
                                     "flate2/zlib-rs" if a.deflate else ", no compression")))
        elif name == "node-ws":
            node_dir = npm_install("peer-node-ws", os.path.join(HERE, "peers", "node-ws"))
            mode = "deflate" if a.deflate else "plain"
            servers.append(Server(name, ["node", os.path.join(node_dir, "server.js"), "{PORT}", "1", mode],
                                  f"node {subprocess.run(['node', '--version'], capture_output=True, text=True).stdout.strip()} "
                                  "ws 8.23.1 + bufferutil, one process"
                                  + (", perMessageDeflate threshold 0, no context takeover both ways, level 6"
                                     if a.deflate else ", no compression")))
        else:
            raise SystemExit(f"unknown peer {name}; known: fastwebsockets, fastwebsockets-plain, yawc, node-ws")

    meta = [
        f"cmdline: {q([sys.executable] + sys.argv)}",
        f"date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}",
        f"host: {os.uname().release}, {os.cpu_count()} cpus, loadavg {os.getloadavg()}",
        f"rounds={a.rounds} warmup={a.warmup}s duration={a.duration}s scenarios={scenarios} "
        f"deflate={a.deflate} server cpu={a.server_cpu} client cpu={a.client_cpu}",
    ]
    for m in meta:
        log(m)
    rows, cmds = [], {}
    tsv = open(os.path.join(out, "runs.tsv"), "w")
    cols = ["round", "scenario", "server", "messages", "bytes", "msg_per_s", "srv_cpu_s", "srv_cores",
            "cli_cores", "us_per_msg", "mb_per_cpu_s", "mismatches", "errors_total", "compressed",
            "metrics_received"]
    tsv.write("\t".join(cols) + "\n")
    stop_flag = []

    def on_signal(signum, frame):
        stop_flag.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        for i, s in enumerate(servers):
            s.start(a.base_port + i, a.server_cpu, out)
            cmds[f"server {s.name}"] = q(s.cmd)
            log(f"   started {s.name} on :{s.port} pids {s.pids()}: {q(s.cmd)}")
        for rnd in range(a.rounds):
            order = servers if rnd % 2 == 0 else list(reversed(servers))
            for sc in scenarios:
                for s in order:
                    time.sleep(a.pause)
                    r, err, ccmd = run_client(client, s, sc, a)
                    cmds.setdefault(f"client {sc}", ccmd.replace(f"--port {s.port}", "--port PORT"))
                    if r is None:
                        log(f"   !! r{rnd} {sc} {s.name}: client failed:\n{err[-1500:]}")
                        continue
                    if err.strip():
                        log(f"   client stderr ({s.name} {sc}): {err.strip()[-500:]}")
                    row = dict(round=rnd, scenario=sc, server=s.name, us_per_msg=us_per_msg(r),
                               mb_per_cpu_s=mb_per_cpu_s(r), **r)
                    row.setdefault("metrics_received", "")
                    rows.append(row)
                    tsv.write("\t".join(f"{row.get(c, '')}" for c in cols) + "\n")
                    tsv.flush()
                    extra = (f" metrics_received={int(row['metrics_received'])}"
                             if row["metrics_received"] != "" else "")
                    log(f"   r{rnd} {sc:5s} {s.name:20s} {r['msg_per_s']:>11,.0f} msg/s  "
                        f"{us_per_msg(r):8.3f} µs CPU/msg  {mb_per_cpu_s(r):9.1f} MB/CPU-s  "
                        f"srv {r['srv_cores']:.2f} cli {r['cli_cores']:.2f} cores  "
                        f"mism {int(r['mismatches'])} err {int(r['errors_total'])} "
                        f"compressed {int(r['compressed'])}{extra}")
    except KeyboardInterrupt:
        log("interrupted")
    finally:
        for s in servers:
            s.stop()
        tsv.close()
    meta.append(f"loadavg at the end {os.getloadavg()}")
    summary = "\n".join(meta) + f"\nwall time: {time.time() - t_start:.0f} s\n\nservers:\n" + "\n".join(
        f"- {s.name}: {s.desc}" for s in servers) + "\n\ncommands (PORT = each server's port):\n" + "\n".join(
        f"- {k}: `{v}`" for k, v in cmds.items()) + "\n" + summarize(rows, servers, scenarios, a)
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write(summary)
    print(summary)
    log(f"raw: {out}/runs.tsv  {out}/summary.md")
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
