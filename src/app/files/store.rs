//! The files a worker serves, behind one small interface ([`FileStore::lookup`]).
//!
//! The answers (`serve.rs`) decide what to send (which representation, which ranges, which
//! headers); this module finds and opens files beneath the root, keeps what it learns about them, and
//! hands out open descriptors that the connection sends with `sendfile`. Syscalls are in
//! `sys::file`.
//!
//! A per-worker cache keeps, for each path asked for, the open descriptor, its metadata, its
//! validators and (for small files) its bytes, and revalidates an entry at most once a second:
//! a hot small file costs a hash lookup and one `send`, where nginx without `open_file_cache`
//! pays `open`, `fstat`, `writev`, `sendfile` and `close` every time. A file changed on disk is
//! seen within a second; a download in progress keeps the descriptor it started with.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::cache_rule::CachePattern;
use super::path;
use crate::config::FileOptions;
use crate::http::date;
use crate::sys::file::{self, Kind, Meta};

/// How long what the cache knows of a path is trusted before it is checked again.
const REVALIDATE_AFTER: Duration = Duration::from_secs(1);

/// Paths the cache remembers at most (each holds up to four descriptors: the file and its
/// precompressed siblings).
pub const CACHE_ENTRIES: usize = 256;

/// Descriptors the cache may hold, kept out of the connection budget when `--root` is on.
pub const CACHE_FDS: usize = CACHE_ENTRIES * 4;

/// Files up to this size have their bytes cached (a hot small file is then one copy and one
/// `send`), up to [`SMALL_TOTAL`] bytes in all per worker.
pub const SMALL_FILE: u64 = 8 * 1024;
pub const SMALL_TOTAL: usize = 8 * 1024 * 1024;

/// The precompressed siblings looked for next to a file, in `Coding::ALL` order.
const SIBLING_SUFFIXES: [&[u8]; 3] = [b".br", b".zst", b".gz"];

/// One representation on disk, as the cache knows it.
#[derive(Debug)]
pub struct File {
    pub fd: Rc<OwnedFd>,
    pub size: u64,
    /// A strong entity-tag from the modification time (nanoseconds) and the size, quoted.
    /// Never the inode: it differs between the machines behind a load balancer.
    pub etag: Box<[u8]>,
    pub modified: u64,
    /// `Last-Modified`, formatted once.
    pub last_modified: [u8; 29],
    /// `Content-Type`, from the name the client asked for (a sibling's is its original's).
    pub content_type: &'static [u8],
    /// No type is known for the name: sent as application/octet-stream with `nosniff`.
    pub unknown_type: bool,
    /// The whole file, for small ones.
    pub bytes: Option<Box<[u8]>>,
    /// Precompressed siblings (`.br`, `.zst`, `.gz`), in `Coding::ALL` order.
    pub siblings: [Option<Rc<File>>; 3],
    meta: Meta,
}

impl File {
    /// True if any precompressed sibling exists: every answer for it carries
    /// `Vary: Accept-Encoding`.
    pub fn has_siblings(&self) -> bool {
        self.siblings.iter().any(Option::is_some)
    }
}

/// What a request path came to.
#[derive(Debug)]
pub enum Lookup {
    File(Rc<File>),
    /// A directory named without its trailing slash: redirect to this path-absolute location
    /// (percent-encoded, never starting with `//`).
    Redirect(Vec<u8>),
    /// No such file (or hidden, or not a regular file, or a directory without an index).
    NotFound,
    /// The file (or a directory on its path) exists but this worker may not open it
    /// (EACCES: with --user, a file only root may read): 403, as nginx answers.
    Forbidden,
    /// The path climbs above the root, or holds a bad escape or an encoded NUL.
    BadPath,
    /// The file could not be opened for a reason on our side (out of descriptors).
    Unavailable,
    /// A directory with its slash and no index file, with `--autoindex`: list it (its path
    /// relative to the root is [`FileStore::last_rel`]).
    Listing,
}

/// What the cache knows of one path.
#[derive(Debug)]
enum Known {
    File(Rc<File>),
    Dir,
    Missing,
    Forbidden,
}

#[derive(Debug)]
struct Slot {
    known: Known,
    checked: Instant,
}

#[derive(Debug, Default)]
struct Cache {
    slots: HashMap<Box<[u8]>, Slot>,
    /// Bytes of small files held.
    small_bytes: usize,
}

/// The document root and what a worker knows of it.
#[derive(Debug)]
pub struct FileStore {
    root: OwnedFd,
    index: Vec<Box<[u8]>>,
    dotfiles: bool,
    /// `--cache-control`, for the HTTP layer.
    pub cache_control: Option<Box<[u8]>>,
    /// `--autoindex`: a directory without an index file is listed; at most this many entries.
    pub autoindex: Option<usize>,
    /// `--fallback`, as a URL path (`/index.html`).
    pub fallback: Option<Box<[u8]>>,
    /// `--error-page`: each status's page, as a URL path.
    pub error_pages: Vec<(u16, Box<[u8]>)>,
    /// `--cache-rule`: (the pattern's text before and after its `*`, or the whole path when it
    /// has none; the value).
    cache_rules: Vec<(CachePattern, Box<[u8]>)>,
    cache: Cache,
    /// `--compress`'s policy (set by the application): files of its types get compressed
    /// representations.
    pub(crate) compress: Option<std::rc::Rc<crate::app::compress::Compression>>,
    /// The resolved path of the current lookup (reused: a lookup allocates nothing on a hit).
    scratch: Vec<u8>,
}

impl FileStore {
    /// Opens the root.
    ///
    /// # Errors
    /// If the root cannot be opened as a directory.
    pub fn open(options: &FileOptions) -> io::Result<FileStore> {
        Ok(FileStore {
            root: file::open_root(&options.root).map_err(|e| {
                io::Error::new(e.kind(), format!("--root {}: {e}", options.root.display()))
            })?,
            index: options
                .index
                .iter()
                .map(|name| name.as_bytes().into())
                .collect(),
            dotfiles: options.dotfiles,
            cache_control: options.cache_control.as_ref().map(|v| v.as_bytes().into()),
            autoindex: options.autoindex,
            fallback: options.fallback.as_deref().map(url_path),
            error_pages: options
                .error_pages
                .iter()
                .map(|(code, rel)| (*code, url_path(rel)))
                .collect(),
            cache_rules: options
                .cache_rules
                .iter()
                .map(|(pattern, value)| (CachePattern::new(pattern), value.as_bytes().into()))
                .collect(),
            cache: Cache::default(),
            compress: None,
            scratch: Vec::with_capacity(256),
        })
    }

    /// The `Cache-Control` value for the file the last [`FileStore::lookup`] found: the first
    /// `--cache-rule` its path matches, else `--cache-control`.
    pub fn cache_control_for_last(&self) -> Option<&[u8]> {
        let rel = &self.scratch;
        self.cache_rules
            .iter()
            .find(|(pattern, _)| pattern.matches(rel))
            .map(|(_, value)| &value[..])
            .or(self.cache_control.as_deref())
    }

    /// What `url_path` (the path of an origin-form request target, as sent) names.
    pub fn lookup(&mut self, url_path: &[u8], now: Instant) -> Lookup {
        let mut rel = std::mem::take(&mut self.scratch);
        let found = self.lookup_into(url_path, &mut rel, now);
        self.scratch = rel;
        found
    }

    /// [`FileStore::lookup`], resolving the path into `rel`.
    fn lookup_into(&mut self, url_path: &[u8], rel: &mut Vec<u8>, now: Instant) -> Lookup {
        let resolved = match path::resolve(url_path, rel) {
            Ok(r) => r,
            Err(_) => return Lookup::BadPath,
        };
        if resolved.hidden && !self.dotfiles {
            return Lookup::NotFound;
        }
        match self.known(rel, now) {
            Err(()) => Lookup::Unavailable,
            Ok(Known::Missing) => Lookup::NotFound,
            Ok(Known::Forbidden) => Lookup::Forbidden,
            Ok(Known::File(f)) if !resolved.trailing_slash => Lookup::File(f),
            // `/file.txt/` names nothing.
            Ok(Known::File(_)) => Lookup::NotFound,
            Ok(Known::Dir) if !resolved.trailing_slash => {
                let mut location = b"/".to_vec();
                path::encode_into(rel, &mut location);
                location.push(b'/');
                Lookup::Redirect(location)
            }
            Ok(Known::Dir) => self.index_of(rel, now),
        }
    }

    /// The first index file of the directory `dir` (in `rel`), if any.
    fn index_of(&mut self, rel: &mut Vec<u8>, now: Instant) -> Lookup {
        let dir_len = rel.len();
        for i in 0..self.index.len() {
            rel.truncate(dir_len);
            if !rel.is_empty() {
                rel.push(b'/');
            }
            rel.extend_from_slice(&self.index[i]);
            match self.known(rel, now) {
                Ok(Known::File(f)) => return Lookup::File(f),
                Ok(Known::Forbidden) => return Lookup::Forbidden,
                Ok(_) => {}
                Err(()) => return Lookup::Unavailable,
            }
        }
        if self.autoindex.is_some() {
            rel.truncate(dir_len);
            return Lookup::Listing;
        }
        Lookup::NotFound
    }

    /// The path, relative to the root, that the last [`FileStore::lookup`] resolved.
    pub fn last_rel(&self) -> &[u8] {
        &self.scratch
    }

    /// The root directory, for opening what is beneath it.
    pub fn root(&self) -> BorrowedFd<'_> {
        self.root.as_fd()
    }

    /// Whether names starting with a dot are served (and listed).
    pub fn dotfiles(&self) -> bool {
        self.dotfiles
    }

    /// What the cache knows of `rel`, checked on disk if it is not fresh. `Err` if the disk
    /// could not be asked (out of descriptors): nothing is cached then.
    fn known(&mut self, rel: &[u8], now: Instant) -> Result<Known, ()> {
        let root = self.root.as_fd();
        let cache = &mut self.cache;
        if let Some(slot) = cache.slots.get(rel) {
            if now.duration_since(slot.checked) < REVALIDATE_AFTER {
                return Ok(slot.known.share());
            }
        }
        let known = match probe(root, rel)? {
            Probe::Dir => Known::Dir,
            Probe::Missing => Known::Missing,
            Probe::Forbidden => Known::Forbidden,
            Probe::File(fd, meta) => {
                let siblings = probe_siblings(root, rel)?;
                match cache.slots.get(rel) {
                    // Unchanged on disk, siblings too: keep the entry (and its descriptors).
                    Some(Slot {
                        known: Known::File(old),
                        ..
                    }) if old.same_as(&meta, &siblings) => Known::File(Rc::clone(old)),
                    _ => Known::File(Rc::new(describe(rel, fd, meta, siblings, cache))),
                }
            }
        };
        let shared = known.share();
        cache.insert(
            rel,
            Slot {
                known,
                checked: now,
            },
            now,
        );
        Ok(shared)
    }
}

/// A path relative to the root as the URL path that names it (`a b.html` → `/a%20b.html`).
fn url_path(rel: &str) -> Box<[u8]> {
    let mut out = b"/".to_vec();
    path::encode_into(rel.as_bytes(), &mut out);
    out.into()
}

/// What a path is on disk, with the descriptor if it is a regular file.
enum Probe {
    File(OwnedFd, Meta),
    Dir,
    Missing,
    Forbidden,
}

/// Opens `rel` beneath the root and says what it is.
fn probe(root: BorrowedFd<'_>, rel: &[u8]) -> Result<Probe, ()> {
    match file::open_beneath(root, rel) {
        Ok(fd) => match file::meta(fd.as_fd()) {
            Ok(meta) if meta.kind == Kind::File => Ok(Probe::File(fd, meta)),
            Ok(meta) if meta.kind == Kind::Dir => Ok(Probe::Dir),
            // A FIFO or a device is never served: reading one could block the worker.
            _ => Ok(Probe::Missing),
        },
        Err(e) => match e.raw_os_error() {
            Some(libc::EMFILE | libc::ENFILE | libc::ENOMEM) => {
                tracing::warn!(error = %e, "could not open a file to serve");
                Err(())
            }
            Some(libc::EACCES) => Ok(Probe::Forbidden),
            _ => Ok(Probe::Missing),
        },
    }
}

/// The precompressed siblings of `rel` that are regular files.
fn probe_siblings(root: BorrowedFd<'_>, rel: &[u8]) -> Result<[Option<(OwnedFd, Meta)>; 3], ()> {
    let mut found: [Option<(OwnedFd, Meta)>; 3] = [None, None, None];
    let mut name = rel.to_vec();
    for (slot, suffix) in found.iter_mut().zip(SIBLING_SUFFIXES) {
        name.truncate(rel.len());
        name.extend_from_slice(suffix);
        if let Probe::File(fd, meta) = probe(root, &name)? {
            *slot = Some((fd, meta));
        }
    }
    Ok(found)
}

impl File {
    /// True if `meta` and `siblings` describe what this entry was built from.
    fn same_as(&self, meta: &Meta, siblings: &[Option<(OwnedFd, Meta)>; 3]) -> bool {
        self.meta == *meta
            && self
                .siblings
                .iter()
                .zip(siblings)
                .all(|(ours, theirs)| ours.as_ref().map(|f| f.meta) == theirs.as_ref().map(|t| t.1))
    }
}

/// The cache entry for the regular file `rel`, open as `fd`, with its siblings.
fn describe(
    rel: &[u8],
    fd: OwnedFd,
    meta: Meta,
    siblings: [Option<(OwnedFd, Meta)>; 3],
    cache: &mut Cache,
) -> File {
    let mut f = describe_one(fd, meta, rel, cache);
    for ((slot, found), suffix) in f.siblings.iter_mut().zip(siblings).zip(SIBLING_SUFFIXES) {
        let Some((sfd, smeta)) = found else {
            continue;
        };
        let mut sibling = describe_one(sfd, smeta, rel, cache);
        // A representation of its own: an entity-tag of its own.
        let mut etag = sibling.etag[..sibling.etag.len() - 1].to_vec();
        etag.push(b'-');
        etag.extend_from_slice(&suffix[1..]);
        etag.push(b'"');
        sibling.etag = etag.into();
        *slot = Some(Rc::new(sibling));
    }
    f
}

impl Known {
    fn share(&self) -> Known {
        match self {
            Known::File(f) => Known::File(Rc::clone(f)),
            Known::Dir => Known::Dir,
            Known::Missing => Known::Missing,
            Known::Forbidden => Known::Forbidden,
        }
    }
}

impl Cache {
    /// Stores `slot` for `rel`, making room first if the cache is full: stale entries go,
    /// else an arbitrary one.
    fn insert(&mut self, rel: &[u8], slot: Slot, now: Instant) {
        if let Some(current) = self.slots.get_mut(rel) {
            // Revalidated unchanged, the same entry comes back: nothing leaves the cache.
            let same = matches!(
                (&current.known, &slot.known),
                (Known::File(a), Known::File(b)) if Rc::ptr_eq(a, b)
            );
            let old = std::mem::replace(current, slot);
            if !same {
                self.forget(&old);
            }
            return;
        }
        if self.slots.len() >= CACHE_ENTRIES {
            let stale: Vec<Box<[u8]>> = self
                .slots
                .iter()
                .filter(|(_, s)| now.duration_since(s.checked) >= REVALIDATE_AFTER)
                .map(|(k, _)| k.clone())
                .take(CACHE_ENTRIES / 4)
                .collect();
            let victims = if stale.is_empty() {
                self.slots.keys().take(1).cloned().collect()
            } else {
                stale
            };
            for key in victims {
                if let Some(old) = self.slots.remove(&key) {
                    self.forget(&old);
                }
            }
        }
        self.slots.insert(rel.into(), slot);
    }

    /// Accounts for an entry leaving the cache.
    fn forget(&mut self, slot: &Slot) {
        if let Known::File(f) = &slot.known {
            let small = |f: &File| f.bytes.as_ref().map_or(0, |b| b.len());
            self.small_bytes -=
                small(f) + f.siblings.iter().flatten().map(|s| small(s)).sum::<usize>();
        }
    }
}

/// An entry for one open regular file; `name` gives its type.
fn describe_one(fd: OwnedFd, meta: Meta, name: &[u8], cache: &mut Cache) -> File {
    let nanos = i128::from(meta.mtime.0) * 1_000_000_000 + i128::from(meta.mtime.1);
    let etag = format!("\"{:x}-{:x}\"", nanos.max(0), meta.size);
    let modified = u64::try_from(meta.mtime.0).unwrap_or(0);
    let (content_type, unknown_type) = content_type_of(name);
    let small = meta.size <= SMALL_FILE && cache.small_bytes + meta.size as usize <= SMALL_TOTAL;
    let bytes = small
        .then(|| file::read_whole(fd.as_fd(), meta.size as usize).ok())
        .flatten()
        .map(Vec::into_boxed_slice);
    cache.small_bytes += bytes.as_ref().map_or(0, |b| b.len());
    File {
        fd: Rc::new(fd),
        size: meta.size,
        etag: etag.into_bytes().into(),
        modified,
        last_modified: date::format(modified),
        content_type,
        unknown_type,
        bytes,
        siblings: [None, None, None],
        meta,
    }
}

/// The `Content-Type` for a file name, from mime_guess's table; text types say UTF-8.
fn content_type_of(name: &[u8]) -> (&'static [u8], bool) {
    let ext = name
        .rsplit(|&b| b == b'/')
        .next()
        .and_then(|base| {
            base.iter()
                .rposition(|&b| b == b'.')
                .map(|dot| &base[dot + 1..])
        })
        .and_then(|ext| std::str::from_utf8(ext).ok());
    let Some(mime) = ext.and_then(|ext| mime_guess::from_ext(ext).first_raw()) else {
        return (b"application/octet-stream", true);
    };
    if mime.starts_with("text/") {
        return (with_charset(mime), false);
    }
    (mime.as_bytes(), false)
}

/// `text/x; charset=utf-8` for a text type, leaked once per distinct type (a bounded set).
fn with_charset(mime: &'static str) -> &'static [u8] {
    thread_local! {
        static TYPES: std::cell::RefCell<HashMap<&'static str, &'static [u8]>> = std::cell::RefCell::new(HashMap::new());
    }
    TYPES.with(|types| {
        *types.borrow_mut().entry(mime).or_insert_with(|| {
            Box::leak(
                format!("{mime}; charset=utf-8")
                    .into_bytes()
                    .into_boxed_slice(),
            )
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(
            content_type_of(b"a/index.html").0,
            b"text/html; charset=utf-8"
        );
        assert_eq!(content_type_of(b"style.css").0, b"text/css; charset=utf-8");
        assert_eq!(content_type_of(b"img.png"), (&b"image/png"[..], false));
        assert_eq!(
            content_type_of(b"blob"),
            (&b"application/octet-stream"[..], true)
        );
        assert_eq!(
            content_type_of(b"x.unknownext"),
            (&b"application/octet-stream"[..], true)
        );
        assert_eq!(
            content_type_of(b"dir.d/noext"),
            (&b"application/octet-stream"[..], true)
        );
    }
}
