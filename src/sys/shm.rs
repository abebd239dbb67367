//! Typed arrays in a shared anonymous mapping, created by the master before it forks, so each
//! worker can update its own slot and any process can read every slot, without a syscall.

use std::io;
use std::num::NonZeroUsize;
use std::ptr::NonNull;

use nix::sys::mman::{mmap_anonymous, munmap, MapFlags, ProtFlags};

/// Types that may live in a shared mapping.
///
/// # Safety
/// All-zero bytes must be a valid value, and every field must be accessed only through atomics
/// (the processes sharing the mapping update it concurrently).
pub unsafe trait ShmSafe {}

/// A fixed array of `T` shared by the master and every process forked after it.
pub struct Shared<T: ShmSafe> {
    ptr: NonNull<T>,
    len: usize,
}

impl<T: ShmSafe> Shared<T> {
    /// Maps `len` zeroed values, shared across `fork`.
    ///
    /// # Errors
    /// If `mmap` fails.
    pub fn new(len: usize) -> io::Result<Shared<T>> {
        let len = len.max(1);
        let bytes =
            NonZeroUsize::new(len * std::mem::size_of::<T>().max(1)).expect("non-zero size");
        // SAFETY: a fresh anonymous mapping aliases no Rust object; the kernel zero-fills it and
        // aligns it to a page, which satisfies any `T`'s alignment up to 4096.
        let ptr = unsafe {
            mmap_anonymous(
                None,
                bytes,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
            )
        }?;
        assert!(std::mem::align_of::<T>() <= 4096, "page alignment suffices");
        Ok(Shared {
            ptr: ptr.cast(),
            len,
        })
    }

    /// The values (zero-initialised, which `ShmSafe` makes valid).
    pub fn slots(&self) -> &[T] {
        // SAFETY: `ptr` points to `len` initialised values that stay mapped until `self` is
        // dropped; the borrow cannot outlive `self`; `ShmSafe` types are only accessed through
        // atomics, so sharing them with other processes is sound.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: ShmSafe> Drop for Shared<T> {
    fn drop(&mut self) {
        let bytes = self.len * std::mem::size_of::<T>().max(1);
        // SAFETY: the mapping was created by `new` with this length and is not used after drop.
        let _ = unsafe { munmap(self.ptr.cast(), bytes) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    struct Counter(AtomicU64);
    // SAFETY: an AtomicU64 of zero bytes is 0, and it is only accessed atomically.
    unsafe impl ShmSafe for Counter {}

    #[test]
    fn slots_start_at_zero_and_count() {
        let shm: Shared<Counter> = Shared::new(3).unwrap();
        assert_eq!(shm.slots().len(), 3);
        assert!(shm.slots().iter().all(|c| c.0.load(Ordering::Relaxed) == 0));
        shm.slots()[1].0.fetch_add(5, Ordering::Relaxed);
        assert_eq!(shm.slots()[1].0.load(Ordering::Relaxed), 5);
    }
}
