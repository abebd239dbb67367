//! `/websocket/echo`: every message back as it came (go-httpbin's route, same parameters),
//! with faults on purpose. The handshake's rules are `http::websocket`'s; the framing is
//! `proto::ws`'s; this decides what each message gets.
//!
//! Query parameters of the upgrade request:
//! - `max_fragment_size=N`: replies cut into frames of at most N bytes, so a client's
//!   reassembly is tested;
//! - `max_message_size=N`: a smaller largest message than `--ws-max-message` (1009 past it);
//! - `delay=D`: each echo D after its message arrived (at most `--max-duration`);
//! - `close=N` or `close=N:CODE`: after the N-th echo, a close frame (1000, or CODE);
//! - `drop=N`: after the N-th echo, the TCP connection is cut, with no close frame.

use std::time::{Duration, Instant};

use super::bin::params;
use super::text;
use crate::config::WebSocketOptions;
use crate::http::websocket::{self, Action, Limits, MessageKind, Messages, Refusal, Then, Upgrade};
use crate::http::{Body, Length, Reply, Request, Respond, ResponseHead, StatusCode};

/// The echo, with its faults.
#[derive(Debug)]
struct Echo {
    delay: Duration,
    close_after: Option<(u32, u16)>,
    drop_after: Option<u32>,
    seen: u64,
}

/// The echo with no fault asked for: no state, so its box allocates nothing (an idle
/// connection costs what its framing holds, no more).
#[derive(Debug)]
struct PlainEcho;

impl Messages for PlainEcho {
    fn on_message(&mut self, _kind: MessageKind, _len: usize, now: Instant) -> Action {
        Action::Echo {
            at: now,
            then: Then::Continue,
        }
    }
}

impl Messages for Echo {
    fn on_message(&mut self, _kind: MessageKind, _len: usize, now: Instant) -> Action {
        self.seen += 1;
        let then = if self.drop_after.map(u64::from) == Some(self.seen) {
            Then::Drop
        } else {
            match self.close_after {
                Some((n, code)) if u64::from(n) == self.seen => Then::Close(code),
                _ => Then::Continue,
            }
        };
        Action::Echo {
            at: now + self.delay,
            then,
        }
    }
}

/// Answers the upgrade request: 101 and the switch, or why not.
pub(super) fn respond(
    options: &WebSocketOptions,
    req: &Request<'_>,
    res: &mut dyn Respond,
) -> Reply {
    let opening = match websocket::check(req) {
        Ok(opening) => opening,
        Err(Refusal::NotAnUpgrade) => {
            return refuse(
                res,
                StatusCode::Code(426),
                &[(b"Upgrade", b"websocket"), (b"Sec-WebSocket-Version", b"13")],
                b"This is a WebSocket endpoint: connect with a WebSocket client (Upgrade: websocket).\n",
            )
        }
        Err(Refusal::Version) => {
            return refuse(
                res,
                StatusCode::Code(426),
                &[(b"Sec-WebSocket-Version", b"13")],
                b"Only WebSocket version 13 is spoken here.\n",
            )
        }
        Err(Refusal::Bad(why)) => {
            return refuse(res, StatusCode::BadRequest, &[], format!("{why}\n").as_bytes())
        }
    };
    let (limits, echo) = match parameters(req.query, options) {
        Ok(p) => p,
        Err(why) => {
            return refuse(
                res,
                StatusCode::BadRequest,
                &[],
                format!("{why}\n").as_bytes(),
            )
        }
    };
    let plain = echo.delay.is_zero() && echo.close_after.is_none() && echo.drop_after.is_none();
    let messages: Box<dyn Messages> = if plain {
        Box::new(PlainEcho)
    } else {
        Box::new(echo)
    };
    Reply::Upgrade(Box::new(Upgrade {
        opening,
        limits,
        messages,
    }))
}

fn refuse(
    res: &mut dyn Respond,
    status: StatusCode,
    fields: &[(&[u8], &[u8])],
    body: &[u8],
) -> Reply {
    let head = ResponseHead {
        fields: &[fields],
        ..ResponseHead::new(
            status,
            Some(b"text/plain"),
            Length::Exactly(body.len() as u64),
        )
    };
    text::reply(res.send(&head, Body::Copy(&[body])))
}

/// The query's limits and faults, each checked against the server's bounds.
fn parameters(query: &[u8], options: &WebSocketOptions) -> Result<(Limits, Echo), String> {
    let number = |name: &str| -> Result<Option<u64>, String> {
        match params::query(query, name.as_bytes()) {
            None => Ok(None),
            Some(v) => params::int::<u64>(&v)
                .filter(|&n| n > 0)
                .map(Some)
                .ok_or_else(|| format!("{name} must be a whole number above 0")),
        }
    };
    let max = options.max_message as u64;
    let max_message = match number("max_message_size")? {
        Some(n) if n > max => return Err(format!("max_message_size is at most {max} here")),
        Some(n) => n as usize,
        None => options.max_message,
    };
    let max_fragment = match number("max_fragment_size")? {
        Some(n) => u32::try_from(n.min(max_message as u64)).unwrap_or(u32::MAX),
        None => 0,
    };
    let delay = match params::query(query, b"delay") {
        None => Duration::ZERO,
        Some(v) => match params::duration(&v) {
            Some(d) if d <= options.max_delay => d,
            Some(_) => {
                return Err(format!(
                    "delay is at most {} ms here",
                    options.max_delay.as_millis()
                ))
            }
            None => return Err("delay must be a duration (250ms, 1.5s)".into()),
        },
    };
    let close_after = match params::query(query, b"close") {
        None => None,
        Some(v) => {
            let (n, code) = match v.iter().position(|&b| b == b':') {
                Some(i) => (&v[..i], Some(&v[i + 1..])),
                None => (&v[..], None),
            };
            let n = params::int::<u32>(n)
                .filter(|&n| n > 0)
                .ok_or("close must be N or N:CODE, N from 1 to 4294967295")?;
            let code = match code {
                None => 1000,
                Some(c) => params::int::<u16>(c)
                    .filter(|&c| matches!(c, 1000..=1003 | 1007..=1011 | 3000..=4999))
                    .ok_or("close's CODE must be a close code a server may send (1000-1003, 1007-1011, 3000-4999)")?,
            };
            Some((n, code))
        }
    };
    let drop_after = match number("drop")? {
        Some(n) => Some(u32::try_from(n).map_err(|_| "drop is at most 4294967295")?),
        None => None,
    };
    Ok((
        Limits {
            max_message,
            max_frames: u32::try_from(options.max_frames).unwrap_or(u32::MAX),
            max_fragment,
            ping_interval_ms: options.ping_interval.map_or(0, |d| {
                u32::try_from(d.as_millis()).unwrap_or(u32::MAX).max(1)
            }),
        },
        Echo {
            delay,
            close_after,
            drop_after,
            seen: 0,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_bounded() {
        let o = WebSocketOptions::default();
        let (l, e) = parameters(b"", &o).unwrap();
        assert_eq!((l.max_message, l.max_fragment), (16 << 20, 0));
        assert_eq!(
            (e.delay, e.close_after, e.drop_after),
            (Duration::ZERO, None, None)
        );
        let (l, e) = parameters(
            b"max_fragment_size=10&max_message_size=100&delay=5ms&close=3:4000&drop=9",
            &o,
        )
        .unwrap();
        assert_eq!((l.max_message, l.max_fragment), (100, 10));
        assert_eq!(
            (e.delay, e.close_after, e.drop_after),
            (Duration::from_millis(5), Some((3, 4000)), Some(9))
        );
        for bad in [
            "max_message_size=0",
            "max_message_size=99999999999",
            "max_fragment_size=x",
            "delay=11s",
            "delay=soon",
            "close=0",
            "close=2:1005",
            "drop=-1",
        ] {
            assert!(parameters(bad.as_bytes(), &o).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_echo_closes_or_drops_after_n() {
        let now = Instant::now();
        let mut e = Echo {
            delay: Duration::ZERO,
            close_after: Some((2, 1000)),
            drop_after: None,
            seen: 0,
        };
        assert_eq!(
            e.on_message(MessageKind::Text, 1, now),
            Action::Echo {
                at: now,
                then: Then::Continue
            }
        );
        assert_eq!(
            e.on_message(MessageKind::Text, 1, now),
            Action::Echo {
                at: now,
                then: Then::Close(1000)
            }
        );
        let mut e = Echo {
            delay: Duration::ZERO,
            close_after: None,
            drop_after: Some(1),
            seen: 0,
        };
        assert_eq!(
            e.on_message(MessageKind::Binary, 1, now),
            Action::Echo {
                at: now,
                then: Then::Drop
            }
        );
    }
}
