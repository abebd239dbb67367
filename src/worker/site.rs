//! What every connection of a worker draws on, and the [`Env`] each drive is given: the
//! protocols' shared state (limits, what is rendered once a second), the budget, the counters
//! and the access log. The application is the worker's own field beside it (`Worker::app`),
//! so a drive can lend both at once.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::time::{Instant, SystemTime};

use crate::access_log::AccessLog;
use crate::config;
use crate::http::PortRole;
use crate::memory::Budget;
use crate::peer::{Peer, Socket};
use crate::proto::{h1, Env};
use crate::stats::WorkerStats;

pub(super) struct Site<'a> {
    /// `--access-log`, opened by this worker.
    pub(super) access_log: Option<RefCell<AccessLog>>,
    /// HTTP/1.1's limits and pre-rendered responses.
    pub(super) http: h1::Site,
    pub(super) stats: &'a WorkerStats,
    pub(super) draining: bool,
    /// Requests answered, counted by the protocol.
    pub(super) served: Cell<u64>,
    /// Work done by the drives of this loop turn (see `conn::DRIVE_WORK`).
    pub(super) work: Cell<u64>,
    /// What the worker may buffer on its clients' behalf beyond their buffers.
    pub(super) budget: Budget,
    pub(super) pid: u32,
}

impl Site<'_> {
    /// Advances the clock for this loop turn; re-renders what carries the date. True when a
    /// new second began.
    pub(super) fn update_date(&mut self) -> bool {
        self.http.prerendered.update(SystemTime::now())
    }

    /// The environment for driving connection `token`, whose client is `peer`, accepted on
    /// the operators' port if `admin`.
    #[inline(always)]
    pub(super) fn env(
        &self,
        now: Instant,
        token: u64,
        peer: Option<SocketAddr>,
        socket: Socket,
        admin: bool,
    ) -> Env<'_> {
        Env {
            now,
            http: &self.http,
            high_water: config::OUTPUT_HIGH_WATER,
            draining: self.draining,
            budget: &self.budget,
            token,
            pid: self.pid,
            peer: Peer::Direct(peer),
            tls: None,
            socket: Some(socket),
            port: if admin {
                PortRole::Admin
            } else {
                PortRole::Main
            },
            stats: self.stats,
            served: &self.served,
            work: &self.work,
            access_log: self.access_log.as_ref(),
        }
    }
}
