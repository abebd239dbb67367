//! What is rendered once a second rather than once a request: the `Date` value, and the whole
//! keep-alive answer of each response the application declared static (`GET /`'s hello), so
//! that answering one is a single copy. The worker only tells it the time.

use std::time::SystemTime;

use super::write::{ConnectionHeader, Framing, Head};
use crate::buffer::Buf;
use crate::http::date::HttpDate;
use crate::http::{Length, StaticResponse, StatusCode};

#[derive(Debug)]
pub struct Prerendered {
    date: HttpDate,
    statics: Vec<(StaticResponse, Buf)>,
}

impl Prerendered {
    /// The date of `now`, and `statics` rendered with it.
    pub fn new(now: SystemTime, statics: &[StaticResponse]) -> Prerendered {
        let mut p = Prerendered {
            date: HttpDate::new(now),
            statics: statics.iter().map(|&s| (s, Buf::new())).collect(),
        };
        p.render();
        p
    }

    /// Advances to `now`; re-renders what carries the date. True when a new second began.
    pub fn update(&mut self, now: SystemTime) -> bool {
        let changed = self.date.update(now);
        if changed {
            self.render();
        }
        changed
    }

    fn render(&mut self) {
        let date = self.date.as_bytes();
        for (response, out) in &mut self.statics {
            out.consume(out.len());
            Head {
                status: response.status,
                content_type: Some(response.content_type),
                framing: Framing::Length(response.body.len() as u64),
                fields: std::iter::empty(),
                connection: ConnectionHeader::Omit,
            }
            .write(out, date);
            out.extend_from_slice(response.body);
        }
    }

    /// The current `Date` value.
    pub fn date(&self) -> &[u8] {
        self.date.as_bytes()
    }

    /// The whole HTTP/1.1 keep-alive answer for a response with no fields of its own, if it is
    /// one of the static ones (the same status, content type and body, the body the very same
    /// bytes).
    #[inline]
    pub fn find(
        &self,
        status: StatusCode,
        content_type: Option<&[u8]>,
        length: Length,
        body: &'static [u8],
    ) -> Option<&[u8]> {
        self.statics
            .iter()
            .find(|(s, _)| {
                std::ptr::eq(s.body, body)
                    && s.status == status
                    && content_type == Some(s.content_type)
                    && length == Length::Exactly(body.len() as u64)
            })
            .map(|(_, rendered)| rendered.filled())
    }
}
