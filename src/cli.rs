//! The command line: every option also comes from `PREFORK_<NAME>` in the environment.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use clap::{Parser, ValueEnum};

use crate::config::{Config, LogFormat, ProtocolKind};
use crate::error::Error;
use crate::sys::cpus;

/// A master/worker prefork HTTP/1.1 and echo server.
///
/// The master binds one SO_REUSEPORT socket per worker, forks the workers and respawns any that
/// dies. Signals: SIGTERM/SIGINT stop. Log level from RUST_LOG (default info).
#[derive(Debug, Parser)]
#[command(name = "prefork-server", version, about, long_about = None)]
pub struct Cli {
    /// Worker processes: a number, or "auto" for the CPUs this process may use (affinity and cgroup quota).
    #[arg(long, env = "PREFORK_WORKERS", default_value = "auto", value_parser = parse_workers)]
    pub workers: Workers,

    /// TCP port to listen on; 0 picks a free port (the real one is logged).
    #[arg(long, env = "PREFORK_PORT", default_value_t = 8080)]
    pub port: u16,

    /// Address to bind, IPv4 or IPv6 (e.g. 0.0.0.0, 127.0.0.1, ::, ::1).
    #[arg(long, env = "PREFORK_BIND", default_value = "0.0.0.0")]
    pub bind: IpAddr,

    /// Protocol spoken on every connection.
    #[arg(long, env = "PREFORK_PROTOCOL", value_enum, default_value_t = ProtocolArg::Http)]
    pub protocol: ProtocolArg,

    /// listen(2) backlog per socket (the kernel caps it at net.core.somaxconn).
    #[arg(long, env = "PREFORK_BACKLOG", default_value_t = 4096, value_parser = clap::value_parser!(i32).range(1..))]
    pub backlog: i32,

    /// Upper bound for the open-file limit (RLIMIT_NOFILE); default: as many as the system allows.
    #[arg(long, env = "PREFORK_MAX_FDS", value_parser = clap::value_parser!(u64).range(64..))]
    pub max_fds: Option<u64>,

    /// Log line format on stderr.
    #[arg(long, env = "PREFORK_LOG_FORMAT", value_enum, default_value_t = LogFormatArg::Text)]
    pub log_format: LogFormatArg,

    /// Seconds the master waits for workers to exit on stop before it SIGKILLs them.
    #[arg(long, env = "PREFORK_SHUTDOWN_TIMEOUT", default_value_t = 30)]
    pub shutdown_timeout: u64,
}

/// `--workers`: a fixed count or the CPUs available.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workers {
    Auto,
    Count(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProtocolArg {
    Http,
    Echo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormatArg {
    Text,
    Json,
}

/// Most workers accepted: far beyond any useful count, low enough to catch a typo.
const MAX_WORKERS: usize = 1024;

fn parse_workers(s: &str) -> Result<Workers, String> {
    if s.eq_ignore_ascii_case("auto") {
        return Ok(Workers::Auto);
    }
    match s.parse::<usize>() {
        Ok(n) if (1..=MAX_WORKERS).contains(&n) => Ok(Workers::Count(n)),
        _ => Err(format!(
            "expected \"auto\" or a number from 1 to {MAX_WORKERS}"
        )),
    }
}

impl Cli {
    /// Resolves `auto` and the enums into the plain [`Config`] the processes share.
    ///
    /// # Errors
    /// None today beyond what clap already rejected; kept fallible for checks that need the OS.
    pub fn into_config(self) -> Result<Config, Error> {
        let workers = match self.workers {
            Workers::Count(n) => n,
            Workers::Auto => cpus::available(),
        };
        Ok(Config {
            workers,
            addr: SocketAddr::new(self.bind, self.port),
            protocol: match self.protocol {
                ProtocolArg::Http => ProtocolKind::Http,
                ProtocolArg::Echo => ProtocolKind::Echo,
            },
            backlog: self.backlog,
            max_fds: self.max_fds,
            log_format: match self.log_format {
                LogFormatArg::Text => LogFormat::Text,
                LogFormatArg::Json => LogFormat::Json,
            },
            shutdown_timeout: Duration::from_secs(self.shutdown_timeout),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_accepts_auto_and_counts() {
        assert_eq!(parse_workers("auto"), Ok(Workers::Auto));
        assert_eq!(parse_workers("AUTO"), Ok(Workers::Auto));
        assert_eq!(parse_workers("8"), Ok(Workers::Count(8)));
        assert!(parse_workers("0").is_err());
        assert!(parse_workers("-1").is_err());
        assert!(parse_workers("many").is_err());
        assert!(parse_workers("100000").is_err());
    }

    #[test]
    fn ipv6_bind_parses() {
        let cli = Cli::try_parse_from(["prefork-server", "--bind", "::1", "--port", "0"]).unwrap();
        let cfg = cli.into_config().unwrap();
        assert_eq!(cfg.addr, "[::1]:0".parse().unwrap());
    }
}
