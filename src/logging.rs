//! Log setup: tracing to stderr or to `--log-file`, level from `RUST_LOG` (default info), text or
//! JSON lines. SIGUSR1 reopens the file (for logrotate), in the master and in every worker.
//!
//! The writers are synchronous and spawn no thread, so the master stays single-threaded and
//! `fork` stays sound (see `process::spawn`).

use std::fs::{File, OpenOptions};
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// The open log file and its path, when `--log-file` is given.
static LOG_FILE: Mutex<Option<(PathBuf, File)>> = Mutex::new(None);

fn open(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// Writes one formatted event to the log file (or to stderr if it is gone).
struct FileWriter;

impl Write for FileWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match LOG_FILE.lock().ok().as_deref_mut() {
            Some(Some((_, file))) => file.write(buf),
            _ => io::stderr().write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Installs the global subscriber. Call once, in the master, before the first fork.
///
/// # Errors
/// If the log file cannot be opened.
pub fn init(format: LogFormat, log_file: Option<&Path>) -> io::Result<()> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let result = match log_file {
        Some(path) => {
            let file = open(path)?;
            *LOG_FILE.lock().unwrap_or_else(|e| e.into_inner()) = Some((path.to_path_buf(), file));
            let builder = builder.with_ansi(false).with_writer(|| FileWriter);
            match format {
                LogFormat::Text => builder.try_init(),
                LogFormat::Json => builder.json().flatten_event(true).try_init(),
            }
        }
        None => {
            let builder = builder
                .with_ansi(io::stderr().is_terminal())
                .with_writer(io::stderr);
            match format {
                LogFormat::Text => builder.try_init(),
                LogFormat::Json => builder.json().flatten_event(true).try_init(),
            }
        }
    };
    if let Err(e) = result {
        eprintln!("prefork-server: could not set up logging: {e}");
    }
    Ok(())
}

/// Reopens the log file at its path (after logrotate moved it away). Does nothing without one.
pub fn reopen() {
    let mut guard = LOG_FILE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((path, file)) = guard.as_mut() {
        match open(path) {
            Ok(new) => *file = new,
            Err(e) => {
                drop(guard);
                tracing::warn!(error = %e, "could not reopen the log file; keeping the old one");
            }
        }
    }
}
