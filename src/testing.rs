//! A worker's surroundings without a worker, for unit tests, benchmarks and the fuzzer: the
//! application with its default options, default limits, an unbounded budget unless one is
//! given, and a fixed date. Not used by the server.

use std::cell::{Cell, RefCell, RefMut};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;

use crate::app::{App, CONTROL_MARKER};
use crate::buffer::Buf;
use crate::config::{Config, HttpLimits};
use crate::http::PortRole;
use crate::ids::WorkerId;
use crate::memory::Budget;
use crate::output::Output;
use crate::peer::Peer;
use crate::proto::h1::{self, Http1, Prerendered};
use crate::proto::Env;
use crate::stats::{MasterStats, WorkerStats};

/// The date every test response carries: `Mon, 23 Nov 2026 11:04:17 GMT`.
pub const DATE_SECS: u64 = 1_795_431_857;

/// The configuration these command-line arguments give.
///
/// # Panics
/// If they are not valid arguments.
pub fn config_of(args: &[&str]) -> Config {
    let args = std::iter::once("prefork-server").chain(args.iter().copied());
    crate::cli::Cli::try_parse_from(args)
        .expect("valid arguments")
        .into_config()
        .expect("a valid configuration")
}

fn date() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(DATE_SECS)
}

/// Figures for sites that belong to no worker.
static DETACHED_STATS: WorkerStats = WorkerStats::zeroed();
static DETACHED_MASTER: MasterStats = MasterStats::zeroed();

/// What an [`Env`] borrows, and the application it drives.
#[derive(Debug)]
pub struct TestSite {
    pub http: h1::Site,
    pub served: Cell<u64>,
    pub work: Cell<u64>,
    pub budget: Budget,
    app: RefCell<App<'static>>,
}

impl TestSite {
    pub fn new(limits: HttpLimits) -> TestSite {
        TestSite::with_budget(limits, u64::MAX)
    }

    pub fn with_budget(limits: HttpLimits, budget: u64) -> TestSite {
        TestSite::with_config(&config_of(&[]), limits, budget)
    }

    /// A site whose application is set up as these command-line arguments say.
    ///
    /// # Panics
    /// If they are not valid arguments.
    pub fn with_args(args: &[&str]) -> TestSite {
        let config = config_of(args);
        TestSite::with_config(&config, config.limits, config.memory_budget)
    }

    /// A site whose application is set up as `config` says (`--root`, the httpbin options).
    pub fn with_config(config: &Config, limits: HttpLimits, budget: u64) -> TestSite {
        let worker = WorkerId {
            pid: 1,
            slot: 0,
            generation: 1,
        };
        let all = std::slice::from_ref(&DETACHED_STATS);
        let app = App::new(config, worker, &DETACHED_STATS, all, &DETACHED_MASTER, 0)
            .expect("a test application");
        TestSite {
            http: h1::Site {
                limits: h1::Limits::new(limits, CONTROL_MARKER),
                prerendered: Prerendered::new(date(), &app.static_routes()),
                http2: config.http2,
                stall: config.timeouts.body.max(config.timeouts.send),
            },
            served: Cell::new(0),
            work: Cell::new(0),
            budget: Budget::new(budget),
            app: RefCell::new(app),
        }
    }

    /// The same site without pre-rendered responses: every answer takes the long way.
    pub fn without_statics(mut self) -> TestSite {
        self.http.prerendered = Prerendered::new(date(), &[]);
        self
    }

    /// The application, to hand a protocol.
    pub fn app(&self) -> RefMut<'_, App<'static>> {
        self.app.borrow_mut()
    }

    /// An environment at the current instant for connection 1, not draining, a client at
    /// no address, on the main port.
    pub fn env(&self, high_water: usize) -> Env<'_> {
        Env {
            now: Instant::now(),
            http: &self.http,
            high_water,
            draining: false,
            budget: &self.budget,
            token: 1,
            pid: 1,
            peer: Peer::Direct(None),
            tls: None,
            socket: None,
            port: PortRole::Main,
            stats: &DETACHED_STATS,
            served: &self.served,
            work: &self.work,
            access_log: None,
        }
    }

    /// Everything HTTP/1.1 writes for `request` on a fresh connection, as far as it goes
    /// without more input (for unit tests of the routes).
    pub fn answer(&self, request: &[u8]) -> Vec<u8> {
        let env = self.env(1 << 20);
        let mut input = Buf::from_slice(request);
        let mut output = Output::new();
        Http1::new().on_data(&mut input, &mut output, &env, &mut *self.app());
        let mut sent = Vec::new();
        output.drain_into(&mut sent);
        sent
    }
}

/// HPACK for the fuzzer: `data` is a byte picking the decoder's table size and the list's
/// bound, then header blocks, each after a 2-byte length (its low 12 bits; the top 4 bits
/// change the size the peer allows the encoder before the block is re-encoded).
///
/// Each block is decoded in turn until one is an error. Asserts: no panic; the fields handed
/// over stay within the bound; the decoder's memory stays within its table and scratch
/// bounds; and the fields, re-encoded by the crate's HPACK `Encoder`, decode back to
/// themselves block after block (the two dynamic tables staying in step).
pub fn hpack_decode(data: &[u8]) {
    use crate::proto::h2::hpack::{Decoded, Decoder, Encoder};

    let Some((&pick, mut rest)) = data.split_first() else {
        return;
    };
    let table = [0, 64, 256, 4096][usize::from(pick & 3)];
    let max_list = [100, 1000, 16_384, usize::MAX][usize::from((pick >> 2) & 3)];
    let sizes = [0, 100, 256, 1 << 20];
    let mut decoder = Decoder::new(table);
    let mut encoder = Encoder::new();
    let mut mirror = Decoder::new(4096);
    let mut fields: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut back: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut out = Buf::new();
    while let [hi, lo, tail @ ..] = rest {
        let head = u16::from_be_bytes([*hi, *lo]);
        let (block, after) = tail.split_at(usize::from(head & 0x0FFF).min(tail.len()));
        rest = after;
        fields.clear();
        // An error is a connection error: nothing after it is read. `TooLarge` hands over
        // a prefix of the fields, re-encoded all the same.
        let decoded = decoder.decode(block, max_list, &mut |n, v| {
            fields.push((n.to_vec(), v.to_vec()));
        });
        if decoded.is_err() {
            return;
        }
        let size: usize = fields.iter().map(|(n, v)| n.len() + v.len() + 32).sum();
        assert!(size <= max_list, "{size} past {max_list}");
        assert!(
            decoder.memory() <= 2 * table + 4096 + 256,
            "{}",
            decoder.memory()
        );

        let change = head >> 12;
        if change & 8 != 0 {
            encoder.set_peer_max_table_size(sizes[usize::from(change & 3)]);
            if change & 4 != 0 {
                encoder.set_peer_max_table_size(sizes[usize::from(!change & 3)]);
            }
        }
        out.consume(out.len());
        encoder.begin_block(&mut out);
        for (n, v) in &fields {
            encoder.field(n, v, &mut out);
        }
        back.clear();
        let again = mirror.decode(out.filled(), usize::MAX, &mut |n, v| {
            back.push((n.to_vec(), v.to_vec()));
        });
        assert_eq!(again, Ok(Decoded::Complete));
        assert_eq!(back, fields);
        assert!(encoder.memory() <= 2 * 4096 + 256);
    }
}
