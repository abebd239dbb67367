//! Per-worker statistics in shared memory: one cache-aligned slot per worker process, written
//! only by that worker with relaxed loads and stores (no syscall, no lock, no allocation), read by any
//! worker answering `/metrics` or `/status`, and by the master (heartbeats, restarts).

use std::sync::atomic::{AtomicU64, Ordering};

use crate::health::Health;
use crate::sys::shm::ShmSafe;

/// Buckets of the loop-turn latency histogram: turns taking at most 2^i µs, i = 0..15
/// (1 µs … 32.8 ms); longer turns land in the last bucket.
pub const LOOP_BUCKETS: usize = 16;

/// Timeouts by kind, in this order.
pub const TIMEOUT_KINDS: [&str; 6] = ["header", "body", "keepalive", "send", "idle", "linger"];

/// Which timeout fired: the index into `WorkerStats::timeouts`, named as in `TIMEOUT_KINDS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutKind {
    Header,
    Body,
    Keepalive,
    Send,
    Idle,
    Linger,
}

/// Accept errors by kind, in this order.
pub const ACCEPT_ERROR_KINDS: [&str; 3] = ["emfile", "enfile", "other"];

/// 413 responses by cause, in this order: a Content-Length over `--max-body-bytes`, a chunked
/// body that grew over it, a body larger than the worker's whole memory budget.
pub const TOO_LARGE_CAUSES: [&str; 3] = ["declared", "chunked", "budget"];

/// Buckets of the injected-delay histogram: delays of at most 2^i ms, i = 0..14 (1 ms …
/// 8.2 s); longer ones land in the last bucket.
pub const DELAY_BUCKETS: usize = 15;

/// What became of PROXY protocol headers, in this order: read, refused (the peer is not in
/// `--trusted-proxies`: closed at accept, before a byte is read), malformed, not in time.
pub const PROXY_OUTCOMES: [&str; 4] = ["accepted", "refused", "malformed", "timeout"];

/// An outcome of a PROXY header: the index into `WorkerStats::proxy_headers`, named as in
/// `PROXY_OUTCOMES`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyOutcome {
    Accepted,
    Refused,
    Malformed,
    TimedOut,
}

/// What became of TLS handshakes, in this order: done in full, done by resuming a session,
/// failed (an alert: a bad ClientHello, no common version or suite, a refused client
/// certificate), plaintext HTTP sent to the TLS port (answered 400), not done in time, the
/// client went away first, refused at accept because the memory budget was spent.
pub const TLS_OUTCOMES: [&str; 7] = [
    "full",
    "resumed",
    "failed",
    "plain_http",
    "timeout",
    "closed",
    "no_memory",
];

/// Why WebSocket connections ended, in this order: the client closed, the server went away
/// (a stop, a reload, an upgrade, an idle timeout), the client broke the protocol (1002), sent
/// text that is not UTF-8 or compressed data that does not inflate (1007), a message too big
/// (1009) or in too many frames (1008), a ping went unanswered, a `close=` or `drop=` fault.
pub const WS_CLOSE_REASONS: [&str; 9] = [
    "client",
    "going_away",
    "protocol_error",
    "invalid_data",
    "too_big",
    "too_many_frames",
    "ping_timeout",
    "fault_close",
    "fault_drop",
];

/// HTTP/2 error codes (RFC 9113 §7) in numeric order: the labels of `WorkerStats::h2_goaways`.
pub const H2_ERROR_CODES: [&str; 14] = [
    "no_error",
    "protocol_error",
    "internal_error",
    "flow_control_error",
    "settings_timeout",
    "stream_closed",
    "frame_size_error",
    "refused_stream",
    "cancel",
    "compression_error",
    "connect_error",
    "enhance_your_calm",
    "inadequate_security",
    "http_1_1_required",
];

/// HTTP/2 guards by class (`WorkerStats::h2_floods`; see `proto::h2::guard`).
pub const H2_GUARDS: [&str; 8] = [
    "ping",
    "settings",
    "reset",
    "empty",
    "control",
    "refused",
    "header_block",
    "header_list",
];

/// HTTP/2 stream resets by who sent them (`WorkerStats::h2_resets`).
pub const H2_RESET_DIRECTIONS: [&str; 2] = ["sent", "received"];

/// WebSocket messages by direction (`WorkerStats::ws_messages`).
pub const WS_DIRECTIONS: [&str; 2] = ["received", "sent"];

/// An outcome of a TLS handshake: the index into `WorkerStats::tls_handshakes`, named as in
/// `TLS_OUTCOMES`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsOutcome {
    Full,
    Resumed,
    Failed,
    PlainHttp,
    TimedOut,
    Closed,
    NoMemory,
}

/// Established TLS sessions by protocol version, in this order.
pub const TLS_VERSIONS: [&str; 2] = ["TLSv1.3", "TLSv1.2"];

/// Injected faults by kind, in this order (request controls).
pub const FAULT_KINDS: [&str; 4] = ["close", "rst", "truncate", "stall"];

const fn zeros<const N: usize>() -> [AtomicU64; N] {
    [const { AtomicU64::new(0) }; N]
}

/// One worker's figures. A respawned worker's slot is reset by the master before the fork.
#[derive(Debug)]
#[repr(C, align(64))]
pub struct WorkerStats {
    /// 0 while the slot is free.
    pub pid: AtomicU64,
    pub slot: AtomicU64,
    pub generation: AtomicU64,
    pub started_unix_secs: AtomicU64,
    /// Bumped on every loop turn; the master kills a worker whose heartbeat stands still.
    pub heartbeat: AtomicU64,
    pub conns_open: AtomicU64,
    pub conns_high_water: AtomicU64,
    pub accepted: AtomicU64,
    pub closed: AtomicU64,
    /// Responses by status class: 1xx, 2xx, 3xx, 4xx, 5xx.
    pub responses: [AtomicU64; 5],
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    pub accept_errors: [AtomicU64; 3],
    pub timeouts: [AtomicU64; 6],
    pub parse_errors: AtomicU64,
    /// 413s by cause (`TOO_LARGE_CAUSES`).
    pub too_large: [AtomicU64; 3],
    /// Gauges of the memory budget: bytes reserved for request bodies and for response bodies,
    /// and connections waiting for memory (refreshed every loop turn).
    pub buffered_body_bytes: AtomicU64,
    pub buffered_output_bytes: AtomicU64,
    pub memory_waiting: AtomicU64,
    /// The budget itself, per worker.
    pub memory_budget_bytes: AtomicU64,
    /// Access-log lines dropped (the log could not be written and its backlog was full).
    pub access_log_dropped: AtomicU64,
    /// Descriptors the worker has open, sampled by the worker itself at most once a second,
    /// so a scrape never walks another process's fd table.
    pub open_fds: AtomicU64,
    pub loop_turns: AtomicU64,
    pub loop_turn_buckets: [AtomicU64; LOOP_BUCKETS],
    pub loop_turn_nanos: AtomicU64,
    /// Delays injected by request controls: a histogram (`DELAY_BUCKETS`) and their sum.
    pub injected_delay_buckets: [AtomicU64; DELAY_BUCKETS],
    pub injected_delay_nanos: AtomicU64,
    /// Faults injected by request controls (`FAULT_KINDS`).
    pub injected_faults: [AtomicU64; 4],
    /// Responses whose status a request control chose.
    pub injected_statuses: AtomicU64,
    /// PROXY protocol headers by outcome (`PROXY_OUTCOMES`).
    pub proxy_headers: [AtomicU64; 4],
    /// TLS handshakes by outcome (`TLS_OUTCOMES`), and sessions by version (`TLS_VERSIONS`).
    pub tls_handshakes: [AtomicU64; 7],
    pub tls_versions: [AtomicU64; 2],
    /// Gauge of the memory budget: bytes reserved for TLS sessions and their record buffers.
    pub buffered_tls_bytes: AtomicU64,
    /// Gauge: WebSocket connections open.
    pub ws_open: AtomicU64,
    /// WebSocket messages received and sent (`WS_DIRECTIONS`).
    pub ws_messages: [AtomicU64; 2],
    /// WebSocket connections ended, by reason (`WS_CLOSE_REASONS`).
    pub ws_closes: [AtomicU64; 9],
    /// HTTP/2 connections begun, and requests answered over HTTP/2.
    pub h2_connections: AtomicU64,
    pub h2_requests: AtomicU64,
    /// Gauge: HTTP/2 streams open.
    pub h2_streams: AtomicU64,
    /// GOAWAY frames sent, by error code (RFC 9113 §7, in numeric order).
    pub h2_goaways: [AtomicU64; 14],
    /// RST_STREAM frames sent and received (`H2_RESET_DIRECTIONS`).
    pub h2_resets: [AtomicU64; 2],
    /// Guards tripped, by class (`proto::h2::guard::Flood::LABELS`).
    pub h2_floods: [AtomicU64; 8],
}

// SAFETY: every field is an AtomicU64 (all-zero bytes are 0) and is only accessed atomically.
#[allow(unsafe_code)]
unsafe impl ShmSafe for WorkerStats {}

impl WorkerStats {
    pub const fn zeroed() -> WorkerStats {
        WorkerStats {
            pid: AtomicU64::new(0),
            slot: AtomicU64::new(0),
            generation: AtomicU64::new(0),
            started_unix_secs: AtomicU64::new(0),
            heartbeat: AtomicU64::new(0),
            conns_open: AtomicU64::new(0),
            conns_high_water: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            closed: AtomicU64::new(0),
            responses: zeros(),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            accept_errors: zeros(),
            timeouts: zeros(),
            parse_errors: AtomicU64::new(0),
            too_large: zeros(),
            buffered_body_bytes: AtomicU64::new(0),
            buffered_output_bytes: AtomicU64::new(0),
            memory_waiting: AtomicU64::new(0),
            memory_budget_bytes: AtomicU64::new(0),
            open_fds: AtomicU64::new(0),
            access_log_dropped: AtomicU64::new(0),
            loop_turns: AtomicU64::new(0),
            loop_turn_buckets: zeros(),
            loop_turn_nanos: AtomicU64::new(0),
            injected_delay_buckets: zeros(),
            injected_delay_nanos: AtomicU64::new(0),
            injected_faults: zeros(),
            injected_statuses: AtomicU64::new(0),
            proxy_headers: zeros(),
            tls_handshakes: zeros(),
            tls_versions: zeros(),
            buffered_tls_bytes: AtomicU64::new(0),
            ws_open: AtomicU64::new(0),
            ws_messages: zeros(),
            ws_closes: zeros(),
            h2_connections: AtomicU64::new(0),
            h2_requests: AtomicU64::new(0),
            h2_streams: AtomicU64::new(0),
            h2_goaways: zeros(),
            h2_resets: zeros(),
            h2_floods: zeros(),
        }
    }

    /// Clears every figure (the master, before forking a worker into this slot).
    pub fn reset(&self) {
        let all = self.counters();
        for c in all {
            c.store(0, Ordering::Relaxed);
        }
    }

    fn counters(&self) -> impl Iterator<Item = &AtomicU64> {
        [
            &self.pid,
            &self.slot,
            &self.generation,
            &self.started_unix_secs,
            &self.heartbeat,
            &self.conns_open,
            &self.conns_high_water,
            &self.accepted,
            &self.closed,
            &self.bytes_in,
            &self.bytes_out,
            &self.parse_errors,
            &self.buffered_body_bytes,
            &self.buffered_output_bytes,
            &self.memory_waiting,
            &self.memory_budget_bytes,
            &self.open_fds,
            &self.access_log_dropped,
            &self.loop_turns,
            &self.loop_turn_nanos,
            &self.injected_delay_nanos,
            &self.injected_statuses,
        ]
        .into_iter()
        .chain(&self.responses)
        .chain(&self.accept_errors)
        .chain(&self.timeouts)
        .chain(&self.too_large)
        .chain(&self.loop_turn_buckets)
        .chain(&self.injected_delay_buckets)
        .chain(&self.injected_faults)
        .chain(&self.proxy_headers)
        .chain(&self.tls_handshakes)
        .chain(&self.tls_versions)
        .chain(std::iter::once(&self.buffered_tls_bytes))
        .chain(std::iter::once(&self.ws_open))
        .chain(&self.ws_messages)
        .chain(&self.ws_closes)
        .chain([&self.h2_connections, &self.h2_requests, &self.h2_streams])
        .chain(&self.h2_goaways)
        .chain(&self.h2_resets)
        .chain(&self.h2_floods)
    }

    /// Adds to a counter of this worker's own slot. A slot has one writer (its worker; the
    /// master touches it only before the fork and after the reap), so a plain load and store
    /// does: no locked read-modify-write on the per-request path, and readers still see whole,
    /// never-decreasing values.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.store(
            counter.load(Ordering::Relaxed).wrapping_add(n),
            Ordering::Relaxed,
        );
    }

    /// Takes from a gauge of this worker's own slot (as [`WorkerStats::add`]); never below 0.
    pub fn sub(gauge: &AtomicU64, n: u64) {
        gauge.store(
            gauge.load(Ordering::Relaxed).saturating_sub(n),
            Ordering::Relaxed,
        );
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// A connection opened: open count, its high-water mark, and the accepted total.
    pub fn on_accept(&self) {
        Self::add(&self.conns_open, 1);
        let open = Self::get(&self.conns_open);
        if open > Self::get(&self.conns_high_water) {
            self.conns_high_water.store(open, Ordering::Relaxed);
        }
        Self::add(&self.accepted, 1);
    }

    pub fn on_close(&self) {
        Self::add(&self.conns_open, u64::MAX); // wrapping: minus one
        Self::add(&self.closed, 1);
    }

    /// A timeout fired.
    pub fn on_timeout(&self, kind: TimeoutKind) {
        Self::add(&self.timeouts[kind as usize], 1);
    }

    /// A TLS handshake ended (`version`: the index into `TLS_VERSIONS` of a session made).
    pub fn on_tls(&self, outcome: TlsOutcome, version: Option<usize>) {
        Self::add(&self.tls_handshakes[outcome as usize], 1);
        if let Some(v) = version.and_then(|v| self.tls_versions.get(v)) {
            Self::add(v, 1);
        }
    }

    /// A PROXY header was read, refused, malformed or late.
    pub fn on_proxy(&self, outcome: ProxyOutcome) {
        Self::add(&self.proxy_headers[outcome as usize], 1);
    }

    /// A response with this status code was written.
    pub fn on_response(&self, status: u16) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        Self::add(&self.responses[class], 1);
    }

    /// A request control delayed a response by `delay`.
    pub fn on_injected_delay(&self, delay: std::time::Duration) {
        let nanos = delay.as_nanos().min(u128::from(u64::MAX)) as u64;
        Self::add(&self.injected_delay_nanos, nanos);
        let millis = nanos.div_ceil(1_000_000).max(1);
        let bucket = (64 - (millis - 1).leading_zeros() as usize).min(DELAY_BUCKETS - 1);
        Self::add(&self.injected_delay_buckets[bucket], 1);
    }

    /// One event-loop turn took `nanos`.
    pub fn on_loop_turn(&self, nanos: u64) {
        Self::add(&self.loop_turns, 1);
        Self::add(&self.loop_turn_nanos, nanos);
        let micros = nanos.div_ceil(1000).max(1);
        let bucket = (64 - (micros - 1).leading_zeros() as usize).min(LOOP_BUCKETS - 1);
        Self::add(&self.loop_turn_buckets[bucket], 1);
    }
}

/// The master's figures, and the state every worker reads, shared the same way (one instance).
#[derive(Debug)]
#[repr(C, align(64))]
pub struct MasterStats {
    /// Worker restarts by reason: crashed, hung, recycled.
    pub restarts: [AtomicU64; 3],
    /// What `/healthz` answers, in every worker (see `health.rs`).
    pub health: Health,
}

/// Restart reasons, in the order of `MasterStats::restarts`.
pub const RESTART_REASONS: [&str; 3] = ["crashed", "hung", "recycled"];

/// Why the master replaced a worker: the index into `MasterStats::restarts`, named as in
/// `RESTART_REASONS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    Crashed,
    Hung,
    Recycled,
}

// SAFETY: only AtomicU64 fields (`Health` holds nothing else), only accessed atomically; all
// zero bytes are no restarts and a healthy, not draining state.
#[allow(unsafe_code)]
unsafe impl ShmSafe for MasterStats {}

impl MasterStats {
    pub const fn zeroed() -> MasterStats {
        MasterStats {
            restarts: zeros(),
            health: Health::new(),
        }
    }

    /// Counts a restart (rare: a plain atomic add will do).
    pub fn on_restart(&self, why: Restart) {
        self.restarts[why as usize].fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_enums_index_their_name_tables() {
        assert_eq!(TIMEOUT_KINDS[TimeoutKind::Header as usize], "header");
        assert_eq!(TIMEOUT_KINDS[TimeoutKind::Linger as usize], "linger");
        assert_eq!(TIMEOUT_KINDS.len(), TimeoutKind::Linger as usize + 1);
        assert_eq!(RESTART_REASONS[Restart::Crashed as usize], "crashed");
        assert_eq!(RESTART_REASONS[Restart::Recycled as usize], "recycled");
        assert_eq!(RESTART_REASONS.len(), Restart::Recycled as usize + 1);
        assert_eq!(PROXY_OUTCOMES[ProxyOutcome::Refused as usize], "refused");
        assert_eq!(PROXY_OUTCOMES.len(), ProxyOutcome::TimedOut as usize + 1);
    }

    #[test]
    fn loop_turn_buckets_are_log2_microseconds() {
        let s = WorkerStats::zeroed();
        s.on_loop_turn(500); // ≤ 1 µs
        s.on_loop_turn(1_500); // ≤ 2 µs
        s.on_loop_turn(3_000); // ≤ 4 µs
        s.on_loop_turn(10_000_000_000); // 10 s: the last bucket
        let b: Vec<u64> = s.loop_turn_buckets.iter().map(WorkerStats::get).collect();
        assert_eq!(&b[..3], &[1, 1, 1]);
        assert_eq!(b[LOOP_BUCKETS - 1], 1);
        assert_eq!(WorkerStats::get(&s.loop_turns), 4);
    }

    #[test]
    fn connections_and_responses() {
        let s = WorkerStats::zeroed();
        s.on_accept();
        s.on_accept();
        s.on_close();
        s.on_response(200);
        s.on_response(404);
        s.on_response(503);
        assert_eq!(WorkerStats::get(&s.conns_open), 1);
        assert_eq!(WorkerStats::get(&s.conns_high_water), 2);
        assert_eq!(WorkerStats::get(&s.closed), 1);
        let r: Vec<u64> = s.responses.iter().map(WorkerStats::get).collect();
        assert_eq!(r, [0, 1, 0, 1, 1]);
        s.reset();
        assert_eq!(WorkerStats::get(&s.accepted), 0);
    }
}
