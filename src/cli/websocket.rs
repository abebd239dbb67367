//! `--ws-max-message`, `--ws-max-frames`, `--ws-ping-interval`: the limits of
//! `/websocket/echo`.

use std::time::Duration;

use crate::config::WebSocketOptions;
use crate::error::Error;

#[derive(Debug, Clone, clap::Args)]
pub struct WebSocketArgs {
    /// /websocket/echo: the largest message, after inflation (k, m, g); larger closes with
    /// 1009. A client may ask for less with ?max_message_size=. Held in the memory budget.
    #[arg(long, env = "PREFORK_WS_MAX_MESSAGE", default_value = "16m", value_parser = crate::config::parse_size)]
    pub ws_max_message: u64,

    /// /websocket/echo: the most frames one message may come in; more closes with 1008 (an
    /// endless message of empty fragments is refused, not followed).
    #[arg(long, env = "PREFORK_WS_MAX_FRAMES", default_value_t = 100_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub ws_max_frames: u64,

    /// /websocket/echo: ping a connection that has sent nothing for this long, and close it
    /// if the ping is not answered within as long again; 0 turns pings off.
    #[arg(long, env = "PREFORK_WS_PING_INTERVAL", default_value = "30s", value_parser = super::parse_duration_or_zero)]
    pub ws_ping_interval: Duration,
}

impl WebSocketArgs {
    /// # Errors
    /// A largest message of 0, or one past what a worker can address.
    pub fn options(&self, max_duration: Duration) -> Result<WebSocketOptions, Error> {
        let max_message = usize::try_from(self.ws_max_message)
            .ok()
            .filter(|&n| n > 0 && n <= 1 << 40)
            .ok_or_else(|| Error::Usage("--ws-max-message must be from 1 byte to 1t".into()))?;
        Ok(WebSocketOptions {
            max_message,
            max_frames: usize::try_from(self.ws_max_frames).unwrap_or(usize::MAX),
            ping_interval: (!self.ws_ping_interval.is_zero()).then_some(self.ws_ping_interval),
            max_delay: max_duration,
        })
    }
}
