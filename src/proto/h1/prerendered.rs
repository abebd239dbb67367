//! What is rendered once a second rather than once a request: the `Date` value, and the whole
//! keep-alive answer of each route the application declared static ([`StaticRoute`]: `GET /`'s
//! hello), so that answering one is a parse and a single copy. The worker only tells it the
//! time.

use std::time::SystemTime;

use super::write::{ConnectionHeader, Framing, Head};
use crate::buffer::Buf;
use crate::http::date::HttpDate;
use crate::http::target::Form;
use crate::http::{Method, PortRole, Request, StaticRoute};

#[derive(Debug)]
pub struct Prerendered {
    date: HttpDate,
    statics: Vec<(StaticRoute, Buf)>,
}

impl Prerendered {
    /// The date of `now`, and the answers of `routes` rendered with it.
    pub fn new(now: SystemTime, routes: &[StaticRoute]) -> Prerendered {
        let mut p = Prerendered {
            date: HttpDate::new(now),
            statics: routes.iter().map(|&r| (r, Buf::new())).collect(),
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
        for (StaticRoute { response, .. }, out) in &mut self.statics {
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

    /// The whole answer to `req`, with its status and body length (for the access log), if
    /// `req` is a GET of a static route on the main port (the caller checked that the
    /// connection stays open, speaks HTTP/1.1, and the request has no body).
    #[inline(always)]
    pub fn answer(&self, req: &Request<'_>, port: PortRole) -> Option<(&[u8], (u16, u64))> {
        if self.statics.is_empty()
            || req.method != Method::Get
            || !req.query.is_empty()
            || req.marked
            || req.form != Form::Origin
            || port != PortRole::Main
        {
            return None;
        }
        // A loop, not `Iterator::find`: this runs for every request, and a closure over a
        // slice comparison was not inlined (47 instructions a request, measured).
        for (route, rendered) in &self.statics {
            if route.path.len() == req.path.len() && route.path == req.path {
                let logged = (
                    route.response.status.code(),
                    route.response.body.len() as u64,
                );
                return Some((rendered.filled(), logged));
            }
        }
        None
    }
}
