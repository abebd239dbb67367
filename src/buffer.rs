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
#[derive(Debug)]
pub struct BufPool {
    free: Vec<Vec<u8>>,
    size: usize,
    max_free: usize,
}

impl BufPool {
    pub fn new(size: usize, max_free: usize) -> BufPool {
        BufPool {
            free: Vec::new(),
            size,
            max_free,
        }
    }

    /// Gives `buf` storage of the pool's size if it has none.
    pub fn fill(&mut self, buf: &mut Buf) {
        if buf.capacity() == 0 {
            let storage = self.free.pop().unwrap_or_else(|| vec![0; self.size]);
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
    fn buffer_with_bytes_keeps_its_storage() {
        let mut pool = BufPool::new(8, 4);
        let mut b = Buf::from_slice(b"x");
        pool.reclaim(&mut b);
        assert_eq!(b.filled(), b"x");
    }
}
