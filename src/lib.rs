//! prefork-server: a master/worker HTTP/1.1 and echo server in the shape of nginx's core.
//!
//! ```text
//!                    master (serves nothing; holds every listening socket)
//!     rlimit → bind N SO_REUSEPORT listeners → fork N → [wait signal|channel|timer → reap → respawn]
//!          │ listener 0            │ listener 1                 │ listener N-1
//!      worker 0                 worker 1          …         worker N-1
//!      epoll loop: accept4 → read → proto::on_data → write, one socket each
//! ```
//!
//! # Layout
//! - [`cli`] turns the command line and `PREFORK_*` environment into a [`config::Config`].
//! - [`master`] is the supervisor: the flat wait → reap → act cycle; [`process`] is its mechanism
//!   (the slot table, `fork`, decoding `waitpid`).
//! - [`worker`] is the per-process epoll loop; [`conn`] drives one connection's reads and writes,
//!   through its read buffer and its [`output`] queue.
//! - [`memory`] is each worker's budget for what clients make it hold beyond those buffers.
//! - [`proto`] holds the protocols, sans-IO: they see bytes and append bytes, nothing else;
//!   [`proto::proxy`] reads a PROXY protocol header before either of them begins.
//! - [`cidr`] answers whether a peer is one of `--trusted-proxies`.
//! - [`sys`] is the only place with `unsafe`: epoll, sockets, rlimits, CPU counting.
//! - [`signals`] is the one signal table, for the master and for the workers.
//! - [`stats`] and [`health`] live in a mapping the master shares with every worker: each
//!   worker's figures, and what `/healthz` answers in all of them at once.
#![deny(unsafe_code)]
#![warn(
    unsafe_op_in_unsafe_fn,
    clippy::undocumented_unsafe_blocks,
    clippy::missing_safety_doc
)]

pub mod access_log;
pub mod buffer;
pub mod channel;
pub mod cidr;
pub mod cli;
pub mod config;
pub mod conn;
pub mod error;
pub mod files;
pub mod health;
pub mod logging;
pub mod master;
pub mod memory;
pub mod metrics;
pub mod notify;
pub mod output;
pub mod pidfile;
pub mod process;
pub mod proto;
pub mod rand;
pub mod signals;
pub mod stats;
pub mod status_cmd;
pub mod sys;
pub mod worker;
