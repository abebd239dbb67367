//! Request inspection: `/get`, `/post`, `/put`, `/patch`, `/delete`, `/anything[/*]`,
//! `/headers`, `/ip`, `/user-agent`, `/uuid`, `/hostname`, `/dump/request` and `/delay/{n}`.

use super::json::Json;
use super::params;
use super::reply::{Resp, Work, JSON};
use super::request::{self, Request};
use super::Kind;
use crate::http::{Length, Reply, StatusCode};

pub(super) fn respond(kind: Kind, r: &mut Resp<'_, '_>) -> Reply {
    let req = r.req;
    match kind {
        Kind::Get => r.json(StatusCode::Ok, &[], &|j, work| {
            j.open();
            get_members(j, &req, work);
            j.close().finish();
        }),
        Kind::Post | Kind::Put | Kind::Patch | Kind::Delete | Kind::Anything => {
            let body = {
                let mut scratch = r.scratch();
                request::Body::of(&req, &mut scratch.work.form)
            };
            match body {
                Ok(body) => r.json(StatusCode::Ok, &[], &|j, work| echo(j, &req, &body, work)),
                Err(e) => r.bad_request(&format!("the request body cannot be parsed: {e:?}")),
            }
        }
        Kind::Headers => r.json(StatusCode::Ok, &[], &|j, work| {
            j.open();
            request::write_headers(j, &req, work, b"headers");
            j.close().finish();
        }),
        Kind::Ip => r.json(StatusCode::Ok, &[], &|j, work| {
            j.open();
            request::write_origin(j, &req, &mut work.text);
            j.close().finish();
        }),
        Kind::UserAgent => r.json(StatusCode::Ok, &[], &|j, _| {
            j.open().key(b"user-agent");
            match req.field(b"user-agent") {
                Some(ua) => j.string(ua),
                None => j.raw(b"null"),
            };
            j.close().finish();
        }),
        Kind::Uuid => {
            let id = crate::rand::uuid_v4();
            r.json(StatusCode::Ok, &[], &|j, _| {
                j.open().key(b"uuid").string(&id).close().finish();
            })
        }
        Kind::Hostname => {
            let name = r.bin.options.hostname.clone();
            r.json(StatusCode::Ok, &[], &|j, _| {
                j.open().key(b"hostname").string(name.as_bytes());
                j.close().finish();
            })
        }
        Kind::DumpRequest => dump(r),
        Kind::Delay => delay(r),
        _ => r.not_found(),
    }
}

/// `args`, `headers`, `method`, `origin`, `url`: what every echo starts from.
pub(super) fn get_members(j: &mut Json<'_>, req: &Request<'_>, work: &mut Work) {
    request::write_args(j, req, &mut work.pairs);
    request::write_headers(j, req, work, b"headers");
    j.key(b"method").string(req.method());
    request::write_origin(j, req, &mut work.text);
    request::write_url(j, req, &mut work.text);
}

/// The echo of a request with its body: `args`, `data`, `files`, `form`, `headers`, `json`,
/// `method`, `origin`, `url`.
pub(super) fn echo(j: &mut Json<'_>, req: &Request<'_>, body: &request::Body<'_>, work: &mut Work) {
    echo_members(j, req, body, work, true);
}

/// [`echo`], with or without `json` (httpbin's `/delay` leaves it out).
fn echo_members(
    j: &mut Json<'_>,
    req: &Request<'_>,
    body: &request::Body<'_>,
    work: &mut Work,
    with_json: bool,
) {
    j.open();
    request::write_args(j, req, &mut work.pairs);
    let Work {
        text, form, files, ..
    } = work;
    request::write_data_files_form(j, req, body, form, files, text);
    request::write_headers(j, req, work, b"headers");
    if with_json {
        // A parsed value pretty-printed may take many times its text (deep nesting indents
        // quadratically): past a few times the body, it is printed on one line.
        request::write_json(j, body, req.body.len() * 4 + 64 * 1024);
    }
    j.key(b"method").string(req.method());
    request::write_origin(j, req, &mut work.text);
    request::write_url(j, req, &mut work.text);
    j.close().finish();
}

/// `/dump/request`: the request as it arrived, head and body, as text.
fn dump(r: &mut Resp<'_, '_>) -> Reply {
    let req = r.req;
    r.send_parts(
        StatusCode::Ok,
        Some(b"text/plain; charset=utf-8"),
        &[],
        &[req.head.raw_head().unwrap_or_default(), req.body],
    )
}

/// `/delay/{seconds}`: the echo (without `json`, as httpbin has it), after the delay, written
/// by a timer.
fn delay(r: &mut Resp<'_, '_>) -> Reply {
    let req = r.req;
    let max = r.bin.options.max_duration;
    let wait = params::after(req.head.path, b"/delay/")
        .and_then(|s| params::duration(&s))
        .filter(|d| *d <= max);
    let Some(wait) = wait else {
        let detail = format!(
            "delay must be a number of seconds or a duration (250ms, 1.5s) from 0 to {}s",
            max.as_secs_f64()
        );
        return r.bad_request(&detail);
    };
    let mut scratch = r.scratch();
    let work = &mut scratch.work;
    let body = match request::Body::of(&req, &mut work.form) {
        Ok(body) => body,
        Err(e) => {
            drop(scratch);
            return r.bad_request(&format!("the request body cannot be parsed: {e:?}"));
        }
    };
    let mut json = Vec::new();
    echo_members(&mut Json::new(&mut json), &req, &body, work, false);
    drop(scratch);
    let timing = format!(
        "initial_delay;dur={};desc=\"initial delay\"",
        params::millis(wait)
    );
    let head = (
        StatusCode::Ok,
        Some(JSON),
        Length::Exactly(json.len() as u64),
    );
    let due = r.ex.now + wait;
    r.produce(
        head,
        &[(b"Server-Timing", timing.as_bytes())],
        json,
        due,
        None,
    )
}
