//! Counters in a shared anonymous mapping, created by the master before it forks, so each worker
//! can bump its own heartbeat and the master can read it without a syscall on either side.

use std::io;
use std::num::NonZeroUsize;
use std::ptr::NonNull;
use std::sync::atomic::AtomicU64;

use nix::sys::mman::{mmap_anonymous, munmap, MapFlags, ProtFlags};

/// One counter on its own cache line, so workers bumping neighbours do not share a line.
#[repr(align(64))]
pub struct Cell(pub AtomicU64);

/// A fixed array of [`Cell`]s shared by the master and every process forked after it.
pub struct SharedCells {
    ptr: NonNull<Cell>,
    len: usize,
}

impl SharedCells {
    /// Maps `len` zeroed cells, shared across `fork`.
    ///
    /// # Errors
    /// If `mmap` fails.
    pub fn new(len: usize) -> io::Result<SharedCells> {
        let bytes =
            NonZeroUsize::new(len.max(1) * std::mem::size_of::<Cell>()).expect("at least one cell");
        // SAFETY: a fresh anonymous mapping aliases no Rust object; the kernel zero-fills it and
        // aligns it to a page, which satisfies `Cell`'s 64-byte alignment.
        let ptr = unsafe {
            mmap_anonymous(
                None,
                bytes,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
            )
        }?;
        Ok(SharedCells {
            ptr: ptr.cast(),
            len: len.max(1),
        })
    }

    /// The cells; all-zero bytes are a valid `AtomicU64`, and every access goes through atomics,
    /// which is what makes sharing them across processes sound.
    pub fn cells(&self) -> &[Cell] {
        // SAFETY: `ptr` points to `len` initialised (zeroed) cells that stay mapped until `self`
        // is dropped; the returned borrow cannot outlive `self`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for SharedCells {
    fn drop(&mut self) {
        let bytes = self.len * std::mem::size_of::<Cell>();
        // SAFETY: the mapping was created by `new` with this length and is not used after drop.
        let _ = unsafe { munmap(self.ptr.cast(), bytes) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    #[test]
    fn cells_start_at_zero_and_count() {
        let shm = SharedCells::new(3).unwrap();
        assert_eq!(shm.cells().len(), 3);
        assert!(shm.cells().iter().all(|c| c.0.load(Ordering::Relaxed) == 0));
        shm.cells()[1].0.fetch_add(5, Ordering::Relaxed);
        assert_eq!(shm.cells()[1].0.load(Ordering::Relaxed), 5);
    }
}
