//! What a socket read costs to enter, side by side: `read` against `recv` on a loopback TCP
//! connection with nothing to read (`cargo bench --bench socket_calls`).
//!
//! Why connections use `recv`/`send` (src/sys/net.rs): both move the same bytes, but `read`
//! and `write` pass through the VFS's file checks before they reach the socket layer. A
//! nonblocking call on an empty socket returns EAGAIN at once, so the difference is that entry
//! cost alone (≈ 40-50 ns here, against ≈ 400 ns for the call). A whole loopback round trip
//! costs ≈ 10 µs, and one run of it varies by more than the two calls differ.

use std::net::{TcpListener, TcpStream};
use std::os::fd::AsFd;

use criterion::{criterion_group, criterion_main, Criterion};
use prefork_server::sys::net::{read_some, recv_some, IoOutcome};

/// A connected loopback pair: (client, server).
fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let client = TcpStream::connect(listener.local_addr().expect("local addr")).expect("connect");
    let (server, _) = listener.accept().expect("accept");
    (client, server)
}

fn bench(c: &mut Criterion) {
    let (_client, server) = pair();
    server.set_nonblocking(true).expect("nonblocking");
    let mut buf = [0u8; 4096];
    let mut empty = c.benchmark_group("empty_socket_eagain");
    empty.bench_function("read", |b| {
        b.iter(|| assert_eq!(read_some(server.as_fd(), &mut buf), IoOutcome::WouldBlock))
    });
    empty.bench_function("recv", |b| {
        b.iter(|| assert_eq!(recv_some(server.as_fd(), &mut buf), IoOutcome::WouldBlock))
    });
    empty.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
