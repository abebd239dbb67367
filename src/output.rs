//! What a connection has to send, in order: small bytes in the pooled write buffer, then at most
//! one large body held outside it.
//!
//! Response heads and small bodies are copied into `bytes`, one pooled buffer (a
//! per-connection constant). A body too large for it (an echoed upload, a big `/metrics`) is
//! attached as the `tail`: owned bytes, reserved in the worker's [`Budget`](crate::memory::Budget)
//! before they were made, sent with the head in one `sendmsg`, and released when sent. Nothing is
//! appended while a tail is pending, so the order on the wire is always `bytes` then `tail`, and
//! a connection never holds more than one large body.

use crate::buffer::Buf;

/// A large body waiting to be sent.
#[derive(Debug)]
struct Tail {
    data: Vec<u8>,
    /// Sent up to here.
    pos: usize,
    /// Bytes reserved in the budget for it (`Use::Output`), released when it is gone.
    charge: u64,
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
        self.bytes.len() + self.tail.as_ref().map_or(0, |t| t.data.len() - t.pos)
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty() && self.tail.is_none()
    }

    /// True if a large body is waiting: nothing more may be produced until it is sent.
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
        debug_assert!(self.tail.is_none(), "a second tail");
        if from >= data.len() {
            return charge;
        }
        self.tail = Some(Box::new(Tail {
            data,
            pos: from,
            charge,
        }));
        0
    }

    /// What to send next: the bytes, then the tail (either may be empty).
    #[inline]
    pub fn slices(&self) -> [&[u8]; 2] {
        let tail = self.tail.as_ref().map_or(&[][..], |t| &t.data[t.pos..]);
        [self.bytes.filled(), tail]
    }

    /// Marks `n` bytes as sent. Returns the budget charge freed if that finished the tail.
    ///
    /// # Panics
    /// If `n` is more than is pending.
    #[inline]
    pub fn advance(&mut self, n: usize) -> u64 {
        let from_bytes = n.min(self.bytes.len());
        self.bytes.consume(from_bytes);
        let rest = n - from_bytes;
        if rest == 0 {
            return 0;
        }
        let tail = self.tail.as_mut().expect("sent more than was pending");
        tail.pos += rest;
        assert!(tail.pos <= tail.data.len(), "sent more than was pending");
        if tail.pos < tail.data.len() {
            return 0;
        }
        self.tail.take().map_or(0, |t| t.charge)
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

    #[test]
    fn bytes_then_tail_then_the_charge_comes_back() {
        let mut out = Output::new();
        out.bytes().extend_from_slice(b"head:");
        assert_eq!(out.attach(b"xxbody".to_vec(), 2, 6), 0);
        assert!(out.has_tail());
        assert_eq!(out.len(), 9);
        assert_eq!(out.slices(), [&b"head:"[..], &b"body"[..]]);
        assert_eq!(out.advance(3), 0);
        assert_eq!(out.slices(), [&b"d:"[..], &b"body"[..]]);
        assert_eq!(out.advance(4), 0);
        assert_eq!(out.slices(), [&b""[..], &b"dy"[..]]);
        assert_eq!(out.advance(2), 6);
        assert!(out.is_empty() && !out.has_tail());
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
