//! What the master tells the outside once the workers serve: the "listening on" line, the pid
//! file, and systemd's notify socket (READY, STATUS, the watchdog pings).

use std::time::Instant;

use tracing::{error, info};

use super::Master;
use crate::pidfile::PidFile;

impl Master {
    pub(super) fn announce_when_ready(&mut self) {
        let all_ready = self.slots.iter().all(|s| {
            s.current
                .as_ref()
                .is_some_and(|w| w.ready && w.generation == self.generation)
        });
        if !all_ready {
            return;
        }
        let status = self.status();
        if !self.announced {
            self.announced = true;
            let tls = self.config.tls.as_ref();
            if let Some(https) = self.tls_addr {
                info!(
                    workers = self.slots.len(),
                    protocol = self.config.protocol.name(),
                    generation = self.generation,
                    %https,
                    "listening on {}",
                    self.addr
                );
            } else if tls.is_some() {
                info!(
                    workers = self.slots.len(),
                    protocol = self.config.protocol.name(),
                    generation = self.generation,
                    tls = true,
                    "listening on {}",
                    self.addr
                );
            } else {
                info!(
                    workers = self.slots.len(),
                    protocol = self.config.protocol.name(),
                    generation = self.generation,
                    "listening on {}",
                    self.addr
                );
            }
            self.notify(&format!("READY=1\n{status}"));
            self.write_pid_file();
            if let Some(fd) = self.upgrade_ready.take() {
                // We are the new master of a binary upgrade: the old one may drain now.
                self.await_handover(fd);
            }
        } else if self.reloading {
            self.reloading = false;
            info!(
                generation = self.generation,
                workers = self.slots.len(),
                "reload complete"
            );
            self.notify(&format!("READY=1\n{status}"));
        }
    }

    fn write_pid_file(&mut self) {
        let Some(path) = self.config.lifecycle.pid_file.clone() else {
            return;
        };
        match PidFile::write(&path) {
            Ok(f) => self.pid_file = Some(f),
            Err(e) => error!(path = %path.display(), error = %e, "could not write the pid file"),
        }
    }

    /// `STATUS=` as systemd shows it.
    pub(super) fn status(&self) -> String {
        format!(
            "STATUS={} workers, generation {}, on {}",
            self.slots.len(),
            self.generation,
            self.addr
        )
    }

    pub(super) fn notify(&self, state: &str) {
        if self.notify_held {
            return;
        }
        if let Some(n) = &self.notifier {
            n.send(state);
        }
    }

    pub(super) fn send_watchdog(&mut self, now: Instant) {
        let Some(every) = self.notifier.as_ref().and_then(|n| n.watchdog_every) else {
            return;
        };
        if self.notify_held {
            return;
        }
        if self.next_watchdog.is_none_or(|at| at <= now) {
            self.notify("WATCHDOG=1");
            self.next_watchdog = Some(now + every);
        }
    }
}
