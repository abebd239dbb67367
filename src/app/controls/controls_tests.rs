use super::*;
use crate::config::{ControlMode, ControlOptions};
use crate::proto::h1::parse::parse_head;
use crate::proto::h1::Limits;

/// What the parser marks requests with in a worker: the controls' field prefix.
static LIMITS: std::sync::LazyLock<Limits> =
    std::sync::LazyLock::new(|| Limits::new(Default::default(), FIELD_PREFIX));
static DEFAULTS: std::sync::LazyLock<ControlOptions> =
    std::sync::LazyLock::new(ControlOptions::default);

fn with_head<R>(request: &[u8], f: impl FnOnce(&Request<'_>) -> R) -> R {
    let (head, _) = parse_head(request, &LIMITS).unwrap().unwrap();
    f(&head.request)
}

fn head_of(request: &'static [u8]) -> Request<'static> {
    parse_head(request, &LIMITS).unwrap().unwrap().0.request
}

fn parse_with(request: &[u8], options: &ControlOptions) -> Result<Option<(String, usize)>, Bad> {
    with_head(request, |head| {
        Controls::parse(head, Route::Root, options)
            .map(|c| c.map(|c| (format!("{c:?}"), c.header_count)))
    })
}

fn parse(request: &[u8]) -> Result<Option<(String, usize)>, Bad> {
    parse_with(request, &ControlOptions::default())
}

#[test]
fn no_controls_is_none() {
    assert_eq!(parse(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"), Ok(None));
    assert_eq!(
        parse(b"GET /?a=1&statusx=5 HTTP/1.1\r\nHost: a\r\n\r\n"),
        Ok(None)
    );
    assert_eq!(
        parse(b"GET / HTTP/1.1\r\nHost: a\r\nX-Echo-Nothing: 1\r\n\r\n"),
        Ok(None)
    );
}

#[test]
fn query_header_and_defaults_agree_and_override_in_order() {
    let q = parse(b"GET /?status=503:20&delay=5ms HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
    let h =
        parse(b"GET / HTTP/1.1\r\nHost: a\r\nx-echo-STATUS: 503:20\r\nX-Echo-Delay: 5ms\r\n\r\n")
            .unwrap();
    let options = ControlOptions {
        defaults: Some(b"status=503:20&delay=5ms".to_vec()),
        ..ControlOptions::default()
    };
    let d = parse_with(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", &options).unwrap();
    assert!(q.is_some());
    assert_eq!(q, h, "the same controls by query and by header");
    assert_eq!(q, d, "and by --default-params");
    // The query beats the header, which beats the defaults.
    let head = head_of(b"GET /?status=500 HTTP/1.1\r\nHost: a\r\nX-Echo-Status: 502\r\n\r\n");
    let mixed = Controls::parse(&head, Route::Root, &options)
        .unwrap()
        .unwrap();
    assert_eq!(mixed.status.unwrap().pick(0), Some(500));
    assert!(mixed.delay.is_some(), "the defaults' delay still applies");
}

#[test]
fn modes() {
    let request = b"GET /?status=503 HTTP/1.1\r\nHost: a\r\nX-Echo-Delay: 1ms\r\n\r\n";
    let headers_only = ControlOptions {
        mode: ControlMode::Headers,
        ..ControlOptions::default()
    };
    let c = with_head(request, |head| {
        Controls::parse(head, Route::Root, &headers_only)
            .unwrap()
            .unwrap()
            .status
    });
    assert_eq!(c, None, "the query is the route's own");
    let off = ControlOptions {
        mode: ControlMode::Off,
        ..ControlOptions::default()
    };
    assert_eq!(parse_with(request, &off), Ok(None));
}

#[test]
fn errors_name_the_control() {
    let bad = |q: &str| {
        let request = format!("GET /?{q} HTTP/1.1\r\nHost: a\r\n\r\n");
        parse(request.as_bytes()).unwrap_err().name
    };
    assert_eq!(bad("status=99"), "status");
    assert_eq!(bad("status=503:70,500:40"), "status");
    assert_eq!(bad("delay=forever"), "delay");
    assert_eq!(bad("delay=11s"), "delay");
    assert_eq!(bad("size=2m"), "size");
    assert_eq!(bad("chunked=0"), "chunked");
    assert_eq!(bad("drip=10ms"), "drip");
    assert_eq!(bad("close=101"), "close");
    assert_eq!(bad("stall=middle"), "stall");
    assert_eq!(bad("header=Content-Length:5"), "header");
    assert_eq!(bad("header=X-A:b%0D%0AX-B:c"), "header");
    assert_eq!(bad("seed=-1"), "seed");
    assert_eq!(bad("content=ones"), "content");
}

#[test]
fn headers_accumulate_and_decode() {
    let head = head_of(
        b"GET /?header=X-A:1&header=X-B%3A%20two%20words HTTP/1.1\r\nHost: a\r\nX-Echo-Header: X-C: 3\r\n\r\n",
    );
    let c = Controls::parse(&head, Route::Root, &DEFAULTS)
        .unwrap()
        .unwrap();
    let mut list = crate::http::FieldList::default();
    shape::control_fields(&c, &draw::Draw::default(), &mut list);
    let mut out = String::new();
    for (name, value) in list.iter() {
        let (name, value) = (
            String::from_utf8_lossy(name),
            String::from_utf8_lossy(value),
        );
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    assert_eq!(
        out,
        "X-C: 3\r\nX-A: 1\r\nX-B: two words\r\nX-Echo-Draw: none\r\n"
    );
}

#[test]
fn a_route_keeps_its_own_parameters() {
    use crate::app::bin::Kind;
    let request = b"GET /drip?delay=1&status=503 HTTP/1.1\r\nHost: a\r\n\r\n";
    let c = Controls::parse(&head_of(request), Route::Bin(Kind::Drip), &DEFAULTS)
        .unwrap()
        .unwrap();
    assert!(c.delay.is_none(), "/drip's delay is its own");
    assert!(c.status.is_some());
    let request = b"GET /response-headers?status=503 HTTP/1.1\r\nHost: a\r\n\r\n";
    let c = Controls::parse(
        &head_of(request),
        Route::Bin(Kind::ResponseHeaders),
        &DEFAULTS,
    )
    .unwrap();
    assert!(c.is_none(), "every key of /response-headers is a header");
}

#[test]
fn stall_forms() {
    assert_eq!(stall(b"head"), Ok((Stall::Head, grammar::ALL)));
    assert_eq!(stall(b"body:5"), Ok((Stall::Body, 50_000)));
    assert!(stall(b"body:x").is_err());
}
