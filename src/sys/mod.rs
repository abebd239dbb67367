//! The operating-system layer: where `unsafe` is allowed (elsewhere only `process::spawn`'s
//! `fork` and `stats.rs`'s two `unsafe impl ShmSafe`). Everything here returns `io::Result`,
//! owns its fds, and imports nothing from the crate above it.
#![allow(unsafe_code)]

pub mod alloc;
pub mod cgroup;
pub mod cpus;
pub mod epoll;
pub mod file;
pub mod identity;
pub mod net;
pub mod procfs;
pub mod rlimit;
pub mod shm;

use std::os::fd::RawFd;

/// Closes descriptors a forked child inherited from the master but must not keep (the other
/// slots' listeners and channels, the master's epoll and signal pipe).
///
/// The parent's `OwnedFd`s for these stay alive in the child's copy of the master's memory, but
/// their destructors never run there: the child's entry point never returns, and it leaves only
/// through `std::process::exit`. So each number is closed exactly once in the child.
pub fn close_inherited(fds: &[RawFd]) {
    for &fd in fds {
        // EBADF would mean the fd list was wrong; EINTR on close(2) must not be retried on Linux
        // (the fd is already released). Either way there is nothing more to do.
        let _ = nix::unistd::close(fd);
    }
}
