//! `--echo-delay`, `--echo-close-after`, `--echo-close-after-bytes`: an echo server that
//! misbehaves on purpose, so a TCP client's timeouts and its handling of a server that closes
//! can be tested (fortio/fortio#407 asks for the same).

use std::time::Duration;

use crate::config::EchoOptions;
use crate::error::Error;

#[derive(Debug, Clone, clap::Args)]
pub struct EchoArgs {
    /// --protocol echo: echo each chunk this long after it arrived (e.g. 250ms); what waits is
    /// bounded by the connection's read buffer, which is not read from while it is full.
    #[arg(long, env = "PREFORK_ECHO_DELAY", value_parser = super::parse_duration_or_zero)]
    pub echo_delay: Option<Duration>,

    /// --protocol echo: close each connection this long after accept (FIN once what was echoed
    /// is sent; bytes not echoed yet are dropped).
    #[arg(long, env = "PREFORK_ECHO_CLOSE_AFTER", value_parser = super::parse_duration)]
    pub echo_close_after: Option<Duration>,

    /// --protocol echo: close each connection once it has echoed this many bytes (k, m, g);
    /// 0 closes it when its first bytes arrive, echoing none.
    #[arg(long, env = "PREFORK_ECHO_CLOSE_AFTER_BYTES", value_parser = crate::config::parse_size)]
    pub echo_close_after_bytes: Option<u64>,
}

impl EchoArgs {
    /// The options, if the protocol is echo.
    ///
    /// # Errors
    /// Any of them given for HTTP, where they would silently do nothing.
    pub fn options(&self, echo: bool) -> Result<EchoOptions, Error> {
        let options = EchoOptions {
            delay: self.echo_delay.filter(|d| !d.is_zero()),
            close_after: self.echo_close_after,
            close_after_bytes: self.echo_close_after_bytes,
        };
        if !echo && options != EchoOptions::default() {
            return Err(Error::Usage(
                "--echo-delay and --echo-close-after* need --protocol echo".into(),
            ));
        }
        Ok(options)
    }
}
