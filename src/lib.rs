//! prefork-server: a master/worker HTTP/1.1 and echo server in the shape of nginx's core.
//!
//! ```text
//!                    master (serves nothing; holds every listening socket)
//!     rlimit → bind N SO_REUSEPORT listeners → fork N → [wait signal|channel|timer → reap → respawn]
//!          │ listener 0            │ listener 1                 │ listener N-1
//!      worker 0                 worker 1          …         worker N-1
//!      epoll loop: accept4 → conn: read → proto → app → write
//! ```
//!
//! # Layers
//! Imports go down these layers; the configuration and the foundations are used from all of
//! them, and the module graph has no cycle (`tests/layers.rs` fails if one comes back):
//!
//! 1. **Process**: [`master`] (the supervisor's flat wait → reap → act cycle) over [`process`]
//!    (the slot table, `fork`, `waitpid`); [`cli`] and [`config`] (the command line, as
//!    plain data); [`signals`], [`channel`], [`notify`], [`pidfile`], [`logging`].
//! 2. **Worker**: [`worker`] (the epoll loop: accept, timers, wake-ups, the memory queue)
//!    and [`conn`] (one connection: reads, writes, timeouts, lingering close).
//! 3. **Application**: [`app`], the one [`http::Handler`]: the routes, httpbin, request
//!    controls, files, `/healthz`, `/metrics`. It sees requests and answers them; it never sees
//!    a wire format.
//! 4. **Transports**: [`transport`], what carries a protocol's bytes: TLS (rustls, sans-IO,
//!    driven by the connection's reads and writes), with the PROXY header that may precede it.
//! 5. **Protocols**, sans-IO: [`proto`] (HTTP/1.1, echo, the PROXY header). They see bytes
//!    and the [`proto::Env`] the worker builds; HTTP/1.1 hands each whole request to the
//!    handler and names no route.
//! 6. **HTTP semantics**: [`http`], what both of the layers above share: requests, responses,
//!    the handler interface, dates, targets, ranges, conditionals.
//! 7. **Foundations**: [`buffer`] and [`output`] (a connection's bytes), [`memory`] (each
//!    worker's budget), [`stats`] and [`health`] (figures shared with the master), [`peer`]
//!    and [`ids`] (who is connected, and names for connections), [`access_log`], [`cidr`],
//!    [`rand`], and [`sys`], where the `unsafe` code is, beside the one `fork` and the two
//!    `unsafe impl ShmSafe` in [`stats`].
#![deny(unsafe_code)]
#![warn(
    unsafe_op_in_unsafe_fn,
    clippy::undocumented_unsafe_blocks,
    clippy::missing_safety_doc
)]

/// The crate's version and the commit it was built from (`build.rs`), for `--version`, the
/// master's first log line and `prefork_build_info` in `/metrics`.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("PREFORK_COMMIT"),
    ", ",
    env!("PREFORK_COMMIT_DATE"),
    ")"
);

pub mod access_log;
pub mod app;
pub mod buffer;
pub(crate) mod channel;
pub(crate) mod cidr;
pub mod cli;
pub mod config;
pub mod conn;
pub mod error;
pub(crate) mod health;
pub mod http;
pub mod ids;
pub mod logging;
pub mod master;
pub mod memory;
pub(crate) mod notify;
pub mod output;
pub mod peer;
pub(crate) mod pidfile;
pub(crate) mod process;
pub mod proto;
pub(crate) mod rand;
pub(crate) mod signals;
pub mod stats;
pub mod status_cmd;
pub mod sys;
pub mod testing;
pub mod transport;
pub(crate) mod worker;
