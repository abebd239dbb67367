//! Load that counts every failure, and the pieces an upgrade test needs.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::{get, process_exists, read_response, wait_until};

/// Clients that keep requesting, on new connections and on one keep-alive connection, until
/// stopped; every failure is counted.
pub(crate) struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl Load {
    /// One client on new connections and one on a keep-alive connection.
    pub(crate) fn start(addr: SocketAddr) -> Load {
        Load::with_clients(addr, 1)
    }

    /// `closing` clients on a new connection per request, and one on a keep-alive connection.
    pub(crate) fn with_clients(addr: SocketAddr, closing: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicUsize::new(0));
        let failed = Arc::new(AtomicUsize::new(0));
        let mut threads = Vec::new();
        let kinds = std::iter::repeat_n(false, closing).chain([true]);
        for keep_alive in kinds {
            let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
            threads.push(thread::spawn(move || {
                let mut conn: Option<(TcpStream, Vec<u8>)> = None;
                while !stop.load(Ordering::Relaxed) {
                    let result = if keep_alive {
                        keep_alive_request(addr, &mut conn)
                    } else {
                        std::panic::catch_unwind(|| get(addr, "/whoami").status).map_err(|_| ())
                    };
                    match result {
                        Ok(200) => ok.fetch_add(1, Ordering::Relaxed),
                        _ => failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
            }));
        }
        Load {
            stop,
            ok,
            failed,
            threads,
        }
    }

    /// Waits (bounded) until the clients have had `n` more answers than they have now: the load
    /// is running against the server as it is now. Panics with the counts if it takes `timeout`.
    pub(crate) fn wait_answered(&self, n: usize, timeout: Duration) {
        let from = self.ok.load(Ordering::Relaxed);
        let start = Instant::now();
        let reached = wait_until(timeout, || {
            (self.ok.load(Ordering::Relaxed) >= from + n).then_some(())
        });
        assert!(
            reached.is_some(),
            "the load had {} of {n} more answers in {:?} ({} failed so far)",
            self.ok.load(Ordering::Relaxed) - from,
            start.elapsed(),
            self.failed.load(Ordering::Relaxed)
        );
    }

    /// Stops the clients; returns (answered, failed).
    pub(crate) fn finish(self) -> (usize, usize) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            t.join().unwrap();
        }
        (
            self.ok.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }
}

/// One request on a reused connection; reconnects after the server said `Connection: close`.
fn keep_alive_request(
    addr: SocketAddr,
    conn: &mut Option<(TcpStream, Vec<u8>)>,
) -> Result<u16, ()> {
    if conn.is_none() {
        let s = TcpStream::connect(addr).map_err(|_| ())?;
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        *conn = Some((s, Vec::new()));
    }
    let (s, pending) = conn.as_mut().unwrap();
    s.write_all(b"GET /whoami HTTP/1.1\r\nHost: x\r\n\r\n")
        .map_err(|_| ())?;
    let resp = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        read_response(s, pending, false)
    }))
    .map_err(|_| ())?;
    if resp.header("connection") == Some("close") {
        *conn = None;
    }
    Ok(resp.status)
}

/// Kills a process we started indirectly (the new master of an upgrade) when the test ends.
pub(crate) struct KillOnDrop(pub u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = kill(Pid::from_raw(self.0 as i32), Signal::SIGTERM);
        let gone = wait_until(Duration::from_secs(5), || {
            (!process_exists(self.0)).then_some(())
        });
        if gone.is_none() {
            let _ = kill(Pid::from_raw(self.0 as i32), Signal::SIGKILL);
        }
    }
}

/// A private copy of the binary, so a test can replace "the file on disk".
pub(crate) fn binary_copy(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("prefork-upgrade-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("prefork-server");
    std::fs::copy(super::BIN, &path).unwrap();
    path
}

/// Replaces the file on disk (not the running process) with a script.
pub(crate) fn replace_with_script(exe: &std::path::Path, script: &str) {
    let tmp = exe.with_file_name("replacement");
    std::fs::write(&tmp, script).unwrap();
    let mut perms = std::fs::metadata(&tmp).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&tmp, perms).unwrap();
    std::fs::rename(&tmp, exe).unwrap();
}
