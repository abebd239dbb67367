#!/usr/bin/env python3
"""Rolling restarts behind a real load balancer lose nothing.

Three instances, each in a network namespace of its own joined by veth pairs to a bridge
(addresses that exist only inside namespaces this script creates and removes, so no packet
leaves the machine), behind HAProxy (active health checks on /healthz every 200 ms,
send-proxy-v2, retries 0) or nginx (stream proxy with the PROXY protocol, passive checks
only). wrk runs through the balancer the whole time while the script, one instance at a
time, stops one gracefully (SIGTERM: /healthz turns 503 for --drain-delay, the balancer takes
it out, in-flight requests finish) and starts it again, reloads another (SIGHUP) and upgrades
the third (SIGUSR2). It prints requests, non-2xx answers and socket errors, and checks that
each instance's access log shows the client's address, not the balancer's.

With --tls the instances serve HTTPS on their port and the balancer passes the TLS stream
through untouched (HAProxy in TCP mode, its health checks over TLS with check-ssl; nginx's
stream proxy as before), the PROXY header in front of it; wrk speaks https.

Needs root (ip netns), wrk, and haproxy and/or nginx with its stream module. Where namespaces
are refused it falls back to 127.0.0.2-4 and says so. Exit status: 0 when every run lost
nothing, 1 when one did, 2 for a setup problem, 77 when a tool is missing (skipped).

    benches/balancer.py [--balancer haproxy|nginx|both] [--duration 30] [--binary PATH] [--tls]
"""

import argparse
import os
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time

SKIP = 77
PORT = 8080
# (certificate, key) the instances serve HTTPS with, under --tls.
TLS = None


def log(msg):
    print(msg, flush=True)


class Net:
    """The bridge and the instances' namespaces (or loopback addresses as a fallback)."""

    def __init__(self):
        tag = os.getpid() % 200 + 20
        self.subnet = f"10.77.{tag}"
        self.bridge = f"pfbr{tag}"
        self.names = [f"pf{tag}b{i}" for i in (1, 2, 3)]
        self.namespaces = False
        self.created = []

    def up(self):
        try:
            self._sh(f"ip link add {self.bridge} type bridge")
            self.created.append(("link", self.bridge))
            self._sh(f"ip addr add {self.subnet}.1/24 dev {self.bridge}")
            self._sh(f"ip link set {self.bridge} up")
            for i, ns in enumerate(self.names, 1):
                self._sh(f"ip netns add {ns}")
                self.created.append(("netns", ns))
                veth = f"{ns}v"
                self._sh(f"ip link add {veth} type veth peer name eth0 netns {ns}")
                self._sh(f"ip link set {veth} master {self.bridge} up")
                self._sh(f"ip -n {ns} addr add {self.subnet}.{10 + i}/24 dev eth0")
                self._sh(f"ip -n {ns} link set eth0 up")
                self._sh(f"ip -n {ns} link set lo up")
            self.namespaces = True
            log(f"network: namespaces {', '.join(self.names)} on bridge {self.bridge} "
                f"({self.subnet}.0/24; the balancer is {self.balancer_addr()})")
        except subprocess.CalledProcessError as e:
            self.down()
            log(f"network: namespaces refused ({e.cmd}): falling back to 127.0.0.2-4, where "
                "the instances see the balancer and the client at the same address")

    def down(self):
        for kind, name in reversed(self.created):
            subprocess.run(["ip", kind, "del", name], capture_output=True)
        self.created = []

    def balancer_addr(self):
        return f"{self.subnet}.1" if self.namespaces else "127.0.0.1"

    def addr(self, i):
        return f"{self.subnet}.{11 + i}" if self.namespaces else f"127.0.0.{2 + i}"

    def wrap(self, i, argv):
        return ["ip", "netns", "exec", self.names[i]] + argv if self.namespaces else argv

    @staticmethod
    def _sh(cmd):
        subprocess.run(cmd.split(), check=True, capture_output=True, text=True)


def proxy_v2_header(src, dst, dport):
    """A PROXY protocol v2 header (PROXY, TCP over IPv4) naming src as the client."""
    sig = b"\r\n\r\n\x00\r\nQUIT\n"
    addrs = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!HH", 40000, dport)
    return sig + bytes([0x21, 0x11]) + struct.pack("!H", len(addrs)) + addrs


class Instance:
    def __init__(self, net, i, binary, workdir, proxy, drain_delay):
        self.net, self.i, self.binary, self.proxy = net, i, binary, proxy
        self.drain_delay = drain_delay
        self.name = f"b{i + 1}"
        self.access_log = os.path.join(workdir, f"{self.name}-access.log")
        self.stderr_path = os.path.join(workdir, f"{self.name}.log")
        self.pid_file = os.path.join(workdir, f"{self.name}.pid")
        self.procs = []

    def argv(self):
        argv = [self.binary, "--bind", self.net.addr(self.i), "--port", str(PORT),
                "--workers", "2", "--drain-delay", self.drain_delay, "--shutdown-timeout", "10s",
                "--access-log", self.access_log, "--pid-file", self.pid_file]
        if self.proxy:
            # HAProxy sends v2 (send-proxy-v2); nginx's stream proxy can send only v1.
            argv += ["--proxy-protocol", self.proxy,
                     "--trusted-proxies", f"{self.net.balancer_addr()}/32"]
        if TLS:
            argv += ["--tls-cert", TLS[0], "--tls-key", TLS[1]]
        return self.net.wrap(self.i, argv)

    def start(self):
        with open(self.stderr_path, "a") as err:
            self.procs.append(subprocess.Popen(self.argv(), stdout=subprocess.DEVNULL,
                                               stderr=err, start_new_session=True))
        self.wait_ready()

    def master_pid(self):
        try:
            with open(self.pid_file) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def healthz(self):
        """GET /healthz as the balancer sends it (with a PROXY header when the instance takes
        one); the status, or None."""
        try:
            with socket.create_connection((self.net.addr(self.i), PORT), timeout=1) as s:
                if self.proxy == "v2":
                    s.sendall(proxy_v2_header("127.0.0.1", self.net.addr(self.i), PORT))
                elif self.proxy == "v1":
                    s.sendall(f"PROXY TCP4 127.0.0.1 {self.net.addr(self.i)} 40000 {PORT}\r\n"
                              .encode())
                if TLS:
                    ctx = ssl.create_default_context()
                    ctx.check_hostname = False
                    ctx.verify_mode = ssl.CERT_NONE
                    s = ctx.wrap_socket(s)
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: check\r\nConnection: close\r\n\r\n")
                head = s.recv(64)
                m = re.match(rb"HTTP/1\.1 (\d{3})", head)
                return int(m.group(1)) if m else None
        except OSError:
            return None

    def wait_ready(self, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.healthz() == 200:
                return
            if self.procs and self.procs[-1].poll() not in (None, 0):
                break  # it exited at start (a usage error): no use waiting
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} not ready in {timeout}s; its log:\n"
                           + open(self.stderr_path).read()[-2000:])

    def wait_gone(self, pid, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for p in self.procs:
                p.poll()
            if not os.path.exists(f"/proc/{pid}") or is_zombie(pid):
                return
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} (pid {pid}) still running after {timeout}s")

    def stop_and_start(self):
        pid = self.master_pid()
        os.kill(pid, signal.SIGTERM)
        self.wait_gone(pid)
        time.sleep(0.5)
        self.start()

    def reload(self):
        os.kill(self.master_pid(), signal.SIGHUP)
        time.sleep(2)
        self.wait_ready()

    def upgrade(self):
        old = self.master_pid()
        os.kill(old, signal.SIGUSR2)
        deadline = time.time() + 20
        while self.master_pid() in (old, None) and time.time() < deadline:
            time.sleep(0.05)
        if self.master_pid() in (old, None):
            raise RuntimeError(f"{self.name}: no new master after SIGUSR2")
        self.wait_gone(old)
        self.wait_ready()

    def kill(self):
        pid = self.master_pid()
        for p in [pid] if pid else []:
            try:
                os.kill(p, signal.SIGINT)
            except ProcessLookupError:
                pass
        for p in self.procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()


def is_zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


def haproxy_config(net, listen_port, proxy):
    send = " send-proxy-v2 check-send-proxy" if proxy else ""
    # Under --tls, TCP mode: the TLS stream passes through, the checks speak TLS themselves.
    mode, reuse, check_ssl = ("tcp", "", " check-ssl verify none") if TLS else \
        ("http", "    http-reuse safe\n", "")
    servers = "\n".join(f"    server b{i + 1} {net.addr(i)}:{PORT}" for i in range(3))
    return f"""global
    maxconn 4096
defaults
    mode {mode}
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    retries 0
frontend fe
    bind 127.0.0.1:{listen_port}
    default_backend be
backend be
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
{reuse}    default-server check inter 200ms fall 1 rise 2{send}{check_ssl}
{servers}
"""


def nginx_config(net, listen_port, proxy, prefix):
    servers = "\n".join(f"        server {net.addr(i)}:{PORT} max_fails=1 fail_timeout=2s;"
                        for i in range(3))
    module = "/usr/lib/nginx/modules/ngx_stream_module.so"
    return f"""load_module {module};
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log notice;
events {{ worker_connections 4096; }}
stream {{
    upstream be {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{listen_port};
        proxy_pass be;
        proxy_protocol {'on' if proxy else 'off'};
        proxy_connect_timeout 2s;
    }}
}}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_balancer(kind, net, proxy, workdir):
    port = free_port()
    if kind == "haproxy":
        cfg = os.path.join(workdir, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write(haproxy_config(net, port, proxy))
        proc = subprocess.Popen(["haproxy", "-db", "-f", cfg], stdout=subprocess.DEVNULL,
                                stderr=open(os.path.join(workdir, "haproxy.log"), "w"))
    else:
        prefix = os.path.join(workdir, "nginx")
        os.makedirs(prefix, exist_ok=True)
        cfg = os.path.join(prefix, "nginx.conf")
        with open(cfg, "w") as f:
            f.write(nginx_config(net, port, proxy, prefix))
        proc = subprocess.Popen(["nginx", "-p", prefix, "-c", cfg, "-g", "daemon off;"],
                                stdout=subprocess.DEVNULL,
                                stderr=open(os.path.join(prefix, "stderr.log"), "w"))
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            time.sleep(1.0)  # a few health checks, so every server is up
            return proc, port
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"{kind} exited at start (see {workdir})")
            time.sleep(0.05)
    raise RuntimeError(f"{kind} did not listen")


def parse_wrk(text):
    def num(pattern):
        m = re.search(pattern, text)
        return int(m.group(1)) if m else 0
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       text)
    return {
        "requests": num(r"(\d+) requests in"),
        "non2xx": num(r"Non-2xx or 3xx responses: (\d+)"),
        "socket_errors": sum(int(x) for x in errors.groups()) if errors else 0,
    }


def run(kind, net, binary, duration, proxy, clients, drain_delay):
    workdir = tempfile.mkdtemp(prefix=f"prefork-{kind}-")
    proxy = proxy and ("v2" if kind == "haproxy" else "v1")
    instances = [Instance(net, i, binary, workdir, proxy, drain_delay) for i in range(3)]
    balancer = None
    try:
        for inst in instances:
            inst.start()
        balancer, port = start_balancer(kind, net, proxy, workdir)
        scheme = "https" if TLS else "http"
        wrk = subprocess.Popen(["wrk", "-t2", f"-c{clients}", f"-d{duration}s", "--timeout", "5s",
                                f"{scheme}://127.0.0.1:{port}/"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        started = time.time()
        steps = [("stop and start", instances[0].stop_and_start),
                 ("reload (SIGHUP)", instances[1].reload),
                 ("upgrade (SIGUSR2)", instances[2].upgrade)]
        time.sleep(min(3, duration / 6))
        for (what, step), inst in zip(steps, instances):
            t = time.time() - started
            step()
            log(f"  {kind}: {inst.name} {what} at {t:.1f}s, done at {time.time() - started:.1f}s")
            time.sleep(1.5)
        out, _ = wrk.communicate(timeout=duration + 30)
        result = parse_wrk(out)
        result["logs"] = check_logs(instances, net)
        result["workdir"] = workdir
        if kind == "nginx":
            result["refused"] = count_refused(os.path.join(workdir, "nginx", "error.log"))
        return result
    finally:
        if balancer:
            balancer.terminate()
            balancer.wait(timeout=10)
        for inst in instances:
            inst.kill()


def check_logs(instances, net):
    """Per instance: access-log lines, those from the client (127.0.0.1), and requests other
    than health checks from any other address (the balancer's own: must be none with the PROXY
    protocol; HAProxy's checks use its LOCAL command, so they show the balancer)."""
    report = []
    for inst in instances:
        try:
            lines = open(inst.access_log).read().splitlines()
        except OSError:
            lines = []
        client = sum(1 for line in lines if line.startswith("127.0.0.1 "))
        other = sum(1 for line in lines
                    if not line.startswith("127.0.0.1 ") and " /healthz " not in line)
        report.append((inst.name, len(lines), client, other))
    return report


def count_refused(path):
    try:
        return sum("Connection refused" in line for line in open(path))
    except OSError:
        return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--balancer", choices=["haproxy", "nginx", "both"], default="both")
    p.add_argument("--duration", type=int, default=30)
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--binary", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                    "..", "target", "release", "prefork-server"))
    p.add_argument("--drain-delay", default="1s",
                   help="the instances' --drain-delay (0s shows what it is for)")
    p.add_argument("--no-proxy-protocol", action="store_true",
                   help="plain TCP from the balancer (the instances then log its address)")
    p.add_argument("--tls", action="store_true",
                   help="HTTPS on the instances, passed through by the balancer in TCP mode")
    args = p.parse_args()
    kinds = ["haproxy", "nginx"] if args.balancer == "both" else [args.balancer]
    need = ["wrk", "ip"] + kinds
    missing = [t for t in need if not shutil.which(t)]
    if missing or os.geteuid() != 0:
        log(f"SKIP: needs root and {', '.join(need)}; missing: {', '.join(missing) or 'root'}")
        return SKIP
    if not os.path.exists(args.binary):
        log(f"no binary at {args.binary}: cargo build --release first")
        return 2
    proxy = not args.no_proxy_protocol
    if args.tls:
        global TLS
        pki = tempfile.mkdtemp(prefix="prefork-balancer-tls-")
        cert, key = os.path.join(pki, "cert.pem"), os.path.join(pki, "key.pem")
        made = subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-days", "2", "-keyout", key, "-out", cert, "-subj", "/CN=localhost",
             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], capture_output=True)
        if made.returncode != 0:
            log(f"SKIP: openssl could not make a certificate: {made.stderr.decode()[-300:]}")
            return SKIP
        TLS = (cert, key)
    net = Net()
    net.up()
    failed = False
    try:
        for kind in kinds:
            r = run(kind, net, os.path.abspath(args.binary), args.duration, proxy, args.clients,
                    args.drain_delay)
            ok = r["non2xx"] == 0 and r["socket_errors"] == 0
            client_seen = all(c > 0 and other == 0 for _, _, c, other in r["logs"])
            if proxy and net.namespaces:
                ok &= client_seen
            failed |= not ok
            extra = f", connects refused by a stopped instance: {r['refused']}" \
                if kind == "nginx" else ""
            log(f"{kind}: {r['requests']} requests, {r['non2xx']} non-2xx, "
                f"{r['socket_errors']} socket errors{extra} -> {'OK' if ok else 'LOST REQUESTS'}")
            for name, n, client, other in r["logs"]:
                log(f"  {name}: {n} access-log lines, {client} from the client's address, "
                    f"{other} requests (not health checks) from any other")
            log(f"  files: {r['workdir']}")
    except RuntimeError as e:
        log(f"setup failed: {e}")
        return 2
    finally:
        net.down()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
