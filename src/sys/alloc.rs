//! The C allocator's knobs: memory a burst made the allocator hold goes back to the system.
//!
//! glibc serves large allocations with `mmap` and frees them with `munmap`, but by default it
//! raises that threshold each time such a block is freed (up to 32 MiB on 64-bit), after which
//! the same large buffers come from the heap and, once freed, stay with the process. Fixing the
//! threshold turns the adaptation off, so a request body's buffer is returned when it is
//! dropped; `malloc_trim` returns the free pages left in the heap after a burst of small buffers.

/// Large allocations (request bodies, response bodies) at or above this size are mapped on
/// their own and unmapped when freed.
pub const MMAP_THRESHOLD: usize = 128 * 1024;

/// Fixes glibc's mmap threshold at [`MMAP_THRESHOLD`] (see the module doc). Call it before the
/// first large allocation; a no-op where the C library is not glibc.
pub fn return_large_blocks_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only sets a tunable of the allocator; any value is accepted or
        // refused (returning 0), and no memory is touched.
        let _ = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD as libc::c_int) };
    }
}

/// Gives the heap's free pages back to the system (glibc's `malloc_trim(0)`), after a burst of
/// freed buffers. Costs time in proportion to the heap: call it rarely (the worker does at most
/// once a second, and only after it freed a lot).
pub fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim only releases free memory the allocator owns; it has no
        // preconditions and the worker is single-threaded.
        let _ = unsafe { libc::malloc_trim(0) };
    }
}
