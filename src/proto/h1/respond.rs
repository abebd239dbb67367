//! [`Respond`] for HTTP/1.1: a handler's head and body written into the connection's output.
//!
//! Where a body goes is decided here, once for every route: copied into the write buffer when
//! it fits beside its head; otherwise kept in memory reserved in the worker's budget (a body
//! built for the response), sent from where it lies (a static body, a file), or, for `/echo`
//! of a body already spilled to its own reserved memory, sent from there.

use super::write::{ConnectionHeader, Framing, Head};
use crate::http::{Body, Length, NoRoom, Respond, ResponseHead, Segment, StatusCode};
use crate::memory::{Grant, Use};
use crate::output::Output;
use crate::proto::Env;

/// Room kept for a response head beside its body when deciding whether the body is copied:
/// our heads are a few hundred bytes plus what the handler adds (counted apart).
const HEAD_ROOM: usize = 512;

/// The text of the 503 that stands in for a body larger than the whole budget.
const TOO_LARGE: &[u8] = b"Response larger than the memory budget\n";

/// One request's answer being written.
pub(super) struct Responder<'r, 'e> {
    output: &'r mut Output,
    env: &'r Env<'e>,
    minor_version: u8,
    /// The connection stays open after this response unless something below says otherwise.
    keep_alive: bool,
    /// False for HEAD: the head says what GET would send, and nothing follows.
    with_body: bool,
    request_body: &'r [u8],
    /// The request body sits in its own reserved memory (it was spilled): `/echo` sends it
    /// from there, attached by the protocol after the call.
    spilled: bool,
    /// The final response's status (0 until one is written) and the body length it announced,
    /// for the access log.
    pub status: u16,
    pub length: u64,
    /// The connection ends after this response.
    pub close: bool,
    /// The spilled request body is to be attached after the head just written.
    pub attach_request_body: bool,
}

impl<'r, 'e> Responder<'r, 'e> {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        output: &'r mut Output,
        env: &'r Env<'e>,
        minor_version: u8,
        keep_alive: bool,
        with_body: bool,
        request_body: &'r [u8],
        spilled: bool,
    ) -> Self {
        Responder {
            output,
            env,
            minor_version,
            keep_alive,
            with_body,
            request_body,
            spilled,
            status: 0,
            length: 0,
            close: false,
            attach_request_body: false,
        }
    }

    fn connection(&self) -> ConnectionHeader {
        ConnectionHeader::of(self.keep_alive && !self.close, self.minor_version)
    }

    /// Counts a final response and notes it for the access log.
    fn note(&mut self, status: StatusCode, length: Length) {
        self.status = status.code();
        self.length = length.logged();
        self.env.stats.on_response(self.status);
    }

    fn write_head(&mut self, head: &ResponseHead<'_>, framing: Framing) {
        Head {
            status: head.status,
            content_type: head.content_type,
            framing,
            fields: head.each_field(),
            connection: self.connection(),
        }
        .write(self.output.bytes(), self.env.date());
    }

    /// Reserves `bytes` of output memory, or says why not (writing the 503 when never).
    fn reserve_output(&mut self, bytes: u64) -> Result<(), NoRoom> {
        match self.env.budget.reserve(self.env.token, bytes, Use::Output) {
            Grant::Granted => Ok(()),
            Grant::Queued => Err(NoRoom::Wait),
            Grant::Never => {
                let status = StatusCode::ServiceUnavailable;
                let length = Length::Exactly(TOO_LARGE.len() as u64);
                self.note(status, length);
                let head = ResponseHead::new(status, Some(b"text/plain"), length);
                self.write_head(&head, Framing::of(length, self.minor_version));
                self.output.bytes().extend_from_slice(TOO_LARGE);
                Err(NoRoom::Refused)
            }
        }
    }

    /// Attaches `data`, `charge` of it reserved, giving back what the output does not hold.
    fn attach(&mut self, data: Vec<u8>, charge: u64) {
        let unused = self.output.attach(data, 0, charge);
        self.env.budget.release(unused, Use::Output);
    }
}

impl Respond for Responder<'_, '_> {
    fn send(&mut self, head: &ResponseHead<'_>, body: Body<'_>) -> Result<(), NoRoom> {
        let framing = Framing::of(head.length, self.minor_version);
        if head.length == Length::Open && framing == Framing::None {
            // An HTTP/1.0 client: the body ends with the connection.
            self.close = true;
        }
        let send_body = self.with_body && head.length != Length::Bodiless;
        let fits = |output: &Output, len: usize| {
            len + HEAD_ROOM + head.size_hint() <= output.inline_room()
        };
        // Memory first: if it must be waited for, nothing is written yet.
        let body = match body {
            Body::Reserved { charge, .. } if !send_body => {
                self.env.budget.release(charge, Use::Output);
                Body::Empty
            }
            _ if !send_body => Body::Empty,
            Body::Copy(parts) => {
                let len: usize = parts.iter().map(|p| p.len()).sum();
                if fits(self.output, len) {
                    Body::Copy(parts)
                } else {
                    self.reserve_output(len as u64)?;
                    // Allocated only now that the budget holds its size.
                    let mut data = Vec::with_capacity(len);
                    for part in parts {
                        data.extend_from_slice(part);
                    }
                    Body::Reserved {
                        charge: len as u64,
                        data,
                    }
                }
            }
            Body::Owned(data) if !fits(self.output, data.len()) => {
                self.reserve_output(data.len() as u64)?;
                let charge = data.len() as u64;
                Body::Reserved { data, charge }
            }
            Body::RequestBody if !self.spilled && !fits(self.output, self.request_body.len()) => {
                let len = self.request_body.len();
                self.reserve_output(len as u64)?;
                Body::Reserved {
                    data: self.request_body.to_vec(),
                    charge: len as u64,
                }
            }
            body => body,
        };
        self.note(head.status, head.length);
        self.write_head(head, framing);
        match body {
            Body::Empty => {}
            Body::Copy(parts) => {
                for part in parts {
                    self.output.bytes().extend_from_slice(part);
                }
            }
            Body::Static(bytes) if fits(self.output, bytes.len()) => {
                self.output.bytes().extend_from_slice(bytes);
            }
            Body::Static(bytes) => self.output.attach_static(bytes),
            Body::Owned(data) => self.output.bytes().extend_from_slice(&data),
            Body::Reserved { data, charge } => {
                if fits(self.output, data.len()) {
                    self.output.bytes().extend_from_slice(&data);
                    self.env.budget.release(charge, Use::Output);
                } else {
                    self.attach(data, charge);
                }
            }
            Body::File {
                fd,
                offset,
                len,
                cached,
            } => match cached.filter(|c| fits(self.output, c.len())) {
                // A cached small file that fits is copied: the answer leaves in one `send`.
                Some(bytes) => self.output.bytes().extend_from_slice(bytes),
                None => self.output.attach_file(fd, offset, len),
            },
            Body::Segments(segments) => {
                for segment in segments {
                    match segment {
                        Segment::Bytes(bytes) => {
                            let _ = self.output.attach(bytes, 0, 0);
                        }
                        Segment::File { fd, offset, len } => {
                            self.output.attach_file(fd, offset, len);
                        }
                    }
                }
            }
            Body::RequestBody if self.spilled => self.attach_request_body = true,
            Body::RequestBody => self.output.bytes().extend_from_slice(self.request_body),
        }
        Ok(())
    }

    fn reserve(&mut self, bytes: u64) -> Result<(), NoRoom> {
        self.reserve_output(bytes)
    }

    fn interim(&mut self, status: StatusCode) {
        if self.minor_version == 0 {
            return;
        }
        self.env.stats.on_response(status.code());
        Head {
            status,
            content_type: None,
            framing: Framing::None,
            fields: std::iter::empty(),
            connection: ConnectionHeader::Omit,
        }
        .write(self.output.bytes(), self.env.date());
    }

    fn close_after(&mut self) {
        self.close = true;
    }
}
