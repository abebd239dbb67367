//! No allocation per request in steady state: a connection (over a socketpair) serves keep-alive
//! and pipelined requests through the real `Connection::drive` path, with a counting allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::time::Instant;

use prefork_server::buffer::BufPool;
use prefork_server::config::{HttpLimits, ProtocolKind, READ_BUF_BYTES};
use prefork_server::conn::{Connection, Drive};
use prefork_server::proto::Protocol;
use prefork_server::testing::TestSite;

struct Counting;

thread_local! {
    /// Per thread, since the test harness runs tests on parallel threads.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count() {
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

// SAFETY: forwards every call to the system allocator unchanged; only counts allocations.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Serves `rounds` batches of `batch` through one connection; returns allocations in the last
/// `rounds - warmup` batches.
fn allocations_while_serving(request: &[u8], batch: usize, rounds: usize, warmup: usize) -> usize {
    let (server, mut client) = UnixStream::pair().unwrap();
    server.set_nonblocking(true).unwrap();
    let fd: OwnedFd = server.into();
    let site = TestSite::new(HttpLimits::default());
    let mut pool = BufPool::new(READ_BUF_BYTES, 16);
    let mut conn = Connection::new(fd, None, Protocol::new(ProtocolKind::Http), Instant::now());
    let payload = request.repeat(batch);
    let mut reply = vec![0u8; 1 << 16];
    let mut counted = 0;
    for round in 0..rounds {
        client.write_all(&payload).unwrap();
        if round == warmup {
            counted = allocations();
        }
        let mut ctx = site.env(1 << 20);
        ctx.peer = prefork_server::peer::Peer::Direct(Some(std::net::SocketAddr::from((
            [192, 0, 2, 7],
            40_000,
        ))));
        conn.on_event(true, true, false);
        assert_eq!(
            conn.drive(&ctx, &mut *site.app(), &mut pool, Instant::now()),
            Drive::Wait
        );
        let mut got = 0;
        let mut responses = 0;
        while responses < batch {
            let n = client.read(&mut reply[got..]).unwrap();
            responses += reply[got..got + n]
                .windows(13)
                .filter(|w| *w == b"HTTP/1.1 200 ")
                .count();
            got = 0;
        }
    }
    allocations() - counted
}

#[test]
fn keep_alive_requests_allocate_nothing() {
    let get = b"GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: test\r\n\r\n";
    assert_eq!(allocations_while_serving(get, 1, 200, 10), 0);
}

#[test]
fn small_posts_allocate_nothing() {
    // A body that arrives with its head is answered from the read buffer, and its echo fits
    // the write buffer: no allocation, no budget.
    let mut post = b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 13\r\n\r\n".to_vec();
    post.extend_from_slice(b"Hello, World!");
    assert_eq!(allocations_while_serving(&post, 4, 100, 10), 0);
}

#[test]
fn pipelined_requests_allocate_nothing() {
    let get = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    assert_eq!(allocations_while_serving(get, 16, 100, 10), 0);
}

#[test]
fn httpbin_echoes_allocate_nothing_once_warm() {
    // JSON written into the worker's reused scratch space; args and headers sorted in a reused
    // arena; the client's address formatted in place.
    let get = b"GET /get?b=2&a=1&a=3 HTTP/1.1\r\nHost: localhost\r\nUser-Agent: test\r\n\
                X-Dup: 1\r\nX-Dup: 2\r\n\r\n";
    assert_eq!(allocations_while_serving(get, 4, 100, 10), 0);
    let mut post = b"POST /post HTTP/1.1\r\nHost: localhost\r\n\
        Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 15\r\n\r\n"
        .to_vec();
    post.extend_from_slice(b"x=1&y=hello+wor");
    assert_eq!(allocations_while_serving(&post, 4, 100, 10), 0);
}

#[test]
fn controls_that_add_headers_allocate_nothing() {
    // Parsed from the query and the headers in place, drawn from the worker's generator, and
    // written into the head where it lies: a controlled request whose response is the route's
    // own costs nothing more (reshaped or stand-in responses allocate their bytes, no more).
    let get = b"GET /get?header=X-A:one%20two&status=503:0&close=0&seed=3 HTTP/1.1\r\n\
                Host: localhost\r\nX-Echo-Header: X-B: 2\r\n\r\n";
    assert_eq!(allocations_while_serving(get, 4, 100, 10), 0);
    let root = b"GET /?status=500:0&size=1k:0 HTTP/1.1\r\nHost: localhost\r\n\r\n";
    assert_eq!(allocations_while_serving(root, 4, 100, 10), 0);
}

/// What a keep-alive request costs in allocations over TLS once the session is established:
/// the server's side only (the rustls client in this thread is not counted).
///
/// rustls allocates a `Vec` for every record: it copies each one it decrypts into one of its own
/// (`ReadTraffic` hands it out from there; in-place decryption is future work in rustls), and
/// seals each one it encrypts into one (`PrefixedPayload`) before copying it to our buffer.
/// So a request and its answer, a record each way, cost two allocations, and nothing of ours
/// allocates: the record buffers are pooled, the session's facts shared with each drive by
/// reference counting.
#[test]
fn tls_requests_allocate_only_rustls_s_one_vec_per_record() {
    use prefork_server::config::{ClientAuth, TlsOptions};
    use prefork_server::transport::tls::{self, TlsStream};

    let dir = std::env::temp_dir().join(format!("prefork-alloc-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.key_pair.serialize_pem()).unwrap();
    let options = TlsOptions {
        pairs: vec![(cert, key)],
        port: None,
        client_ca: None,
        client_auth: ClientAuth::Off,
    };
    let server_config = tls::build(&options, None, &[b"http/1.1"]).unwrap();
    #[allow(deprecated)] // ring's provider: see `transport::tls::setup::provider`
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(made.cert.der().clone()).unwrap();
    let client_config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut client = rustls::ClientConnection::new(client_config.into(), name).unwrap();

    let (server, mut socket) = UnixStream::pair().unwrap();
    server.set_nonblocking(true).unwrap();
    let site = TestSite::new(HttpLimits::default());
    let mut pool = BufPool::new(tls::MIN_BUFFER.max(READ_BUF_BYTES), 16);
    let mut conn = Connection::new(
        OwnedFd::from(server),
        None,
        Protocol::new(ProtocolKind::Http),
        Instant::now(),
    );
    let env = site.env(1 << 20);
    assert!(env
        .budget
        .try_reserve(tls::HANDSHAKE_CHARGE, 0, prefork_server::memory::Use::Tls));
    conn.set_tls(TlsStream::new(server_config, None).unwrap());
    let serve = |conn: &mut Connection, pool: &mut BufPool| -> usize {
        let before = allocations();
        conn.on_event(true, true, false);
        let drive = conn.drive(&env, &mut *site.app(), pool, Instant::now());
        assert_eq!(drive, Drive::Wait);
        allocations() - before
    };
    // The handshake, a flight at a time.
    while client.is_handshaking() {
        while client.wants_write() {
            client.write_tls(&mut socket).unwrap();
        }
        serve(&mut conn, &mut pool);
        if client.is_handshaking() {
            client.read_tls(&mut socket).unwrap();
            client.process_new_packets().unwrap();
        }
    }
    let mut per_request = Vec::new();
    let mut reply = vec![0u8; 4096];
    for round in 0..60 {
        client
            .writer()
            .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        while client.wants_write() {
            client.write_tls(&mut socket).unwrap();
        }
        let allocated = serve(&mut conn, &mut pool);
        let mut got = Vec::new();
        while !got.windows(13).any(|w| w == b"Hello, World!") {
            client.read_tls(&mut socket).unwrap();
            client.process_new_packets().unwrap();
            if let Ok(n) = client.reader().read(&mut reply) {
                got.extend_from_slice(&reply[..n]);
            }
        }
        if round >= 10 {
            per_request.push(allocated);
        }
    }
    let worst = per_request.iter().max().copied().unwrap_or_default();
    eprintln!("allocations per TLS request once warm: {per_request:?}");
    assert!(
        worst <= 2,
        "a Vec per record each way, no more: {per_request:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
