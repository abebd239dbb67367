//! What a TLS port does with a client's bytes, before and through rustls: the PROXY header
//! that may come first, the plaintext-HTTP sniff, the ClientHello's name (`hello.rs`), then
//! rustls's handshake, all driven through a real `TlsStream` over a socketpair, the input cut
//! into the reads a connection would see. The first byte picks whether a PROXY header is
//! expected and how the rest is cut.
//!
//! Asserts: no panic (rustls's own asserts included: the double fatal alert it asserts
//! against was found this way); every read ends in a state the connection knows; the budget
//! is given back whole when the connection closes.
#![no_main]

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use prefork_server::buffer::{Buf, BufPool};
use prefork_server::config::{ClientAuth, TlsOptions};
use prefork_server::memory::{Budget, Use};
use prefork_server::output::Output;
use prefork_server::proto::proxy::Accept;
use prefork_server::stats::WorkerStats;
use prefork_server::transport::tls::{self, Lent, ReadOutcome, TlsStream};
use rustls::ServerConfig;

static STATS: WorkerStats = WorkerStats::zeroed();

/// A server configuration over a certificate made once per process.
fn config() -> Arc<ServerConfig> {
    static CONFIG: OnceLock<Arc<ServerConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let dir = std::env::temp_dir().join(format!("prefork-fuzz-tls-{}", std::process::id()));
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
            tls::build(&options, None, &[b"http/1.1"]).unwrap()
        })
        .clone()
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, input)) = data.split_first() else {
        return;
    };
    let preamble = (mode & 1 == 1).then_some(Accept::Any);
    let cut = usize::from(mode >> 1) % 64 + 1;
    let (ours, mut theirs) = UnixStream::pair().unwrap();
    ours.set_nonblocking(true).unwrap();
    theirs.set_nonblocking(true).unwrap();
    let budget = Budget::new(1 << 24);
    assert!(budget.try_reserve(tls::HANDSHAKE_CHARGE, 0, Use::Tls));
    let mut pool = BufPool::new(tls::MIN_BUFFER, 4);
    let mut stream = TlsStream::new(config(), preamble).unwrap();
    let (mut plain, mut out, mut work) = (Buf::new(), Output::new(), 0);
    let mut sink = [0u8; 65536];
    for piece in input.chunks(cut) {
        let _ = theirs.write_all(piece);
        let mut lent = Lent {
            pool: &mut pool,
            budget: &budget,
            token: 1,
            stats: &STATS,
            work: &mut work,
        };
        lent.pool.fill(&mut plain);
        let read = stream.read(ours.as_fd(), &mut plain, false, None, &mut lent);
        // The protocol above consumes whatever plaintext came.
        plain.consume(plain.len());
        let wrote = stream.write(ours.as_fd(), &mut out, &mut plain, &mut lent);
        while let Ok(n) = theirs.read(&mut sink) {
            if n == 0 {
                break;
            }
        }
        stream.settle(&mut pool, &budget, plain.capacity());
        match (read, wrote) {
            (ReadOutcome::Read { .. }, Some(_)) => {}
            _ => break,
        }
    }
    stream.release(&mut pool, &budget, &STATS);
    assert_eq!(budget.used(), 0, "the budget is given back whole");
});
