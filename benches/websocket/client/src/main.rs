//! ws-load: the WebSocket echo load client of benches/websocket (RFC 6455 client side, written
//! here: handshake, masked frames, reading frames; permessage-deflate with no context takeover
//! via flate2 when `--deflate`).
//!
//! It opens `--conns` connections to `ws://HOST:PORT/PATH`, keeps `--window` messages in flight
//! on each (a new one is sent for each echo received), runs `--warmup` seconds, then measures
//! `--duration` seconds, and checks every echo against what was sent on that connection, in
//! order (a different payload, opcode or order counts as a mismatch). Messages come from a pool
//! of distinct payloads made at start, with their masked (and, with `--deflate`, compressed)
//! frames built once, so sending costs the client a copy at most: the client stays far from
//! being the bottleneck. Echoes that arrive compressed (RSV1) are inflated before the check.
//!
//! stdout (for bench.py, which samples the server's CPU when each line arrives):
//!   `READY conns=N deflate=0|1 ...` once every handshake is done (warm-up starts),
//!   `START` when the measured interval starts,
//!   `END WSRESULT key=value ...` when it ends (counts over the measured interval only).
//! Exit status 0, or 2 on a failed handshake (the reason on stderr).
//!
//! usage: ws-load --port P [--host 127.0.0.1] [--path /websocket/echo] [--conns 100]
//!        [--window 10] [--size 32] [--binary] [--deflate] [--level 6] [--content text|random]
//!        [--warmup 2] [--duration 10] [--threads 1]
use std::collections::VecDeque;
use std::io::{self, IoSlice, Read, Write};
use std::net::{SocketAddr, TcpStream as StdStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use sha1::{Digest, Sha1};

const TAIL: [u8; 4] = [0x00, 0x00, 0xFF, 0xFF];
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

#[derive(Clone)]
struct Args {
    host: String,
    port: u16,
    path: String,
    conns: usize,
    window: usize,
    size: usize,
    binary: bool,
    deflate: bool,
    level: u32,
    random: bool,
    warmup: f64,
    duration: f64,
    threads: usize,
}

fn usage() -> ! {
    eprintln!(
        "usage: ws-load --port P [--host 127.0.0.1] [--path /websocket/echo] [--conns 100] \
         [--window 10] [--size 32] [--binary] [--deflate] [--level 6] [--content text|random] \
         [--warmup 2] [--duration 10] [--threads 1]"
    );
    std::process::exit(64)
}

fn parse_args() -> Args {
    let mut a = Args {
        host: "127.0.0.1".into(),
        port: 0,
        path: "/websocket/echo".into(),
        conns: 100,
        window: 10,
        size: 32,
        binary: false,
        deflate: false,
        level: 6,
        random: false,
        warmup: 2.0,
        duration: 10.0,
        threads: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut val = || it.next().unwrap_or_else(|| usage());
        match k.as_str() {
            "--host" => a.host = val(),
            "--port" => a.port = val().parse().unwrap_or_else(|_| usage()),
            "--path" => a.path = val(),
            "--conns" => a.conns = val().parse().unwrap_or_else(|_| usage()),
            "--window" => a.window = val().parse().unwrap_or_else(|_| usage()),
            "--size" => a.size = val().parse().unwrap_or_else(|_| usage()),
            "--binary" => a.binary = true,
            "--deflate" => a.deflate = true,
            "--level" => a.level = val().parse().unwrap_or_else(|_| usage()),
            "--content" => {
                a.random = match val().as_str() {
                    "text" => false,
                    "random" => true,
                    _ => usage(),
                }
            }
            "--warmup" => a.warmup = val().parse().unwrap_or_else(|_| usage()),
            "--duration" => a.duration = val().parse().unwrap_or_else(|_| usage()),
            "--threads" => a.threads = val().parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    if a.port == 0 || a.conns == 0 || a.window == 0 || a.threads == 0 || a.size < 8 {
        usage();
    }
    a.threads = a.threads.min(a.conns);
    a
}

// ------------------------------------------------------------------ payloads and frames

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

const WORDS: &[&str] = &[
    "the",
    "server",
    "echo",
    "message",
    "socket",
    "frame",
    "worker",
    "client",
    "deflate",
    "window",
    "buffer",
    "epoll",
    "master",
    "connection",
    "latency",
    "bytes",
    "{\"id\":",
    "\"name\":",
    "true",
    "false",
    "null",
    "1234",
    "42",
    "3.14159",
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "kernel",
    "user",
    "time",
    "value",
    "status",
    "ok",
    "error",
    "retry",
    "queue",
    "stream",
    "binary",
    "text",
    "ping",
    "pong",
    "close",
    "open",
    "read",
    "write",
    "flush",
    "payload",
    "mask",
    "key",
    "json",
];

/// Payload number `i` of the pool: starts with its number (so two payloads always differ),
/// then words (text; compresses about 3:1, as chat or JSON would) or random bytes.
fn make_payload(i: usize, size: usize, random: bool, binary: bool, rng: &mut Rng) -> Vec<u8> {
    let mut p = format!("#{i:05} ").into_bytes();
    while p.len() < size {
        if random {
            let r = rng.next();
            let b = if binary {
                (r >> 24) as u8
            } else {
                b'!' + ((r >> 24) % 94) as u8
            };
            p.push(b);
        } else {
            let w = WORDS[(rng.next() >> 33) as usize % WORDS.len()];
            p.extend_from_slice(w.as_bytes());
            p.push(b' ');
        }
    }
    p.truncate(size);
    p
}

/// One message compressed alone (RFC 7692 §7.2.1: sync flush, the 4-byte tail removed).
fn compress(payload: &[u8], level: u32) -> Vec<u8> {
    let mut c = Compress::new(Compression::new(level), false);
    let mut out = Vec::with_capacity(payload.len() / 2 + 1024);
    let mut pos = 0;
    loop {
        if out.capacity() - out.len() < 64 {
            out.reserve(payload.len() / 2 + 1024);
        }
        let before = c.total_in();
        c.compress_vec(&payload[pos..], &mut out, FlushCompress::Sync)
            .expect("deflate");
        pos += (c.total_in() - before) as usize;
        if pos == payload.len() && out.capacity() > out.len() {
            break;
        }
    }
    if out.ends_with(&TAIL) {
        out.truncate(out.len() - 4);
    }
    out
}

/// A whole client frame (FIN set, masked with `key`).
fn client_frame(opcode: u8, rsv1: bool, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let mut f = Vec::with_capacity(payload.len() + 14);
    f.push(0x80 | if rsv1 { 0x40 } else { 0 } | opcode);
    let n = payload.len();
    if n < 126 {
        f.push(0x80 | n as u8);
    } else if n <= 0xFFFF {
        f.push(0x80 | 126);
        f.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        f.push(0x80 | 127);
        f.extend_from_slice(&(n as u64).to_be_bytes());
    }
    f.extend_from_slice(&key);
    let start = f.len();
    f.extend_from_slice(payload);
    for (i, b) in f[start..].iter_mut().enumerate() {
        *b ^= key[i & 3];
    }
    f
}

struct Variant {
    payload: Vec<u8>,
    frame: Vec<u8>,
}

struct Pool {
    variants: Vec<Variant>,
    opcode: u8,
    wire_bytes: usize,
}

fn make_pool(a: &Args) -> Pool {
    // distinct payloads: up to 1024, and no more than ~64 MiB of them
    let n = (64usize << 20) / a.size.max(1);
    let n = n.clamp(4, 1024);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let opcode = if a.binary { 2 } else { 1 };
    let mut wire = 0;
    let variants = (0..n)
        .map(|i| {
            let payload = make_payload(i, a.size, a.random, a.binary, &mut rng);
            let key = (rng.next() as u32).to_be_bytes();
            let frame = if a.deflate {
                client_frame(opcode, true, &compress(&payload, a.level), key)
            } else {
                client_frame(opcode, false, &payload, key)
            };
            wire += frame.len();
            Variant { payload, frame }
        })
        .collect::<Vec<_>>();
    Pool {
        wire_bytes: wire / n,
        variants,
        opcode,
    }
}

/// Inflates one message (no context takeover) into `out`; Err if corrupt or longer than `limit`.
fn inflate(d: &mut Decompress, input: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), ()> {
    d.reset(false);
    out.clear();
    if out.capacity() < limit + 64 {
        out.reserve(limit + 64);
    }
    for inp in [input, &TAIL[..]] {
        let mut pos = 0;
        loop {
            if out.capacity() - out.len() < 1024 {
                out.reserve(out.capacity().max(4096));
            }
            let (bi, bo) = (d.total_in(), d.total_out());
            let st = d
                .decompress_vec(&inp[pos..], out, FlushDecompress::Sync)
                .map_err(|_| ())?;
            let used = (d.total_in() - bi) as usize;
            let wrote = (d.total_out() - bo) as usize;
            pos += used;
            if out.len() > limit {
                return Err(());
            }
            if st == Status::StreamEnd || (pos == inp.len() && out.capacity() > out.len()) {
                break;
            }
            if used == 0 && wrote == 0 && out.capacity() > out.len() {
                return Err(());
            }
        }
    }
    Ok(())
}

// ------------------------------------------------------------------ handshake

fn handshake(a: &Args, addr: SocketAddr, rng: &mut Rng) -> Result<(StdStream, Vec<u8>), String> {
    let mut s = StdStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| format!("connect: {e}"))?;
    s.set_nodelay(true).ok();
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let raw: [u8; 16] = {
        let (x, y) = (rng.next(), rng.next());
        let mut k = [0u8; 16];
        k[..8].copy_from_slice(&x.to_le_bytes());
        k[8..].copy_from_slice(&y.to_le_bytes());
        k
    };
    let key = base64::engine::general_purpose::STANDARD.encode(raw);
    let ext = if a.deflate {
        "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; server_no_context_takeover\r\n"
    } else {
        ""
    };
    let req = format!(
        "GET {} HTTP/1.1\r\nHost: {}:{}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{ext}\r\n",
        a.path, a.host, a.port
    );
    s.write_all(req.as_bytes())
        .map_err(|e| format!("send handshake: {e}"))?;
    let mut buf = Vec::with_capacity(4096);
    let end = loop {
        let mut tmp = [0u8; 4096];
        let n = s
            .read(&mut tmp)
            .map_err(|e| format!("read handshake: {e}"))?;
        if n == 0 {
            return Err("closed during handshake".into());
        }
        buf.extend_from_slice(&tmp[..n]);
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        if buf.len() > 16384 {
            return Err("handshake answer too long".into());
        }
    };
    let head = String::from_utf8_lossy(&buf[..end]).to_string();
    if !head.starts_with("HTTP/1.1 101") {
        return Err(format!("not a 101: {}", head.lines().next().unwrap_or("")));
    }
    let field = |name: &str| {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    };
    let mut h = Sha1::new();
    h.update(key.as_bytes());
    h.update(GUID.as_bytes());
    let want = base64::engine::general_purpose::STANDARD.encode(h.finalize());
    if field("sec-websocket-accept").as_deref() != Some(want.as_str()) {
        return Err("wrong Sec-WebSocket-Accept".into());
    }
    let ext = field("sec-websocket-extensions").unwrap_or_default();
    if a.deflate {
        if !ext.contains("permessage-deflate") || !ext.contains("server_no_context_takeover") {
            return Err(format!(
                "permessage-deflate (no context takeover) not accepted: {ext:?}"
            ));
        }
    } else if !ext.is_empty() {
        return Err(format!("an extension nobody offered: {ext:?}"));
    }
    Ok((s, buf[end..].to_vec()))
}

// ------------------------------------------------------------------ connections

#[derive(Default)]
struct Counters {
    messages: AtomicU64,
    bytes: AtomicU64,
    wire_in: AtomicU64,
    mismatches: AtomicU64,
    compressed: AtomicU64,
    errors: AtomicU64,
}

enum Out {
    /// The pool's frame number .0, from byte .1 on.
    Frame(u32, usize),
    /// A control frame (pong, close), from byte .1 on.
    Ctl(Vec<u8>, usize),
}

struct Conn {
    sock: TcpStream,
    id: u64,
    seq: u64,
    rbuf: Vec<u8>,
    rpos: usize,
    rend: usize,
    sendq: VecDeque<Out>,
    expect: VecDeque<u32>,
    frag: Option<(u8, bool, Vec<u8>)>,
    writable: bool,
    dead: bool,
}

struct Ctx<'a> {
    pool: &'a Pool,
    deflate: bool,
    dec: Decompress,
    inflated: Vec<u8>,
    c: &'a Counters,
}

impl Conn {
    fn queue_next(&mut self, n: usize) {
        // spread the pool over connections and messages
        let idx = ((self.id.wrapping_mul(7919) + self.seq) % n as u64) as u32;
        self.seq += 1;
        self.expect.push_back(idx);
        self.sendq.push_back(Out::Frame(idx, 0));
    }

    fn fail(&mut self, c: &Counters, why: &str) {
        if !self.dead {
            self.dead = true;
            c.errors.fetch_add(1, Relaxed);
            if c.errors.load(Relaxed) <= 5 {
                eprintln!("ws-load: connection {}: {why}", self.id);
            }
        }
    }

    /// A whole message arrived: check it against what was sent, and send the next one.
    fn on_message(&mut self, ctx: &mut Ctx, opcode: u8, rsv1: bool, data: &[u8]) {
        let Some(idx) = self.expect.pop_front() else {
            ctx.c.mismatches.fetch_add(1, Relaxed);
            return;
        };
        let v = &ctx.pool.variants[idx as usize];
        let ok = opcode == ctx.pool.opcode
            && if rsv1 {
                ctx.c.compressed.fetch_add(1, Relaxed);
                ctx.deflate
                    && inflate(&mut ctx.dec, data, &mut ctx.inflated, v.payload.len()).is_ok()
                    && ctx.inflated == v.payload
            } else {
                data == &v.payload[..]
            };
        if !ok {
            ctx.c.mismatches.fetch_add(1, Relaxed);
        }
        ctx.c.messages.fetch_add(1, Relaxed);
        ctx.c.bytes.fetch_add(v.payload.len() as u64, Relaxed);
        self.queue_next(ctx.pool.variants.len());
    }

    fn read(&mut self, ctx: &mut Ctx) {
        loop {
            if self.rend == self.rbuf.len() {
                if self.rpos > 0 {
                    self.rbuf.copy_within(self.rpos..self.rend, 0);
                    self.rend -= self.rpos;
                    self.rpos = 0;
                } else {
                    let n = self.rbuf.len() * 2;
                    self.rbuf.resize(n, 0);
                }
            }
            match self.sock.read(&mut self.rbuf[self.rend..]) {
                Ok(0) => {
                    self.fail(ctx.c, "closed by the server");
                    return;
                }
                Ok(n) => {
                    ctx.c.wire_in.fetch_add(n as u64, Relaxed);
                    self.rend += n;
                    self.frames(ctx);
                    if self.dead {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.fail(ctx.c, &format!("read: {e}"));
                    return;
                }
            }
        }
    }

    fn frames(&mut self, ctx: &mut Ctx) {
        loop {
            let b = &self.rbuf[self.rpos..self.rend];
            if b.len() < 2 {
                break;
            }
            let (fin, rsv1, opcode) = (b[0] & 0x80 != 0, b[0] & 0x40 != 0, b[0] & 0x0F);
            if b[0] & 0x30 != 0 || b[1] & 0x80 != 0 {
                self.fail(ctx.c, "bad frame from the server (RSV2/3 or masked)");
                return;
            }
            let (hl, len) = match b[1] & 0x7F {
                126 if b.len() >= 4 => (4, u16::from_be_bytes([b[2], b[3]]) as usize),
                127 if b.len() >= 10 => (
                    10,
                    u64::from_be_bytes(b[2..10].try_into().unwrap()) as usize,
                ),
                126 | 127 => break,
                n => (2, n as usize),
            };
            if b.len() < hl + len {
                // make room for the whole frame
                let need = hl + len;
                if self.rbuf.len() - self.rpos < need {
                    self.rbuf.copy_within(self.rpos..self.rend, 0);
                    self.rend -= self.rpos;
                    self.rpos = 0;
                    if self.rbuf.len() < need {
                        self.rbuf.resize(need.next_power_of_two(), 0);
                    }
                }
                break;
            }
            let start = self.rpos + hl;
            self.rpos += hl + len;
            match opcode {
                1 | 2 if self.frag.is_none() => {
                    if fin {
                        // borrow the payload out of rbuf for the check without copying
                        let rbuf = std::mem::take(&mut self.rbuf);
                        self.on_message(ctx, opcode, rsv1, &rbuf[start..start + len]);
                        self.rbuf = rbuf;
                    } else {
                        self.frag = Some((opcode, rsv1, self.rbuf[start..start + len].to_vec()));
                    }
                }
                0 if self.frag.is_some() => {
                    let (op, r1, mut m) = self.frag.take().unwrap();
                    m.extend_from_slice(&self.rbuf[start..start + len]);
                    if fin {
                        self.on_message(ctx, op, r1, &m);
                    } else {
                        self.frag = Some((op, r1, m));
                    }
                }
                9 => {
                    let p = self.rbuf[start..start + len].to_vec();
                    self.sendq
                        .push_back(Out::Ctl(client_frame(0xA, false, &p, [1, 2, 3, 4]), 0));
                }
                0xA => {}
                8 => {
                    let code = if len >= 2 {
                        u16::from_be_bytes([self.rbuf[start], self.rbuf[start + 1]])
                    } else {
                        0
                    };
                    self.fail(ctx.c, &format!("close frame from the server, code {code}"));
                    return;
                }
                _ => {
                    self.fail(ctx.c, &format!("unexpected frame opcode {opcode}"));
                    return;
                }
            }
        }
        if self.rpos == self.rend {
            self.rpos = 0;
            self.rend = 0;
        }
    }

    fn flush(&mut self, pool: &Pool, c: &Counters) {
        while self.writable && !self.sendq.is_empty() && !self.dead {
            let mut iov: Vec<IoSlice> = Vec::with_capacity(64);
            for o in self.sendq.iter().take(64) {
                iov.push(IoSlice::new(match o {
                    Out::Frame(i, off) => &pool.variants[*i as usize].frame[*off..],
                    Out::Ctl(v, off) => &v[*off..],
                }));
            }
            match self.sock.write_vectored(&iov) {
                Ok(mut n) => {
                    drop(iov);
                    while n > 0 {
                        let front = self.sendq.front_mut().unwrap();
                        let (total, off) = match front {
                            Out::Frame(i, off) => (pool.variants[*i as usize].frame.len(), off),
                            Out::Ctl(v, off) => (v.len(), off),
                        };
                        let left = total - *off;
                        if n >= left {
                            n -= left;
                            self.sendq.pop_front();
                        } else {
                            *off += n;
                            n = 0;
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.writable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => self.fail(c, &format!("write: {e}")),
            }
        }
    }
}

fn run_thread(
    a: Args,
    ids: Vec<u64>,
    pool: Arc<Pool>,
    c: Arc<Counters>,
    ready: Arc<AtomicUsize>,
    failed: Arc<AtomicBool>,
    go: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) {
    let addr: SocketAddr = format!("{}:{}", a.host, a.port).parse().expect("address");
    let mut rng = Rng(0xA076_1D64_78BD_642F ^ ids.first().copied().unwrap_or(0));
    let mut poll = Poll::new().expect("epoll");
    let mut conns = Vec::with_capacity(ids.len());
    for (k, &id) in ids.iter().enumerate() {
        let (s, rest) = match handshake(&a, addr, &mut rng) {
            Ok(x) => x,
            Err(e) => {
                eprintln!("ws-load: handshake {id}: {e}");
                failed.store(true, Relaxed);
                ready.fetch_add(1, Relaxed);
                return;
            }
        };
        s.set_nonblocking(true).expect("nonblocking");
        let mut sock = TcpStream::from_std(s);
        poll.registry()
            .register(&mut sock, Token(k), Interest::READABLE | Interest::WRITABLE)
            .expect("register");
        let mut rbuf = vec![0u8; (a.size + 64).next_power_of_two().clamp(64 << 10, 4 << 20)];
        rbuf[..rest.len()].copy_from_slice(&rest);
        conns.push(Conn {
            sock,
            id,
            seq: 0,
            rend: rest.len(),
            rbuf,
            rpos: 0,
            sendq: VecDeque::new(),
            expect: VecDeque::new(),
            frag: None,
            writable: true,
            dead: false,
        });
    }
    ready.fetch_add(1, Relaxed);
    while !go.load(Relaxed) {
        if stop.load(Relaxed) {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut ctx = Ctx {
        pool: &pool,
        deflate: a.deflate,
        dec: Decompress::new(false),
        inflated: Vec::new(),
        c: &c,
    };
    let n = pool.variants.len();
    for conn in conns.iter_mut() {
        for _ in 0..a.window {
            conn.queue_next(n);
        }
        conn.flush(&pool, &c);
    }
    let mut events = Events::with_capacity(1024);
    while !stop.load(Relaxed) {
        if let Err(e) = poll.poll(&mut events, Some(Duration::from_millis(50))) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            panic!("epoll_wait: {e}");
        }
        for ev in events.iter() {
            let conn = &mut conns[ev.token().0];
            if conn.dead {
                continue;
            }
            if ev.is_writable() {
                conn.writable = true;
            }
            if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                conn.read(&mut ctx);
            }
            conn.flush(&pool, &c);
        }
    }
    // best effort close handshake start (1000), then drop
    for conn in conns.iter_mut().filter(|c| !c.dead) {
        let f = client_frame(8, false, &1000u16.to_be_bytes(), [5, 6, 7, 8]);
        let _ = conn.sock.write(&f);
    }
}

fn cpu_seconds() -> f64 {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn snapshot(cs: &[Arc<Counters>]) -> [u64; 6] {
    let mut s = [0u64; 6];
    for c in cs {
        s[0] += c.messages.load(Relaxed);
        s[1] += c.bytes.load(Relaxed);
        s[2] += c.wire_in.load(Relaxed);
        s[3] += c.mismatches.load(Relaxed);
        s[4] += c.compressed.load(Relaxed);
        s[5] += c.errors.load(Relaxed);
    }
    s
}

fn main() {
    let a = parse_args();
    let pool = Arc::new(make_pool(&a));
    let ready = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicBool::new(false));
    let go = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut counters = Vec::new();
    let mut hs = Vec::new();
    for t in 0..a.threads {
        let ids: Vec<u64> = (0..a.conns as u64)
            .filter(|i| *i as usize % a.threads == t)
            .collect();
        let c = Arc::new(Counters::default());
        counters.push(c.clone());
        let (a2, p, r, f, g, s) = (
            a.clone(),
            pool.clone(),
            ready.clone(),
            failed.clone(),
            go.clone(),
            stop.clone(),
        );
        hs.push(std::thread::spawn(move || {
            run_thread(a2, ids, p, c, r, f, g, s)
        }));
    }
    let t_hs = Instant::now();
    while ready.load(Relaxed) < a.threads {
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut out = io::stdout().lock();
    if failed.load(Relaxed) {
        stop.store(true, Relaxed);
        for h in hs {
            let _ = h.join();
        }
        eprintln!("ws-load: handshakes failed");
        std::process::exit(2);
    }
    writeln!(
        out,
        "READY conns={} window={} size={} opcode={} deflate={} pool={} frame_bytes={} handshakes_ms={:.0}",
        a.conns,
        a.window,
        a.size,
        pool.opcode,
        a.deflate as u8,
        pool.variants.len(),
        pool.wire_bytes,
        t_hs.elapsed().as_secs_f64() * 1e3
    )
    .unwrap();
    out.flush().unwrap();
    go.store(true, Relaxed);
    std::thread::sleep(Duration::from_secs_f64(a.warmup));
    let (s0, c0, t0) = (snapshot(&counters), cpu_seconds(), Instant::now());
    writeln!(out, "START").unwrap();
    out.flush().unwrap();
    let end = t0 + Duration::from_secs_f64(a.duration);
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(100)));
    }
    let (s1, c1, dt) = (
        snapshot(&counters),
        cpu_seconds(),
        t0.elapsed().as_secs_f64(),
    );
    let d = |i: usize| s1[i] - s0[i];
    writeln!(
        out,
        "END WSRESULT messages={} bytes={} wire_in={} mismatches={} compressed={} errors={} \
         errors_total={} duration_us={:.0} client_cpu_s={:.4} msg_per_s={:.1}",
        d(0),
        d(1),
        d(2),
        d(3) + s0[3],
        d(4),
        d(5),
        s1[5],
        dt * 1e6,
        c1 - c0,
        d(0) as f64 / dt
    )
    .unwrap();
    out.flush().unwrap();
    stop.store(true, Relaxed);
    for h in hs {
        let _ = h.join();
    }
}
