//! Files served from a document root: opened beneath it (the kernel enforces containment),
//! described by `fstat` on the open descriptor (no stat-then-open race), and sent with
//! `sendfile(2)` straight from the page cache to the socket.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{self, OFlag, OpenHow, ResolveFlag};
use nix::sys::socket::MsgFlags;
use nix::sys::stat::{fstat, Mode, SFlag};

use super::net::IoOutcome;

/// What an open descriptor is, from `fstat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    pub kind: Kind,
    pub size: u64,
    /// Last modification: seconds and nanoseconds since the epoch.
    pub mtime: (i64, i64),
    /// The file's identity, to notice it was replaced under the same name.
    pub dev: u64,
    pub ino: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    /// A FIFO, a device, a socket: never served (reading one could block a worker).
    Other,
}

/// How every file is opened: read-only, and never able to block or become a terminal.
fn open_flags() -> OFlag {
    OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_NOCTTY | OFlag::O_CLOEXEC
}

/// Opens the document root itself.
///
/// # Errors
/// If it cannot be opened or is not a directory.
pub fn open_root(path: &Path) -> io::Result<OwnedFd> {
    let fd = fcntl::open(path, open_flags() | OFlag::O_DIRECTORY, Mode::empty())?;
    Ok(fd)
}

/// Opens `rel` (a normalized relative path: no `.`, `..` or empty segment; "" is the root)
/// beneath `root`. With `openat2`, symlinks inside the root are followed and any resolution
/// that would leave it (`..` through a symlink, an absolute link, a magic link) fails with
/// EXDEV; where `openat2` is missing (ENOSYS, Linux < 5.6), each component is opened with
/// O_NOFOLLOW instead, so no symlink is followed at all.
///
/// # Errors
/// ENOENT, EACCES, ELOOP, EXDEV (outside the root), EMFILE...
pub fn open_beneath(root: BorrowedFd<'_>, rel: &[u8]) -> io::Result<OwnedFd> {
    let path: &[u8] = if rel.is_empty() { b"." } else { rel };
    let how = OpenHow::new()
        .flags(open_flags())
        .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    match fcntl::openat2(root, path, how) {
        Err(Errno::ENOSYS) => open_without_symlinks(root, rel),
        other => Ok(other?),
    }
}

/// The walk for kernels without `openat2`: every component opened with O_NOFOLLOW.
pub fn open_without_symlinks(root: BorrowedFd<'_>, rel: &[u8]) -> io::Result<OwnedFd> {
    let mut dir = root.try_clone_to_owned()?;
    let mut components = rel
        .split(|&b| b == b'/')
        .filter(|c| !c.is_empty())
        .peekable();
    if components.peek().is_none() {
        return Ok(fcntl::openat(
            root,
            b".".as_slice(),
            open_flags(),
            Mode::empty(),
        )?);
    }
    while let Some(component) = components.next() {
        let last = components.peek().is_none();
        let flags = if last {
            open_flags() | OFlag::O_NOFOLLOW
        } else {
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC
        };
        dir = fcntl::openat(dir.as_fd(), component, flags, Mode::empty())?;
    }
    Ok(dir)
}

/// What `fd` is.
///
/// # Errors
/// `fstat` failed.
pub fn meta(fd: BorrowedFd<'_>) -> io::Result<Meta> {
    let st = fstat(fd)?;
    let format = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
    let kind = if format == SFlag::S_IFREG {
        Kind::File
    } else if format == SFlag::S_IFDIR {
        Kind::Dir
    } else {
        Kind::Other
    };
    Ok(Meta {
        kind,
        size: u64::try_from(st.st_size).unwrap_or(0),
        mtime: (st.st_mtime, st.st_mtime_nsec),
        dev: st.st_dev,
        ino: st.st_ino,
    })
}

/// Reads the whole of a small file (`len` bytes, from its start) for the cache.
///
/// # Errors
/// A read error, or the file came out shorter than `len` (it shrank while being read).
pub fn read_whole(fd: BorrowedFd<'_>, len: usize) -> io::Result<Vec<u8>> {
    read_range(fd, 0, len as u64)
}

/// One `pread(2)` of up to `buf.len()` bytes of a file from `offset`, retrying EINTR: a file
/// sent over TLS goes through a bounded buffer, read and encrypted a record at a time.
/// `Eof` means the file ended before `offset`.
pub fn read_at(fd: BorrowedFd<'_>, buf: &mut [u8], offset: u64) -> IoOutcome {
    loop {
        return match nix::sys::uio::pread(fd, buf, offset as libc::off_t) {
            Ok(0) => IoOutcome::Eof,
            Ok(n) => IoOutcome::Done(n),
            Err(Errno::EINTR) => continue,
            Err(e) => IoOutcome::Failed(e),
        };
    }
}

/// Reads `len` bytes of a file from `offset` (for tools and tests; serving uses `sendfile`).
///
/// # Errors
/// A read error, or the file ended early.
pub fn read_range(fd: BorrowedFd<'_>, offset: u64, len: u64) -> io::Result<Vec<u8>> {
    let len = usize::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::OutOfMemory))?;
    let mut buf = vec![0; len];
    let mut at = 0;
    while at < len {
        match nix::sys::uio::pread(fd, &mut buf[at..], (offset + at as u64) as libc::off_t) {
            Ok(0) => return Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
            Ok(n) => at += n,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(buf)
}

/// One `sendfile(2)` of up to `count` bytes of `file` from `*offset` to the socket, advancing
/// the offset, retrying EINTR. `Eof` means the file ended before `count`: it shrank after its
/// length was promised.
pub fn send_file(
    socket: BorrowedFd<'_>,
    file: BorrowedFd<'_>,
    offset: &mut u64,
    count: usize,
) -> IoOutcome {
    let mut off = *offset as libc::off_t;
    loop {
        return match nix::sys::sendfile::sendfile64(socket, file, Some(&mut off), count) {
            Ok(0) => IoOutcome::Eof,
            Ok(n) => {
                *offset = off as u64;
                IoOutcome::Done(n)
            }
            Err(Errno::EINTR) => continue,
            Err(Errno::EAGAIN) => IoOutcome::WouldBlock,
            Err(e) => super::net::sort_errno(e),
        };
    }
}

/// One `send(2)` with MSG_MORE: a response head that a file body follows, held back by the
/// kernel to leave in the same segments as the body's first bytes.
pub fn send_more(socket: BorrowedFd<'_>, buf: &[u8]) -> IoOutcome {
    super::net::send_flags(socket, buf, MsgFlags::from_bits_retain(libc::MSG_MORE))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tree() -> (tempdir::Dir, OwnedFd) {
        let dir = tempdir::Dir::new();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/a.txt"), b"hello").unwrap();
        symlink("a.txt", dir.path().join("sub/inside")).unwrap();
        symlink("/etc/hostname", dir.path().join("outside")).unwrap();
        symlink("../..", dir.path().join("sub/up")).unwrap();
        let root = open_root(dir.path()).unwrap();
        (dir, root)
    }

    #[test]
    fn opens_beneath_the_root_only() {
        let (_dir, root) = tree();
        let fd = open_beneath(root.as_fd(), b"sub/a.txt").unwrap();
        let m = meta(fd.as_fd()).unwrap();
        assert_eq!((m.kind, m.size), (Kind::File, 5));
        assert_eq!(read_whole(fd.as_fd(), 5).unwrap(), b"hello");
        assert_eq!(
            meta(open_beneath(root.as_fd(), b"").unwrap().as_fd())
                .unwrap()
                .kind,
            Kind::Dir
        );
        // A symlink that stays inside is followed; one that leaves is refused.
        assert!(open_beneath(root.as_fd(), b"sub/inside").is_ok());
        let out = open_beneath(root.as_fd(), b"outside").unwrap_err();
        assert_eq!(out.raw_os_error(), Some(libc::EXDEV));
        assert!(open_beneath(root.as_fd(), b"sub/up/etc/hostname").is_err());
        assert!(open_beneath(root.as_fd(), b"missing").is_err());
    }

    #[test]
    fn the_fallback_follows_no_symlink() {
        let (_dir, root) = tree();
        assert!(open_without_symlinks(root.as_fd(), b"sub/a.txt").is_ok());
        assert!(open_without_symlinks(root.as_fd(), b"sub/inside").is_err());
        assert!(open_without_symlinks(root.as_fd(), b"outside").is_err());
        assert!(open_without_symlinks(root.as_fd(), b"sub/up/etc").is_err());
        assert_eq!(
            meta(open_without_symlinks(root.as_fd(), b"").unwrap().as_fd())
                .unwrap()
                .kind,
            Kind::Dir
        );
    }

    #[test]
    fn a_fifo_is_not_a_file_and_does_not_block() {
        let (dir, root) = tree();
        nix::unistd::mkfifo(&dir.path().join("pipe"), Mode::S_IRWXU).unwrap();
        let fd = open_beneath(root.as_fd(), b"pipe").unwrap();
        assert_eq!(meta(fd.as_fd()).unwrap().kind, Kind::Other);
    }

    /// A temporary folder removed on drop (no crate for it).
    mod tempdir {
        use std::path::{Path, PathBuf};
        use std::sync::atomic::{AtomicUsize, Ordering};

        pub(super) struct Dir(PathBuf);

        impl Dir {
            pub(super) fn new() -> Dir {
                static N: AtomicUsize = AtomicUsize::new(0);
                let path = std::env::temp_dir().join(format!(
                    "prefork-file-{}-{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::create_dir_all(&path).unwrap();
                Dir(path)
            }

            pub(super) fn path(&self) -> &Path {
                &self.0
            }
        }

        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }
}

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    pub name: Vec<u8>,
    pub kind: Kind,
    pub size: u64,
    /// Last modification, seconds since the epoch.
    pub mtime: i64,
}

/// A directory read in steps (a listing of a large one is made a slice at a time): each call
/// to [`DirReader::read`] goes on where the last stopped.
pub struct DirReader {
    entries: nix::dir::OwningIter,
    /// The directory's descriptor, owned by `entries` and open as long as it is.
    fd: RawFd,
}

impl std::fmt::Debug for DirReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirReader").field("fd", &self.fd).finish()
    }
}

impl DirReader {
    /// Reads the directory `dir` from its start.
    ///
    /// # Errors
    /// `dir` is not a readable directory.
    pub fn open(dir: OwnedFd) -> io::Result<DirReader> {
        let dir = nix::dir::Dir::from_fd(dir)?;
        let fd = dir.as_raw_fd();
        Ok(DirReader {
            entries: dir.into_iter(),
            fd,
        })
    }

    /// Appends up to `n` more entries (not `.` and `..`) that `keep` accepts by name, in the
    /// directory's own order; true once the directory is read to its end. Symbolic links are
    /// described as themselves (not followed: a listing never describes what lies outside the
    /// root) and reported as `Kind::Other`; an entry gone since it was listed is skipped.
    ///
    /// # Errors
    /// The directory cannot be read.
    pub fn read(
        &mut self,
        n: usize,
        keep: impl Fn(&[u8]) -> bool,
        into: &mut Vec<DirEntry>,
    ) -> io::Result<bool> {
        use std::os::unix::ffi::OsStrExt;
        let mut taken = 0;
        while taken < n {
            let Some(entry) = self.entries.next() else {
                return Ok(true);
            };
            let entry = entry?;
            let name = entry.file_name().to_bytes();
            if name == b"." || name == b".." || !keep(name) {
                continue;
            }
            let os_name = std::ffi::OsStr::from_bytes(name);
            // SAFETY: `self.fd` is the directory `self.entries` owns and keeps open; the
            // borrow ends with this call.
            let dirfd = unsafe { BorrowedFd::borrow_raw(self.fd) };
            let Ok(st) =
                nix::sys::stat::fstatat(dirfd, os_name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
            else {
                continue;
            };
            let format = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
            let kind = if format == SFlag::S_IFREG {
                Kind::File
            } else if format == SFlag::S_IFDIR {
                Kind::Dir
            } else {
                Kind::Other
            };
            into.push(DirEntry {
                name: name.to_vec(),
                kind,
                size: u64::try_from(st.st_size).unwrap_or(0),
                mtime: st.st_mtime,
            });
            taken += 1;
        }
        Ok(false)
    }
}

/// The entries of the directory `dir` (not `.` and `..`), at most `max` of them (in the
/// directory's own order), and whether there were more. Symbolic links are described as
/// themselves (not followed: a listing never describes what lies outside the root) and
/// reported as `Kind::Other`; `keep` filters by name before anything is asked of an entry.
///
/// # Errors
/// The directory cannot be read.
pub fn list_dir(
    dir: OwnedFd,
    max: usize,
    keep: impl Fn(&[u8]) -> bool,
) -> io::Result<(Vec<DirEntry>, bool)> {
    let mut reader = DirReader::open(dir)?;
    let mut entries = Vec::new();
    // One past the cap tells whether there were more.
    reader.read(max.saturating_add(1), keep, &mut entries)?;
    let more = entries.len() > max;
    entries.truncate(max);
    Ok((entries, more))
}
