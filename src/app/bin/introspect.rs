//! `/inspect`: the request, its connection, the worker and the kernel's view of the socket, as
//! JSON, for seeing what a proxy or a load balancer in front does:
//!
//! - `method`, `target` and `version` as the request line had them (the target not decoded);
//! - `headers`: every field line as a `[name, value]` pair, in arrival order, the name in the
//!   case it came in and duplicates kept (httpbin's `headers` object title-cases, joins and
//!   sorts, which hides exactly what a proxy changed); values trimmed of the spaces around
//!   them, which are not part of a value (RFC 9110 §5.5). `/raw` has the untrimmed bytes;
//! - `peer` and `local`: the socket's peer (from `accept4`: the proxy, on a connection that
//!   came with a PROXY header) and the address it reached (`getsockname`, asked only here);
//! - `proxy`: what the connection's PROXY protocol header said (`--proxy-protocol`):
//!   `version` (1 or 2), `command` (`PROXY` or `LOCAL`), `source` and `destination` (`null`
//!   where the header names none: v1 `UNKNOWN`, v2 `LOCAL` or `UNSPEC`), `tlvs` (how many v2
//!   TLVs it carried) and `client` (the address every other place shows); `null` without one;
//! - `tls`: what the connection's handshake settled: `version`, `cipher`, `sni`, `alpn`,
//!   `resumed`, and `client_certificate` (`subject`, `issuer`, `sha256` of its DER bytes)
//!   under mutual TLS; `null` over plaintext;
//! - `x_forwarded_for` and `forwarded`: those fields parsed ([`super::forwarded`]), `null`
//!   when the request has none;
//! - `connection`: `id` ([`ConnectionId`](crate::ids::ConnectionId): the same on every request of a connection, and
//!   the one the JSON access log writes) and `request_index` (0 for a connection's first
//!   request): whether a proxy pools connections or pipelines requests shows here; and
//!   `stream`, the HTTP/2 stream id (`null` over HTTP/1.x). Over HTTP/2, `method`, `target`
//!   and `version` come from `:method` and `:path` (`HTTP/2.0`), `headers` are the decoded
//!   header list (names in lower case, `:authority` as `host`);
//! - `worker`: `pid`, `slot`, `generation`, as `/whoami` has them;
//! - `tcp_info`: the kernel's figures for the connection (`getsockopt(TCP_INFO)`: RTT in
//!   microseconds, retransmissions, congestion window, path MTU…), `null` where there are none
//!   (no socket, or not TCP). Fields a kernel older than our struct does not fill are left out.
//!
//! Keys are in that order, not sorted: this is not an httpbin route. The document is bounded by
//! the head (at most `--max-header-bytes`), and goes through the memory budget like every
//! httpbin answer.

use std::mem::offset_of;

use super::forwarded;
use super::json::{escape, Json};
use super::reply::{Resp, Work};
use super::request::Request;
use crate::http::{Reply, StatusCode};
use crate::ids::WorkerId;
use crate::peer::{Endpoint, Proxied, TcpFigures, TlsFacts};

pub(super) fn respond(r: &mut Resp<'_, '_>) -> Reply {
    let req = r.req;
    let ex = r.ex;
    let request_index = ex.index;
    let stream = ex.stream;
    // Asked once, outside the rendering (which may run twice: to count, then to write).
    let facts = ex.socket.map(|s| s.facts()).unwrap_or_default();
    let peer = ex.peer.socket().map(|a| a.to_string());
    let proxy = ex.peer.proxy();
    let local = facts.local.map(|a| a.to_string());
    let id = ex.connection.to_string();
    let worker = r.bin.worker;
    r.json(StatusCode::Ok, &[], &|j, work| {
        j.open();
        write_request_line(j, &req);
        write_headers(j, &req, work);
        j.key(b"peer");
        optional_string(j, peer.as_deref());
        j.key(b"local");
        optional_string(j, local.as_deref());
        write_proxy(j, proxy);
        write_tls(j, ex.tls);
        write_forwarding(j, &req);
        j.key(b"connection").open();
        j.key(b"id").string(id.as_bytes());
        j.key(b"request_index").number(request_index);
        j.key(b"stream");
        match stream {
            Some(id) => {
                j.number(u64::from(id));
            }
            None => {
                j.raw(b"null");
            }
        }
        j.close();
        write_worker(j, worker);
        j.key(b"tcp_info");
        match &facts.tcp {
            Some(tcp) => write_tcp_info(j, tcp),
            None => {
                j.raw(b"null");
            }
        }
        j.close().finish();
    })
}

/// `method`, `target`, `version`: the request line's three parts as sent.
fn write_request_line(j: &mut Json<'_>, req: &Request<'_>) {
    let line = req.head.request_line().unwrap_or_default();
    // The parser took exactly one space between the parts (httparse's default).
    let mut parts = line.splitn(3, |&b| b == b' ');
    for key in [&b"method"[..], b"target", b"version"] {
        j.key(key).string(parts.next().unwrap_or_default());
    }
}

/// `headers`: `[name, value]` pairs, one per line (each pair on one line of the document).
fn write_headers(j: &mut Json<'_>, req: &Request<'_>, work: &mut Work) {
    let text = &mut work.text;
    j.key(b"headers").open_array();
    for (name, value) in req.fields() {
        text.clear();
        text.push(b'[');
        escape(text, name);
        text.extend_from_slice(b", ");
        escape(text, value);
        text.push(b']');
        j.raw(text);
    }
    j.close_array();
}

/// The values of every field line named `name` (any case), in order.
fn values<'a>(req: &Request<'a>, name: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
    req.fields()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// `x_forwarded_for` (a list of hops) and `forwarded` (a list of objects), or `null` each.
fn write_forwarding(j: &mut Json<'_>, req: &Request<'_>) {
    j.key(b"x_forwarded_for");
    if values(req, b"x-forwarded-for").next().is_none() {
        j.raw(b"null");
    } else {
        j.open_array();
        for hop in forwarded::x_forwarded_for(values(req, b"x-forwarded-for")) {
            j.string(hop);
        }
        j.close_array();
    }
    j.key(b"forwarded");
    if values(req, b"forwarded").next().is_none() {
        j.raw(b"null");
        return;
    }
    j.open_array();
    for element in forwarded::forwarded(values(req, b"forwarded")) {
        j.open();
        for (name, value) in &element {
            j.key(name).string(value);
        }
        j.close();
    }
    j.close_array();
}

fn write_proxy(j: &mut Json<'_>, proxy: Option<&Proxied>) {
    j.key(b"proxy");
    let Some(p) = proxy else {
        j.raw(b"null");
        return;
    };
    let text = |e: &Option<_>| e.as_ref().map(|e: &Endpoint| e.to_string());
    j.open();
    j.key(b"version").number(p.version.number());
    j.key(b"command").string(p.command.name().as_bytes());
    j.key(b"source");
    optional_string(j, text(&p.source).as_deref());
    j.key(b"destination");
    optional_string(j, text(&p.destination).as_deref());
    j.key(b"tlvs").number(p.tlvs as u64);
    j.key(b"client");
    optional_string(j, p.client.map(|c| c.to_string()).as_deref());
    j.close();
}

fn write_tls(j: &mut Json<'_>, tls: Option<&TlsFacts>) {
    j.key(b"tls");
    let Some(t) = tls else {
        j.raw(b"null");
        return;
    };
    j.open();
    j.key(b"version").string(t.version.as_bytes());
    j.key(b"cipher").string(t.cipher.as_bytes());
    j.key(b"sni");
    optional_string(j, t.server_name.as_deref());
    j.key(b"alpn");
    match t.alpn.as_deref() {
        Some(p) => j.string(p),
        None => j.raw(b"null"),
    };
    j.key(b"resumed")
        .raw(if t.resumed { b"true" } else { b"false" });
    j.key(b"client_certificate");
    match &t.client_cert {
        Some(c) => {
            j.open();
            j.key(b"subject").string(c.subject.as_bytes());
            j.key(b"issuer").string(c.issuer.as_bytes());
            j.key(b"sha256").string(c.sha256.as_bytes());
            j.close();
        }
        None => {
            j.raw(b"null");
        }
    }
    j.close();
}

fn write_worker(j: &mut Json<'_>, worker: WorkerId) {
    j.key(b"worker").open();
    j.key(b"pid").number(u64::from(worker.pid));
    j.key(b"slot").number(u64::from(worker.slot));
    j.key(b"generation").number(worker.generation);
    j.close();
}

fn optional_string(j: &mut Json<'_>, value: Option<&str>) {
    match value {
        Some(v) => j.string(v.as_bytes()),
        None => j.raw(b"null"),
    };
}

/// The figures of `tcp_info` worth reading when debugging a path, under Linux's names (minus
/// `tcpi_`), with units where they are not counts. Each is written only if the kernel filled
/// it.
fn write_tcp_info(j: &mut Json<'_>, tcp: &TcpFigures) {
    let i = &tcp.info;
    macro_rules! figures {
        ($($key:literal => $field:ident),* $(,)?) => {
            [$((
                &$key[..],
                u64::from(i.$field),
                offset_of!(libc::tcp_info, $field) + size_of_val(&i.$field),
            )),*]
        };
    }
    let figures = figures![
        b"state" => tcpi_state,
        b"rtt_us" => tcpi_rtt,
        b"rttvar_us" => tcpi_rttvar,
        b"min_rtt_us" => tcpi_min_rtt,
        b"rto_us" => tcpi_rto,
        b"retransmits" => tcpi_retransmits,
        b"total_retrans" => tcpi_total_retrans,
        b"lost" => tcpi_lost,
        b"unacked" => tcpi_unacked,
        b"snd_cwnd" => tcpi_snd_cwnd,
        b"snd_ssthresh" => tcpi_snd_ssthresh,
        b"snd_mss" => tcpi_snd_mss,
        b"rcv_mss" => tcpi_rcv_mss,
        b"advmss" => tcpi_advmss,
        b"pmtu" => tcpi_pmtu,
        b"reordering" => tcpi_reordering,
        b"rcv_space" => tcpi_rcv_space,
        b"bytes_acked" => tcpi_bytes_acked,
        b"bytes_received" => tcpi_bytes_received,
        b"segs_out" => tcpi_segs_out,
        b"segs_in" => tcpi_segs_in,
        b"notsent_bytes" => tcpi_notsent_bytes,
        b"delivery_rate_bytes_per_s" => tcpi_delivery_rate,
        b"snd_wnd" => tcpi_snd_wnd,
        b"rcv_wnd" => tcpi_rcv_wnd,
    ];
    j.open();
    for (key, value, end) in figures {
        if end <= tcp.filled {
            j.key(key).number(value);
        }
    }
    j.close();
}

#[cfg(test)]
mod tests {
    use crate::testing::TestSite;

    fn inspect(request: &[u8]) -> serde_json::Value {
        let sent = TestSite::new(Default::default()).answer(request);
        let body_at = sent.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        serde_json::from_slice(&sent[body_at..]).unwrap()
    }

    #[test]
    fn a_request_without_a_socket() {
        let j = inspect(
            b"GET /inspect?a=%20 HTTP/1.1\r\nhOsT: x\r\nX-D: 1\r\nx-d:\t2 \r\n\
Forwarded: for=\"[::1]:5\";Proto=https, for=b\r\nX-Forwarded-For: 1.2.3.4,, 5.6.7.8\r\n\r\n",
        );
        assert_eq!(j["method"], "GET");
        assert_eq!(j["target"], "/inspect?a=%20");
        assert_eq!(j["version"], "HTTP/1.1");
        assert_eq!(
            j["headers"],
            serde_json::json!([
                ["hOsT", "x"],
                ["X-D", "1"],
                ["x-d", "2"],
                ["Forwarded", "for=\"[::1]:5\";Proto=https, for=b"],
                ["X-Forwarded-For", "1.2.3.4,, 5.6.7.8"]
            ])
        );
        assert_eq!(
            j["x_forwarded_for"],
            serde_json::json!(["1.2.3.4", "5.6.7.8"])
        );
        assert_eq!(
            j["forwarded"],
            serde_json::json!([{"for": "[::1]:5", "proto": "https"}, {"for": "b"}])
        );
        assert_eq!(j["proxy"], serde_json::Value::Null);
        assert_eq!(j["peer"], serde_json::Value::Null);
        assert_eq!(j["local"], serde_json::Value::Null);
        assert_eq!(
            j["tcp_info"],
            serde_json::Value::Null,
            "no socket in a test"
        );
        assert_eq!(j["connection"]["id"], "1-1");
        assert_eq!(j["connection"]["request_index"], 0);
        assert_eq!(
            j["worker"],
            serde_json::json!({"pid": 1, "slot": 0, "generation": 1})
        );
        let j = inspect(b"GET /inspect HTTP/1.0\r\n\r\n");
        assert_eq!(j["version"], "HTTP/1.0");
        assert_eq!(j["headers"], serde_json::json!([]));
        assert_eq!(j["x_forwarded_for"], serde_json::Value::Null);
        assert_eq!(j["forwarded"], serde_json::Value::Null);
    }

    #[test]
    fn bytes_that_are_not_utf8_or_need_escaping() {
        let j = inspect(b"GET /inspect HTTP/1.1\r\nHost: x\r\nX-Q: \"a\\b\" \xff\r\n\r\n");
        assert_eq!(
            j["headers"][1],
            serde_json::json!(["X-Q", "\"a\\b\" \u{fffd}"])
        );
    }
}
