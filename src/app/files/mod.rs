//! `--root DIR`: files served from a directory.
//!
//! - [`path`]: from a request's path to a path beneath the root (decoded once, dot-segments
//!   resolved, anything that climbs out refused);
//! - `store`: the per-worker cache of what is on disk, which opens files and hands out their
//!   descriptors (the only part of the application that makes syscalls, through `sys::file`);
//! - `serve`: the answer to a GET or HEAD of a file: representation, preconditions, ranges;
//! - `listing`: `--autoindex`, a directory without an index file listed as HTML or JSON.

mod cache_rule;
mod listing;
pub mod path;
mod serve;
mod store;

pub(super) use self::serve::{respond, respond_root};
pub use self::store::{File, FileStore, Lookup, CACHE_ENTRIES, CACHE_FDS, SMALL_FILE, SMALL_TOTAL};
