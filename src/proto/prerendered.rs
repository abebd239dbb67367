//! What the protocols render once a second rather than once a request: the `Date` value and
//! the whole keep-alive answer to `GET /`. The worker only tells it the time; what is rendered,
//! and how, stays with the protocols.

use std::time::SystemTime;

use super::http::date::HttpDate;
use super::http::prerender_hello;
use crate::buffer::Buf;

#[derive(Debug)]
pub struct Prerendered {
    date: HttpDate,
    /// `GET /`'s keep-alive response, re-rendered when the date changes; left empty when
    /// every request has controls (`--default-params`), so the fast path never answers.
    hello: Buf,
    with_hello: bool,
}

impl Prerendered {
    pub fn new(now: SystemTime, with_hello: bool) -> Prerendered {
        let date = HttpDate::new(now);
        let mut hello = Buf::new();
        if with_hello {
            prerender_hello(&mut hello, date.as_bytes());
        }
        Prerendered {
            date,
            hello,
            with_hello,
        }
    }

    /// Advances to `now`; re-renders what carries the date. True when a new second began.
    pub fn update(&mut self, now: SystemTime) -> bool {
        let changed = self.date.update(now);
        if changed && self.with_hello {
            prerender_hello(&mut self.hello, self.date.as_bytes());
        }
        changed
    }

    /// The current `Date` value.
    pub fn date(&self) -> &[u8] {
        self.date.as_bytes()
    }

    /// The whole keep-alive answer to `GET /` (empty if there is none to send).
    pub fn hello(&self) -> &[u8] {
        self.hello.filled()
    }
}
