//! A document root for the file-serving tests, in a temporary folder removed on drop.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

pub(crate) struct Tree(PathBuf);

impl Tree {
    /// An empty tree.
    pub(crate) fn new() -> Tree {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "prefork-www-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Tree(path)
    }

    /// The usual tree: an index, text and binary files, a folder with and one without an
    /// index, a dotfile folder, a gzip and a brotli sibling, a symlink in and one out, a FIFO.
    pub(crate) fn standard() -> Tree {
        let t = Tree::new();
        t.file("index.html", b"<h1>home</h1>\n");
        t.file("a.txt", b"0123456789abcdefghijklmnopqrstuvwxyz");
        t.file("a.txt.gz", b"GZIP-BYTES-OF-A");
        t.file("a.txt.br", b"BROTLI-BYTES-OF-A");
        t.file("noext", b"binary?");
        t.file("docs/index.html", b"docs\n");
        t.file("empty/.keep", b"");
        t.file("zero.txt", b"");
        t.file(".git/config", b"secret");
        t.file("healthz", b"a file named like a built-in route");
        std::os::unix::fs::symlink("a.txt", t.0.join("inside")).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", t.0.join("outside")).unwrap();
        nix::unistd::mkfifo(&t.0.join("fifo"), nix::sys::stat::Mode::S_IRWXU).unwrap();
        t
    }

    pub(crate) fn file(&self, rel: &str, bytes: &[u8]) {
        let path = self.0.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }

    pub(crate) fn arg(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
