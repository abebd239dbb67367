//! `/metrics` (Prometheus text exposition, version 0.0.4) and `/status` (JSON), rendered from
//! the shared stats by whichever worker answers. Not a hot path: these allocate.

use std::fmt::Write;

use super::{text, App};
use crate::http::{Body, Length, Reply, Respond, ResponseHead, StatusCode};
use crate::stats::{
    MasterStats, WorkerStats, ACCEPT_ERROR_KINDS, DELAY_BUCKETS, FAULT_KINDS, H2_ERROR_CODES,
    H2_GUARDS, H2_RESET_DIRECTIONS, LOOP_BUCKETS, PROXY_OUTCOMES, RESTART_REASONS, TIMEOUT_KINDS,
    TLS_OUTCOMES, TLS_VERSIONS, TOO_LARGE_CAUSES, WS_CLOSE_REASONS, WS_DIRECTIONS,
};

/// A per-worker series: name, type, help, and how to read it from a slot.
type Gauge = (
    &'static str,
    &'static str,
    &'static str,
    fn(&WorkerStats) -> u64,
);

/// A per-worker series with one more label: name, label, help, label values, the counters.
type Labelled = (
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    fn(&WorkerStats) -> &[std::sync::atomic::AtomicU64],
);

const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

fn g(c: &std::sync::atomic::AtomicU64) -> u64 {
    WorkerStats::get(c)
}

/// The live workers' slots (a free slot has pid 0), ordered by slot then pid.
fn live(all: &[WorkerStats]) -> Vec<&WorkerStats> {
    let mut v: Vec<&WorkerStats> = all.iter().filter(|s| g(&s.pid) != 0).collect();
    v.sort_by_key(|s| (g(&s.slot), g(&s.pid)));
    v
}

fn labels(s: &WorkerStats) -> String {
    format!(
        "worker=\"{}\",generation=\"{}\",pid=\"{}\"",
        g(&s.slot),
        g(&s.generation),
        g(&s.pid)
    )
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// `/metrics` (`prometheus`) or `/status`: rendered for the request from every worker's
/// figures, so a pipelined run of them takes turns with the other connections.
pub(super) fn respond(app: &App<'_>, prometheus: bool, res: &mut dyn Respond) -> Reply {
    let (body, content_type): (String, &[u8]) = if prometheus {
        let body = render_prometheus(app.all_stats, app.master_stats, app.open_files_limit);
        (body, b"text/plain; version=0.0.4; charset=utf-8")
    } else {
        let body = render_status_json(app.all_stats, app.master_stats);
        (body, b"application/json")
    };
    let length = Length::Exactly(body.len() as u64);
    let head = ResponseHead::new(StatusCode::Ok, Some(content_type), length);
    match text::reply(res.send(&head, Body::Owned(body.into_bytes()))) {
        Reply::Sent => Reply::SentCostly,
        other => other,
    }
}

/// Renders every figure in the Prometheus text format.
pub(crate) fn render_prometheus(all: &[WorkerStats], master: &MasterStats, nofile: u64) -> String {
    let workers = live(all);
    let mut out = String::with_capacity(4096 + workers.len() * 4096);
    family(
        &mut out,
        "prefork_build_info",
        "gauge",
        "Always 1: the version and commit of the binary serving this scrape.",
    );
    let _ = writeln!(
        out,
        "prefork_build_info{{version=\"{}\",commit=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION"),
        env!("PREFORK_COMMIT")
    );
    family(
        &mut out,
        "prefork_workers",
        "gauge",
        "Worker processes alive.",
    );
    let _ = writeln!(out, "prefork_workers {}", workers.len());
    family(
        &mut out,
        "prefork_worker_restarts_total",
        "counter",
        "Workers replaced, by reason.",
    );
    for (reason, c) in RESTART_REASONS.iter().zip(&master.restarts) {
        let _ = writeln!(
            out,
            "prefork_worker_restarts_total{{reason=\"{reason}\"}} {}",
            g(c)
        );
    }
    family(
        &mut out,
        "prefork_open_files_limit",
        "gauge",
        "RLIMIT_NOFILE soft limit of the workers.",
    );
    let _ = writeln!(out, "prefork_open_files_limit {nofile}");
    render_health(&mut out, master);
    let simple: [Gauge; 20] = [
        (
            "prefork_worker_start_time_seconds",
            "gauge",
            "When the worker started, in Unix seconds.",
            |s| g(&s.started_unix_secs),
        ),
        (
            "prefork_connections",
            "gauge",
            "Connections open now.",
            |s| g(&s.conns_open),
        ),
        (
            "prefork_connections_max",
            "gauge",
            "Most connections open at once since the worker started.",
            |s| g(&s.conns_high_water),
        ),
        (
            "prefork_connections_accepted_total",
            "counter",
            "Connections accepted.",
            |s| g(&s.accepted),
        ),
        (
            "prefork_connections_closed_total",
            "counter",
            "Connections closed.",
            |s| g(&s.closed),
        ),
        (
            "prefork_received_bytes_total",
            "counter",
            "Bytes read from clients.",
            |s| g(&s.bytes_in),
        ),
        (
            "prefork_sent_bytes_total",
            "counter",
            "Bytes written to clients.",
            |s| g(&s.bytes_out),
        ),
        (
            "prefork_parse_errors_total",
            "counter",
            "Requests rejected as malformed or over a limit.",
            |s| g(&s.parse_errors),
        ),
        (
            "prefork_memory_budget_bytes",
            "gauge",
            "What the worker may buffer on its clients' behalf (--memory-budget).",
            |s| g(&s.memory_budget_bytes),
        ),
        (
            "prefork_buffered_body_bytes",
            "gauge",
            "Budget reserved for request bodies waiting to be answered.",
            |s| g(&s.buffered_body_bytes),
        ),
        (
            "prefork_buffered_output_bytes",
            "gauge",
            "Budget reserved for response bodies waiting to be sent.",
            |s| g(&s.buffered_output_bytes),
        ),
        (
            "prefork_buffered_tls_bytes",
            "gauge",
            "Budget reserved for TLS sessions and the record buffers of active ones.",
            |s| g(&s.buffered_tls_bytes),
        ),
        (
            "prefork_websocket_connections",
            "gauge",
            "WebSocket connections open.",
            |s| g(&s.ws_open),
        ),
        (
            "prefork_http2_streams",
            "gauge",
            "HTTP/2 streams open.",
            |s| g(&s.h2_streams),
        ),
        (
            "prefork_http2_connections_total",
            "counter",
            "Connections that spoke HTTP/2 (prior knowledge, ALPN h2 or Upgrade: h2c).",
            |s| g(&s.h2_connections),
        ),
        (
            "prefork_http2_requests_total",
            "counter",
            "Requests answered over HTTP/2.",
            |s| g(&s.h2_requests),
        ),
        (
            "prefork_memory_paused_connections",
            "gauge",
            "Connections not read from while they wait for memory.",
            |s| g(&s.memory_waiting),
        ),
        (
            "prefork_access_log_dropped_lines_total",
            "counter",
            "Access-log lines dropped because the log could not be written.",
            |s| g(&s.access_log_dropped),
        ),
        (
            "prefork_loop_turns_total",
            "counter",
            "Event-loop turns.",
            |s| g(&s.loop_turns),
        ),
        (
            "prefork_heartbeat_total",
            "counter",
            "Heartbeats (loop turns seen by the master's hang check).",
            |s| g(&s.heartbeat),
        ),
    ];
    for (name, kind, help, value) in simple {
        family(&mut out, name, kind, help);
        for s in &workers {
            let _ = writeln!(out, "{name}{{{}}} {}", labels(s), value(s));
        }
    }
    let labelled: [Labelled; 12] = [
        (
            "prefork_responses_total",
            "class",
            "Responses by status class.",
            &CLASSES,
            |s| &s.responses,
        ),
        (
            "prefork_accept_errors_total",
            "kind",
            "accept4 failures by kind.",
            &ACCEPT_ERROR_KINDS,
            |s| &s.accept_errors,
        ),
        (
            "prefork_timeouts_total",
            "kind",
            "Connections timed out, by timeout.",
            &TIMEOUT_KINDS,
            |s| &s.timeouts,
        ),
        (
            "prefork_body_too_large_total",
            "cause",
            "413 responses by cause.",
            &TOO_LARGE_CAUSES,
            |s| &s.too_large,
        ),
        (
            "prefork_proxy_headers_total",
            "outcome",
            "PROXY protocol headers: read, refused (untrusted source), malformed, timed out.",
            &PROXY_OUTCOMES,
            |s| &s.proxy_headers,
        ),
        (
            "prefork_tls_handshakes_total",
            "outcome",
            "TLS handshakes: full, resumed, failed (alert), plain HTTP to the TLS port, timed \
             out, closed by the client, refused for memory.",
            &TLS_OUTCOMES,
            |s| &s.tls_handshakes,
        ),
        (
            "prefork_tls_sessions_total",
            "version",
            "TLS sessions established, by protocol version.",
            &TLS_VERSIONS,
            |s| &s.tls_versions,
        ),
        (
            "prefork_websocket_messages_total",
            "direction",
            "WebSocket messages received and sent.",
            &WS_DIRECTIONS,
            |s| &s.ws_messages,
        ),
        (
            "prefork_websocket_closes_total",
            "reason",
            "WebSocket connections ended: closed by the client, going away (stop, reload, idle), \
             protocol error, invalid data, too big, too many frames, ping timeout, close or drop \
             fault.",
            &WS_CLOSE_REASONS,
            |s| &s.ws_closes,
        ),
        (
            "prefork_http2_goaways_total",
            "code",
            "HTTP/2 GOAWAY frames sent, by error code.",
            &H2_ERROR_CODES,
            |s| &s.h2_goaways,
        ),
        (
            "prefork_http2_resets_total",
            "direction",
            "HTTP/2 RST_STREAM frames sent and received.",
            &H2_RESET_DIRECTIONS,
            |s| &s.h2_resets,
        ),
        (
            "prefork_http2_guards_total",
            "guard",
            "HTTP/2 connections ended by a guard (GOAWAY ENHANCE_YOUR_CALM), by flood: ping, \
             settings, reset, empty frames, control frames, refused streams, header block \
             size; and header lists over the limit (answered 431).",
            &H2_GUARDS,
            |s| &s.h2_floods,
        ),
    ];
    for (name, label, help, values, counters) in labelled {
        family(&mut out, name, "counter", help);
        for s in &workers {
            for (v, c) in values.iter().zip(counters(s)) {
                let _ = writeln!(out, "{name}{{{},{label}=\"{v}\"}} {}", labels(s), g(c));
            }
        }
    }
    family(
        &mut out,
        "prefork_open_fds",
        "gauge",
        "Open file descriptors of the worker (sampled by it once a second).",
    );
    for s in &workers {
        let _ = writeln!(out, "prefork_open_fds{{{}}} {}", labels(s), g(&s.open_fds));
    }
    let name = "prefork_loop_turn_seconds";
    family(
        &mut out,
        name,
        "histogram",
        "Time spent in one event-loop turn.",
    );
    for s in &workers {
        let mut cumulative = 0;
        for (i, c) in s
            .loop_turn_buckets
            .iter()
            .enumerate()
            .take(LOOP_BUCKETS - 1)
        {
            cumulative += g(c);
            let le = (1u64 << i) as f64 / 1e6;
            let _ = writeln!(
                out,
                "{name}_bucket{{{},le=\"{le}\"}} {cumulative}",
                labels(s)
            );
        }
        let count = g(&s.loop_turns);
        let _ = writeln!(out, "{name}_bucket{{{},le=\"+Inf\"}} {count}", labels(s));
        let _ = writeln!(
            out,
            "{name}_sum{{{}}} {}",
            labels(s),
            g(&s.loop_turn_nanos) as f64 / 1e9
        );
        let _ = writeln!(out, "{name}_count{{{}}} {count}", labels(s));
    }
    render_injected(&mut out, &workers);
    out
}

/// What request controls injected: the delay histogram, faults by kind, chosen statuses.
fn render_injected(out: &mut String, workers: &[&WorkerStats]) {
    let name = "prefork_injected_delay_seconds";
    family(
        out,
        name,
        "histogram",
        "Delays injected by request controls.",
    );
    for s in workers {
        let mut cumulative = 0;
        for (i, c) in s.injected_delay_buckets.iter().enumerate() {
            cumulative += g(c);
            if i + 1 < DELAY_BUCKETS {
                let le = (1u64 << i) as f64 / 1e3;
                let _ = writeln!(
                    out,
                    "{name}_bucket{{{},le=\"{le}\"}} {cumulative}",
                    labels(s)
                );
            }
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{},le=\"+Inf\"}} {cumulative}",
            labels(s)
        );
        let sum = g(&s.injected_delay_nanos) as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum{{{}}} {sum}", labels(s));
        let _ = writeln!(out, "{name}_count{{{}}} {cumulative}", labels(s));
    }
    let name = "prefork_injected_faults_total";
    family(
        out,
        name,
        "counter",
        "Faults injected by request controls, by kind.",
    );
    for s in workers {
        for (kind, c) in FAULT_KINDS.iter().zip(&s.injected_faults) {
            let _ = writeln!(out, "{name}{{{},kind=\"{kind}\"}} {}", labels(s), g(c));
        }
    }
    let name = "prefork_injected_statuses_total";
    family(
        out,
        name,
        "counter",
        "Responses whose status a request control chose.",
    );
    for s in workers {
        let _ = writeln!(out, "{name}{{{}}} {}", labels(s), g(&s.injected_statuses));
    }
}

/// What `/healthz` answers in every worker: a state set (1 for the current state), the failing
/// status and share, and the changes made.
fn render_health(out: &mut String, master: &MasterStats) {
    let now = master.health.snapshot();
    let (status, percent) = now.failing();
    let name = "prefork_health_state";
    family(
        out,
        name,
        "gauge",
        "What /healthz answers: 1 for the current state.",
    );
    for state in ["ok", "failing", "draining"] {
        let on = u8::from(state == now.state());
        let _ = writeln!(out, "{name}{{state=\"{state}\"}} {on}");
    }
    let series: [(&str, &str, &str, f64); 3] = [
        (
            "prefork_health_fail_status",
            "gauge",
            "The status a failing /healthz answers (0 when ok).",
            f64::from(status),
        ),
        (
            "prefork_health_fail_ratio",
            "gauge",
            "The share of /healthz checks that fail (0 to 1), draining aside.",
            f64::from(percent) / 100.0,
        ),
        (
            "prefork_health_changes_total",
            "counter",
            "Changes of /healthz taken (PUT, DELETE, GET ?fail=).",
            master.health.changes() as f64,
        ),
    ];
    for (name, kind, help, value) in series {
        family(out, name, kind, help);
        let _ = writeln!(out, "{name} {value}");
    }
}

/// The same figures as JSON: one object per worker, plus totals.
pub(crate) fn render_status_json(all: &[WorkerStats], master: &MasterStats) -> String {
    let workers = live(all);
    let mut out = String::from("{\"workers\":[");
    let mut totals = [0u64; 9];
    for (i, s) in workers.iter().enumerate() {
        let r: Vec<u64> = s.responses.iter().map(g).collect();
        let row = [
            g(&s.conns_open),
            g(&s.accepted),
            g(&s.closed),
            r.iter().sum(),
            g(&s.bytes_in),
            g(&s.bytes_out),
            g(&s.parse_errors),
            s.timeouts.iter().map(g).sum(),
            s.accept_errors.iter().map(g).sum(),
        ];
        for (t, v) in totals.iter_mut().zip(row) {
            *t += v;
        }
        let _ = write!(
            out,
            "{}{{\"slot\":{},\"pid\":{},\"generation\":{},\"started_unix\":{},\"connections\":{},\
             \"connections_max\":{},\"accepted\":{},\"closed\":{},\"requests\":{},\
             \"responses\":{{\"1xx\":{},\"2xx\":{},\"3xx\":{},\"4xx\":{},\"5xx\":{}}},\
             \"bytes_in\":{},\"bytes_out\":{},\"parse_errors\":{},\"timeouts\":{},\
             \"accept_errors\":{},\"loop_turns\":{},\"buffered_body_bytes\":{},\
             \"buffered_output_bytes\":{},\"memory_paused\":{},\"access_log_dropped\":{}}}",
            if i == 0 { "" } else { "," },
            g(&s.slot),
            g(&s.pid),
            g(&s.generation),
            g(&s.started_unix_secs),
            row[0],
            g(&s.conns_high_water),
            row[1],
            row[2],
            row[3],
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            row[4],
            row[5],
            row[6],
            row[7],
            row[8],
            g(&s.loop_turns),
            g(&s.buffered_body_bytes),
            g(&s.buffered_output_bytes),
            g(&s.memory_waiting),
            g(&s.access_log_dropped),
        );
    }
    let restarts: Vec<u64> = master.restarts.iter().map(g).collect();
    let health = master.health.snapshot();
    let (fail_status, fail_percent) = health.failing();
    let _ = write!(
        out,
        "],\"totals\":{{\"workers\":{},\"connections\":{},\"accepted\":{},\"closed\":{},\
         \"requests\":{},\"bytes_in\":{},\"bytes_out\":{},\"parse_errors\":{},\"timeouts\":{},\
         \"accept_errors\":{}}},\"restarts\":{{\"crashed\":{},\"hung\":{},\"recycled\":{}}},\
         \"health\":{{\"draining\":{},\"fail_status\":{},\"fail_percent\":{}}}}}",
        workers.len(),
        totals[0],
        totals[1],
        totals[2],
        totals[3],
        totals[4],
        totals[5],
        totals[6],
        totals[7],
        totals[8],
        restarts[0],
        restarts[1],
        restarts[2],
        u8::from(health.draining),
        fail_status,
        fail_percent,
    );
    out
}
