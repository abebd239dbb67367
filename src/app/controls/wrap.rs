//! A route's answer seen through the controls: [`Inject`] adds their fields to whatever the
//! route sends, and [`Capture`] keeps the route's whole answer instead of sending it, so it can
//! be written over time, re-framed, paced or cut short.

use crate::http::{Body, Field, NoRoom, OwnedHead, Respond, ResponseHead, StatusCode};

/// A body up to this size is captured without a reservation (the write buffer would have
/// held it); a larger one is reserved in the budget first, like any large answer.
const FREE_BYTES: usize = 4096;

/// Most fields the controls add: every `header=`, `Server-Timing` and `X-Echo-Draw`.
pub(super) const MAX_FIELDS: usize = super::MAX_HEADERS + 2;

/// Most groups of fields a route's head has (httpbin's CORS fields, then its own).
const MAX_GROUPS: usize = 7;

/// Passes a route's answer on with the controls' fields after its own, and the connection
/// ended after it for a `close` fault. Nothing is allocated: the fields and the groups live
/// on the stack for the length of the call.
pub(super) struct Inject<'r> {
    pub inner: &'r mut dyn Respond,
    pub fields: &'r [Field<'r>],
    pub close: bool,
}

impl Respond for Inject<'_> {
    fn send(&mut self, head: &ResponseHead<'_>, body: Body<'_>) -> Result<(), NoRoom> {
        if self.close {
            self.inner.close_after();
        }
        let Some(own) = head.fields.get(..MAX_GROUPS.min(head.fields.len())) else {
            return self.inner.send(head, body);
        };
        let mut groups: [&[Field<'_>]; MAX_GROUPS + 1] = [&[]; MAX_GROUPS + 1];
        groups[..own.len()].copy_from_slice(own);
        groups[own.len()] = self.fields;
        debug_assert!(
            head.fields.len() <= MAX_GROUPS,
            "a route's head has few groups"
        );
        let head = ResponseHead {
            fields: &groups[..=own.len()],
            ..*head
        };
        self.inner.send(&head, body)
    }

    fn reserve(&mut self, bytes: u64) -> Result<(), NoRoom> {
        self.inner.reserve(bytes)
    }

    fn interim(&mut self, status: StatusCode) {
        self.inner.interim(status);
    }

    fn close_after(&mut self) {
        self.inner.close_after();
    }
}

/// A route's whole answer, kept.
pub(super) struct Captured {
    pub head: OwnedHead,
    pub body: Vec<u8>,
    /// What the budget holds for `body`.
    pub charge: u64,
}

/// Keeps the route's answer instead of sending it. A body written over time (a file's bytes)
/// cannot be kept: it goes out as it is.
pub(super) struct Capture<'r> {
    pub inner: &'r mut dyn Respond,
    /// The request's body, for a route that echoes it.
    pub request_body: &'r [u8],
    pub taken: Option<Captured>,
}

impl Capture<'_> {
    /// Reserves room for `len` captured bytes unless they are few.
    fn reserve_for(&mut self, len: usize) -> Result<u64, NoRoom> {
        if len <= FREE_BYTES {
            return Ok(0);
        }
        self.inner.reserve(len as u64)?;
        Ok(len as u64)
    }
}

impl Respond for Capture<'_> {
    fn send(&mut self, head: &ResponseHead<'_>, body: Body<'_>) -> Result<(), NoRoom> {
        let (body, charge) = match body {
            Body::Empty => (Vec::new(), 0),
            Body::Copy(parts) => {
                let charge = self.reserve_for(parts.iter().map(|p| p.len()).sum())?;
                (parts.concat(), charge)
            }
            Body::Static(bytes) => (bytes.to_vec(), self.reserve_for(bytes.len())?),
            Body::Owned(data) => {
                let charge = self.reserve_for(data.len())?;
                (data, charge)
            }
            Body::Reserved { data, charge } => (data, charge),
            Body::RequestBody => {
                let charge = self.reserve_for(self.request_body.len())?;
                (self.request_body.to_vec(), charge)
            }
            Body::File {
                cached: Some(bytes),
                ..
            } => (bytes.to_vec(), self.reserve_for(bytes.len())?),
            body @ (Body::File { .. } | Body::Segments(_)) => return self.inner.send(head, body),
        };
        self.taken = Some(Captured {
            head: OwnedHead::of(head),
            body,
            charge,
        });
        Ok(())
    }

    fn reserve(&mut self, bytes: u64) -> Result<(), NoRoom> {
        self.inner.reserve(bytes)
    }

    fn interim(&mut self, status: StatusCode) {
        self.inner.interim(status);
    }

    fn close_after(&mut self) {
        self.inner.close_after();
    }
}
