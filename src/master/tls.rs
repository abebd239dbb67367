//! The master's side of TLS: the configuration is built here, before any fork, from the
//! certificate files (a bad file stops the start, or is refused at a reload while the running
//! workers keep serving); and the session-ticket keys are made and rotated here, in a mapping
//! every worker shares, so a session resumes on whichever worker takes the next connection.

use std::sync::Arc;
use std::time::Instant;

use rustls::ServerConfig;
use tracing::{error, info, warn};

use super::Master;
use crate::config::{Config, ProtocolKind};
use crate::error::Error;
use crate::sys::shm::Shared;
use crate::transport::tls::{self, ticket, TicketKeys};

/// What the master keeps for TLS.
pub(super) struct MasterTls {
    /// What new workers serve with; replaced by a reload that read good files.
    pub config: Arc<ServerConfig>,
    keys: &'static TicketKeys,
    /// When the ticket key is next replaced.
    pub rotate_at: Instant,
}

/// The protocols offered by ALPN: HTTP/2 then HTTP/1.1 on an HTTP server (the client's
/// preference among them wins, as rustls does), none for echo.
fn alpn(config: &Config) -> &'static [&'static [u8]] {
    match config.protocol {
        ProtocolKind::Http if config.http2 => &[b"h2", b"http/1.1"],
        ProtocolKind::Http => &[b"http/1.1"],
        ProtocolKind::Echo => &[],
    }
}

/// The master's TLS state, if `config` turns TLS on: the ticket keys (a first key made now)
/// and the configuration read from the files.
///
/// # Errors
/// A certificate or key that cannot serve ([`Error::Tls`], naming the file), or a mapping or
/// random source that fails.
pub(super) fn start(config: &Config) -> Result<Option<MasterTls>, Error> {
    let Some(options) = &config.tls else {
        return Ok(None);
    };
    let shared = Shared::<TicketKeys>::new(1).map_err(|source| Error::Setup {
        what: "the session-ticket key mapping",
        source,
    })?;
    // Kept for the master's life (and inherited by every worker): it is never unmapped.
    let keys: &'static TicketKeys = &Box::leak(Box::new(shared)).slots()[0];
    keys.rotate().map_err(|_| Error::Setup {
        what: "a session-ticket key (the random source failed)",
        source: std::io::Error::other("ring::rand failed"),
    })?;
    let built = tls::build(options, Some(keys), alpn(config)).map_err(|e| Error::Tls(e.0))?;
    Ok(Some(MasterTls {
        config: built,
        keys,
        rotate_at: Instant::now() + ticket::ROTATE_EVERY,
    }))
}

/// `--check`: the certificates and keys load, pair up, name a host and are valid now.
///
/// # Errors
/// The first problem, naming the file ([`Error::Tls`]).
pub fn check(config: &Config) -> Result<(), Error> {
    let Some(options) = &config.tls else {
        return Ok(());
    };
    tls::build(options, None, alpn(config))
        .map(drop)
        .map_err(|e| Error::Tls(e.0))
}

impl Master {
    /// SIGHUP: re-reads the certificate files. `false` (logged) if they cannot serve: the
    /// reload does not happen, and the workers running keep serving with what they have.
    pub(super) fn reload_tls(&mut self) -> bool {
        let Some(state) = &mut self.tls else {
            return true;
        };
        let Some(options) = &self.config.tls else {
            return true;
        };
        match tls::build(options, Some(state.keys), alpn(&self.config)) {
            Ok(config) => {
                state.config = config;
                info!("reload: certificates read again");
                true
            }
            Err(e) => {
                error!(
                    error = %e,
                    "reload refused: a certificate or key cannot serve; the running workers keep \
                     serving with the ones they have"
                );
                false
            }
        }
    }

    /// Replaces the session-ticket key when its time has come (tickets sealed with the one
    /// before still open until the next rotation).
    pub(super) fn rotate_ticket_key(&mut self, now: Instant) {
        let Some(state) = &mut self.tls else {
            return;
        };
        if now < state.rotate_at {
            return;
        }
        state.rotate_at = now + ticket::ROTATE_EVERY;
        if state.keys.rotate().is_err() {
            warn!("could not make a new session-ticket key; keeping the current one");
        }
    }
}
