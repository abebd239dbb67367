//! What a connection has to send, in order: small bytes in the pooled write buffer, then the
//! tail of one large answer held outside it.
//!
//! Response heads and small bodies are copied into `bytes`, one pooled buffer (a
//! per-connection constant). A body too large for it is attached as the `tail`: owned bytes
//! reserved in the worker's [`Budget`](crate::memory::Budget) before they were made (an echoed
//! upload, a big `/metrics`), or ranges of an open file, sent with `sendfile` and holding no
//! user memory at all; a multipart answer interleaves the two. Nothing is appended while a tail
//! is pending, so the order on the wire is always `bytes` then `tail`, and a connection never
//! holds more than one large answer.

use std::collections::VecDeque;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::rc::Rc;

use crate::buffer::Buf;

/// One piece of a tail.
#[derive(Debug)]
enum Segment {
    /// Bytes, owned (reserved in the budget) or static (a built-in asset), sent up to `pos`.
    Owned {
        data: std::borrow::Cow<'static, [u8]>,
        pos: usize,
    },
    /// `remaining` bytes of an open file from `offset`.
    File {
        fd: Rc<OwnedFd>,
        offset: u64,
        remaining: u64,
    },
}

/// The large part of an answer.
#[derive(Debug, Default)]
struct Tail {
    segments: VecDeque<Segment>,
    /// Bytes reserved in the budget for the owned segments (`Use::Output`), released when the
    /// tail is gone.
    charge: u64,
}

/// The next write a connection should make.
#[derive(Debug)]
pub enum Write<'a> {
    /// Nothing is pending.
    Nothing,
    /// One or two runs of bytes, in order, for one `send` or `sendmsg`; `more` says that a
    /// file follows them (the head of a file answer: send it with MSG_MORE).
    Bytes {
        first: &'a [u8],
        second: &'a [u8],
        more: bool,
    },
    /// `len` bytes of `fd` from `offset`, for `sendfile`.
    File {
        fd: BorrowedFd<'a>,
        offset: u64,
        len: u64,
    },
}

#[derive(Debug, Default)]
pub struct Output {
    bytes: Buf,
    tail: Option<Box<Tail>>,
}

impl Output {
    pub const fn new() -> Output {
        Output {
            bytes: Buf::new(),
            tail: None,
        }
    }

    /// The small bytes, to append to.
    ///
    /// # Panics
    /// If a tail is pending: anything appended now would be sent before it (a debug check).
    pub fn bytes(&mut self) -> &mut Buf {
        debug_assert!(self.tail.is_none(), "bytes appended behind a pending tail");
        &mut self.bytes
    }

    /// The write buffer itself, for the pool (which fills and reclaims its storage).
    pub fn buffer(&mut self) -> &mut Buf {
        &mut self.bytes
    }

    /// Bytes still to send.
    #[inline]
    pub fn len(&self) -> usize {
        let tail = self.tail.as_ref().map_or(0, |t| {
            t.segments
                .iter()
                .map(|s| match s {
                    Segment::Owned { data, pos } => (data.len() - pos) as u64,
                    Segment::File { remaining, .. } => *remaining,
                })
                .sum::<u64>()
        });
        self.bytes.len() + usize::try_from(tail).unwrap_or(usize::MAX)
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty() && self.tail.is_none()
    }

    /// True if a large answer is waiting: nothing more may be produced until it is sent.
    #[inline]
    pub fn has_tail(&self) -> bool {
        self.tail.is_some()
    }

    /// Room left in the write buffer's storage without growing it.
    pub fn inline_room(&self) -> usize {
        self.bytes.room()
    }

    /// Attaches `data[from..]` as the body that follows the bytes; `charge` is what the budget
    /// holds for it. Returns the charge the caller must release now: all of it if there is
    /// nothing to send (an empty tail is never kept).
    #[must_use = "a charge that is not kept must be released"]
    pub fn attach(&mut self, data: Vec<u8>, from: usize, charge: u64) -> u64 {
        if from >= data.len() {
            return charge;
        }
        self.tail_mut().charge += charge;
        self.push(Segment::Owned {
            data: data.into(),
            pos: from,
        });
        0
    }

    /// Attaches a built-in body (an image, a page): sent from where it lies, costing nothing.
    pub fn attach_static(&mut self, data: &'static [u8]) {
        if !data.is_empty() {
            self.push(Segment::Owned {
                data: data.into(),
                pos: 0,
            });
        }
    }

    /// Attaches `len` bytes of the open file `fd` from `offset` (nothing if `len` is 0). File
    /// bytes are never copied into the process, so they cost the budget nothing.
    pub fn attach_file(&mut self, fd: Rc<OwnedFd>, offset: u64, len: u64) {
        if len > 0 {
            self.push(Segment::File {
                fd,
                offset,
                remaining: len,
            });
        }
    }

    fn tail_mut(&mut self) -> &mut Tail {
        self.tail.get_or_insert_with(Box::default)
    }

    fn push(&mut self, segment: Segment) {
        self.tail_mut().segments.push_back(segment);
    }

    /// The next write: the bytes (with the first owned segment, for one `sendmsg`), or the
    /// file range at the front of the tail.
    #[inline]
    pub fn next_write(&self) -> Write<'_> {
        let bytes = self.bytes.filled();
        match &self.tail {
            // The keep-alive path: no tail, the answers of one round in the buffer.
            None if bytes.is_empty() => Write::Nothing,
            None => Write::Bytes {
                first: bytes,
                second: &[],
                more: false,
            },
            Some(tail) => Self::next_write_with_tail(bytes, tail),
        }
    }

    fn next_write_with_tail<'a>(bytes: &'a [u8], tail: &'a Tail) -> Write<'a> {
        match (bytes.is_empty(), tail.segments.front()) {
            (true, None) => Write::Nothing,
            (false, None) => Write::Bytes {
                first: bytes,
                second: &[],
                more: false,
            },
            (_, Some(Segment::Owned { data, pos })) => Write::Bytes {
                first: bytes,
                second: &data[*pos..],
                more: false,
            },
            (false, Some(Segment::File { .. })) => Write::Bytes {
                first: bytes,
                second: &[],
                more: true,
            },
            (
                true,
                Some(Segment::File {
                    fd,
                    offset,
                    remaining,
                }),
            ) => Write::File {
                fd: fd.as_fd(),
                offset: *offset,
                len: *remaining,
            },
        }
    }

    /// Marks `n` bytes as sent (of what `next_write` offered). Returns the budget charge freed
    /// if that finished the tail.
    ///
    /// # Panics
    /// If `n` is more than was offered.
    #[inline]
    pub fn advance(&mut self, n: usize) -> u64 {
        let from_bytes = n.min(self.bytes.len());
        self.bytes.consume(from_bytes);
        if n == from_bytes {
            return 0;
        }
        self.advance_tail((n - from_bytes) as u64)
    }

    /// `advance` past the bytes: `rest` bytes of the front segment of the tail.
    fn advance_tail(&mut self, mut rest: u64) -> u64 {
        let tail = self.tail.as_mut().expect("sent more than was pending");
        let front = tail
            .segments
            .front_mut()
            .expect("sent more than was pending");
        let done = match front {
            Segment::Owned { data, pos } => {
                *pos += usize::try_from(rest).expect("fits: it was a slice");
                assert!(*pos <= data.len(), "sent more than was pending");
                *pos == data.len()
            }
            Segment::File {
                offset, remaining, ..
            } => {
                rest = rest.min(*remaining);
                *offset += rest;
                *remaining -= rest;
                *remaining == 0
            }
        };
        if done {
            tail.segments.pop_front();
        }
        if tail.segments.is_empty() {
            return self.tail.take().map_or(0, |t| t.charge);
        }
        0
    }

    /// Takes everything pending as if it were sent, copying it into `into` (file ranges read
    /// from their files): for tests and tools that run a protocol without a socket. Returns the
    /// charge freed.
    ///
    /// # Panics
    /// If a file range cannot be read.
    pub fn drain_into(&mut self, into: &mut Vec<u8>) -> u64 {
        let mut freed = 0;
        loop {
            let n = match self.next_write() {
                Write::Nothing => return freed,
                Write::Bytes { first, second, .. } => {
                    into.extend_from_slice(first);
                    into.extend_from_slice(second);
                    first.len() + second.len()
                }
                Write::File { fd, offset, len } => {
                    let bytes = crate::sys::file::read_range(fd, offset, len)
                        .expect("a file range to read");
                    into.extend_from_slice(&bytes);
                    bytes.len()
                }
            };
            freed += self.advance(n);
        }
    }

    /// Drops everything unsent (the connection is closing); returns the charge to release.
    pub fn discard(&mut self) -> u64 {
        self.bytes.consume(self.bytes.len());
        self.tail.take().map_or(0, |t| t.charge)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes_of(w: Write<'_>) -> (Vec<u8>, bool) {
        match w {
            Write::Bytes {
                first,
                second,
                more,
            } => ([first, second].concat(), more),
            other => panic!("expected bytes, got {other:?}"),
        }
    }

    #[test]
    fn bytes_then_tail_then_the_charge_comes_back() {
        let mut out = Output::new();
        out.bytes().extend_from_slice(b"head:");
        assert_eq!(out.attach(b"xxbody".to_vec(), 2, 6), 0);
        assert!(out.has_tail());
        assert_eq!(out.len(), 9);
        assert_eq!(bytes_of(out.next_write()), (b"head:body".to_vec(), false));
        assert_eq!(out.advance(3), 0);
        assert_eq!(bytes_of(out.next_write()), (b"d:body".to_vec(), false));
        assert_eq!(out.advance(4), 0);
        assert_eq!(bytes_of(out.next_write()), (b"dy".to_vec(), false));
        assert_eq!(out.advance(2), 6);
        assert!(out.is_empty() && !out.has_tail());
        assert!(matches!(out.next_write(), Write::Nothing));
    }

    #[test]
    fn a_file_follows_its_head_and_parts_interleave() {
        let file = std::fs::File::open("/proc/self/exe").unwrap();
        let fd = Rc::new(OwnedFd::from(file));
        let mut out = Output::new();
        out.bytes().extend_from_slice(b"HEAD");
        out.attach_file(Rc::clone(&fd), 100, 10);
        assert_eq!(out.attach(b"--sep--".to_vec(), 0, 0), 0);
        out.attach_file(Rc::clone(&fd), 500, 5);
        assert_eq!(out.len(), 4 + 10 + 7 + 5);
        assert_eq!(bytes_of(out.next_write()), (b"HEAD".to_vec(), true));
        out.advance(4);
        let Write::File { offset, len, .. } = out.next_write() else {
            panic!("the file range comes next");
        };
        assert_eq!((offset, len), (100, 10));
        out.advance(6);
        assert!(matches!(
            out.next_write(),
            Write::File {
                offset: 106,
                len: 4,
                ..
            }
        ));
        out.advance(4);
        assert_eq!(bytes_of(out.next_write()), (b"--sep--".to_vec(), false));
        out.advance(7);
        out.advance(5);
        assert!(out.is_empty());
        out.attach_file(fd, 0, 0);
        assert!(!out.has_tail(), "an empty range is no tail");
    }

    #[test]
    fn discard_returns_the_charge_of_an_unsent_tail() {
        let mut out = Output::new();
        assert_eq!(out.attach(vec![1, 2, 3], 0, 3), 0);
        assert_eq!(out.discard(), 3);
        assert!(out.is_empty());
        assert_eq!(
            out.attach(vec![1], 1, 5),
            5,
            "nothing to send: the charge comes back"
        );
        assert!(!out.has_tail(), "nothing left to send is no tail");
    }
}
