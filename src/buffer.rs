//! `Buf`: a byte buffer with read and write cursors, and `BufPool`, the worker's free list.
//!
//! The storage is a `Vec<u8>` whose whole length is initialised, so `spare_mut` can hand out a
//! `&mut [u8]` for `recv(2)` without `unsafe`; a buffer is zeroed once, when first allocated, and
//! then reused from the pool.

/// Bytes `filled()` = `data[start..end]`; `spare_mut()` = `data[end..]`.
#[derive(Debug, Default)]
pub struct Buf {
    data: Vec<u8>,
    start: usize,
    end: usize,
}

impl Buf {
    /// An empty buffer with no storage yet.
    pub const fn new() -> Buf {
        Buf {
            data: Vec::new(),
            start: 0,
            end: 0,
        }
    }

    /// A buffer holding a copy of `bytes` (for tests and cold paths).
    pub fn from_slice(bytes: &[u8]) -> Buf {
        let mut b = Buf::new();
        b.extend_from_slice(bytes);
        b
    }

    /// The bytes written and not yet consumed.
    pub fn filled(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }

    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Bytes of storage held (filled or not).
    pub fn capacity(&self) -> usize {
        self.data.len()
    }

    /// Bytes that could still be filled, counting the consumed head that compaction reclaims.
    pub fn room(&self) -> usize {
        self.data.len() - self.len()
    }

    /// The filled bytes, writable: a request body is de-chunked in place.
    pub fn filled_mut(&mut self) -> &mut [u8] {
        &mut self.data[self.start..self.end]
    }

    /// Removes `filled()[from..to]`, moving the bytes after it down: bytes already processed
    /// in the middle of a request (chunk framing, a discarded body) give their room back while
    /// the head before them is kept.
    ///
    /// # Panics
    /// If the range is not within the filled bytes.
    pub fn remove_range(&mut self, from: usize, to: usize) {
        assert!(
            from <= to && to <= self.len(),
            "range outside the filled bytes"
        );
        let (from, to) = (self.start + from, self.start + to);
        self.data.copy_within(to..self.end, from);
        self.end -= to - from;
    }

    /// Keeps only the first `len` filled bytes (nothing happens if there are fewer): a frame
    /// header written ahead of a payload that turned out empty is taken back.
    pub fn truncate(&mut self, len: usize) {
        self.end = self.end.min(self.start + len);
    }

    /// Drops the first `n` filled bytes.
    ///
    /// # Panics
    /// If `n > self.len()`: a caller consuming bytes it never saw is a bug.
    pub fn consume(&mut self, n: usize) {
        assert!(n <= self.len(), "consume past the filled bytes");
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Room to read into; compacts first when the free tail is smaller than the consumed head.
    pub fn spare_mut(&mut self) -> &mut [u8] {
        if self.start > 0 && self.data.len() - self.end < self.start {
            self.compact();
        }
        &mut self.data[self.end..]
    }

    /// Marks `n` bytes of `spare_mut()` as filled.
    ///
    /// # Panics
    /// If `n` exceeds the spare room.
    pub fn commit(&mut self, n: usize) {
        assert!(self.end + n <= self.data.len(), "commit past the storage");
        self.end += n;
    }

    /// Appends `bytes`, growing the storage if needed.
    #[inline(always)]
    pub fn extend_from_slice(&mut self, bytes: &[u8]) {
        self.reserve(bytes.len());
        self.data[self.end..self.end + bytes.len()].copy_from_slice(bytes);
        self.end += bytes.len();
    }

    /// Ensures at least `n` spare bytes after the filled ones.
    pub fn reserve(&mut self, n: usize) {
        if self.data.len() - self.end >= n {
            return;
        }
        self.compact();
        if self.data.len() - self.end < n {
            let want = (self.end + n).max(self.data.len() * 2).max(4096);
            self.data.resize(want, 0);
        }
    }

    /// Ensures at least `n` spare bytes, growing to exactly that if it must (no doubling):
    /// for a buffer whose growth is charged to the budget by a bound.
    pub fn reserve_exact(&mut self, n: usize) {
        if self.data.len() - self.end >= n {
            return;
        }
        self.compact();
        if self.data.len() - self.end < n {
            self.data.resize(self.end + n, 0);
        }
    }

    fn compact(&mut self) {
        if self.start > 0 {
            self.data.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
    }

    /// Gives the storage of an empty buffer back (to a pool); `None` if it holds bytes or none.
    pub fn take_storage(&mut self) -> Option<Vec<u8>> {
        if !self.is_empty() || self.data.is_empty() {
            return None;
        }
        self.start = 0;
        self.end = 0;
        Some(std::mem::take(&mut self.data))
    }

    /// Installs storage into a buffer that has none.
    pub fn give_storage(&mut self, storage: Vec<u8>) {
        debug_assert!(self.data.is_empty());
        self.data = storage;
        self.start = 0;
        self.end = 0;
    }
}

/// A bounded free list of equally sized buffers, so steady-state traffic allocates nothing.
///
/// After a burst the list would keep its peak for ever; [`BufPool::trim`], called about once a
/// second, frees the buffers that sat unused for a whole interval beyond a small reserve.
#[derive(Debug)]
pub struct BufPool {
    free: Vec<Vec<u8>>,
    size: usize,
    max_free: usize,
    /// The shortest the free list has been since the last trim: that many buffers were idle
    /// for the whole interval.
    low: usize,
}

impl BufPool {
    pub fn new(size: usize, max_free: usize) -> BufPool {
        BufPool {
            free: Vec::new(),
            size,
            max_free,
            low: 0,
        }
    }

    /// The size of every pooled buffer.
    pub fn buffer_size(&self) -> usize {
        self.size
    }

    /// Gives `buf` storage of the pool's size if it has none.
    pub fn fill(&mut self, buf: &mut Buf) {
        if buf.capacity() == 0 {
            let storage = self.free.pop().unwrap_or_else(|| vec![0; self.size]);
            self.low = self.low.min(self.free.len());
            buf.give_storage(storage);
        }
    }

    /// Takes the storage back from an empty buffer. Storage that grew past the pool's size is
    /// freed instead, so the pool never holds more than `max_free * size` bytes.
    pub fn reclaim(&mut self, buf: &mut Buf) {
        if let Some(storage) = buf.take_storage() {
            if storage.len() == self.size && self.free.len() < self.max_free {
                self.free.push(storage);
            }
        }
    }

    /// Frees the buffers that were idle since the last trim, keeping at least `reserve`.
    /// Returns the bytes given back to the allocator.
    pub fn trim(&mut self, reserve: usize) -> usize {
        let excess = self.low.min(self.free.len()).saturating_sub(reserve);
        self.free.truncate(self.free.len() - excess);
        self.free.shrink_to(self.free.len().max(reserve));
        self.low = self.free.len();
        excess * self.size
    }

    /// Bytes held in the free list.
    pub fn idle_bytes(&self) -> usize {
        self.free.len() * self.size
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_commit_consume_compact() {
        let mut pool = BufPool::new(8, 4);
        let mut b = Buf::new();
        pool.fill(&mut b);
        b.spare_mut()[..5].copy_from_slice(b"hello");
        b.commit(5);
        assert_eq!(b.filled(), b"hello");
        b.consume(3);
        assert_eq!(b.filled(), b"lo");
        // 3 spare at the tail, 3 consumed at the head: no compaction yet.
        assert_eq!(b.spare_mut().len(), 3);
        b.spare_mut()[..3].copy_from_slice(b"abc");
        b.commit(3);
        b.consume(2);
        // Tail is full, head has 5 consumed bytes: compaction makes room.
        assert_eq!(b.spare_mut().len(), 5);
        assert_eq!(b.filled(), b"abc");
        b.consume(3);
        assert!(b.is_empty());
        pool.reclaim(&mut b);
        assert_eq!(b.capacity(), 0);
        assert_eq!(pool.free.len(), 1);
    }

    #[test]
    fn extend_grows_and_oversized_storage_is_not_pooled() {
        let mut pool = BufPool::new(8, 4);
        let mut b = Buf::new();
        pool.fill(&mut b);
        b.extend_from_slice(&[7u8; 100]);
        assert_eq!(b.len(), 100);
        b.consume(100);
        pool.reclaim(&mut b);
        assert!(pool.free.is_empty());
    }

    #[test]
    fn remove_range_keeps_what_is_around_it() {
        let mut b = Buf::from_slice(b"..head-dead-rest");
        b.consume(2);
        assert_eq!(b.room(), b.capacity() - 14);
        b.remove_range(4, 10);
        assert_eq!(b.filled(), b"headrest");
        b.filled_mut()[0] = b'H';
        assert_eq!(b.filled(), b"Headrest");
        b.remove_range(8, 8);
        assert_eq!(b.filled(), b"Headrest");
    }

    #[test]
    fn trim_frees_only_what_sat_idle_for_a_whole_interval() {
        let mut pool = BufPool::new(8, 100);
        let mut bufs: Vec<Buf> = (0..10).map(|_| Buf::new()).collect();
        for b in &mut bufs {
            pool.fill(b);
        }
        for b in &mut bufs {
            pool.reclaim(b);
        }
        assert_eq!(pool.idle_bytes(), 80);
        // The burst's buffers were taken during this interval: none sat idle through it.
        assert_eq!(pool.trim(2), 0);
        // Nothing taken since: all but the reserve go.
        assert_eq!(pool.trim(2), 64);
        assert_eq!(pool.idle_bytes(), 16);
        // Two in use during the interval, then back: the low mark was 0, nothing to free.
        pool.fill(&mut bufs[0]);
        pool.fill(&mut bufs[1]);
        pool.reclaim(&mut bufs[0]);
        pool.reclaim(&mut bufs[1]);
        assert_eq!(pool.trim(2), 0);
    }

    #[test]
    fn buffer_with_bytes_keeps_its_storage() {
        let mut pool = BufPool::new(8, 4);
        let mut b = Buf::from_slice(b"x");
        pool.reclaim(&mut b);
        assert_eq!(b.filled(), b"x");
    }
}
