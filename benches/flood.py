#!/usr/bin/env python3
"""Clients that send and never read, against a running server: how much does it hold?

The flood of tests/it/memory.rs, for any server (ours, an older binary, nginx): FULL uploads
that send all of a declared 8 MB body, POSTS that declare 8 MB and push 2 MiB, PIPELINES that
pipeline `GET /` for 2 MiB; none ever reads. Prints the server's Pss (summed over PIDS) before,
under the flood and after it, and the p99 of `GET /` on fresh connections meanwhile.

usage: benches/flood.py --port P --pids PID[,PID...] [--full 32] [--posts 1000]
                        [--pipelines 500] [--seconds 30]
"""
import argparse
import errno
import resource
import socket
import time

GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
POST = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 8000000\r\n\r\n"


def pss_mib(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def probe(port, count):
    times = []
    for _ in range(count):
        start = time.monotonic()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            while s.recv(65536):
                pass
        times.append(time.monotonic() - start)
    times.sort()
    return times[len(times) * 99 // 100]


class Pusher:
    def __init__(self, port, head, fill, target):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setblocking(False)
        self.data = head + fill
        self.head = head
        self.fill = fill
        self.sent = 0
        self.target = target

    def push(self):
        """True if bytes moved."""
        if self.sent >= self.target:
            return False
        at = self.sent
        if at < len(self.head):
            chunk = self.head[at:]
        else:
            off = (at - len(self.head)) % len(self.fill)
            chunk = (self.fill[off:] + self.fill)[: min(65536, self.target - at)]
        try:
            n = self.sock.send(chunk)
        except BlockingIOError:
            return False
        except OSError as e:
            if e.errno in (errno.ECONNRESET, errno.EPIPE):
                self.target = 0
                return False
            raise
        self.sent += n
        return n > 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pids", required=True, help="server processes whose Pss is summed")
    ap.add_argument("--full", type=int, default=32)
    ap.add_argument("--posts", type=int, default=1000)
    ap.add_argument("--pipelines", type=int, default=500)
    ap.add_argument("--seconds", type=float, default=30)
    a = ap.parse_args()
    pids = [int(p) for p in a.pids.split(",")]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    probe(a.port, 20)
    before = pss_mib(pids)
    body = b"q" * 65536
    pipe = GET * (65536 // len(GET) + 1)
    pushers = [Pusher(a.port, POST, body, len(POST) + 8_000_000) for _ in range(a.full)]
    pushers += [Pusher(a.port, POST, body, 2 << 20) for _ in range(a.posts)]
    pushers += [Pusher(a.port, b"", pipe, 2 << 20) for _ in range(a.pipelines)]
    start = last_move = time.monotonic()
    while time.monotonic() - start < a.seconds and time.monotonic() - last_move < 2:
        moved = False
        for p in pushers:
            while p.push():
                moved = True
        if moved:
            last_move = time.monotonic()
        else:
            time.sleep(0.02)
    during = pss_mib(pids)
    p99 = probe(a.port, 200)
    sent = sum(p.sent for p in pushers)
    for p in pushers:
        p.sock.close()
    time.sleep(12)
    after = pss_mib(pids)
    print(f"{len(pushers)} connections that never read, {sent / 2**20:.0f} MiB sent: "
          f"Pss {before:.1f} MiB before, {during:.1f} MiB under the flood "
          f"(+{during - before:.1f}), {after:.1f} MiB 12 s after; "
          f"GET / p99 {p99 * 1000:.2f} ms meanwhile")


if __name__ == "__main__":
    main()
