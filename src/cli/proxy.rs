//! `--proxy-protocol` and `--trusted-proxies`: the real client behind a load balancer.
//!
//! The PROXY protocol lets whoever sends the header name any client, so it is taken only
//! together with the list of proxies allowed to send it; one without the other is a usage
//! error rather than a listener open to spoofing. The list alone is useful too: it makes
//! httpbin believe `X-Forwarded-*` only from those peers.

use clap::ValueEnum;

use crate::cidr::TrustedProxies;
use crate::config::ProxyAccept as Accept;
use crate::config::ProxyOptions;
use crate::error::Error;

#[derive(Debug, Clone, clap::Args)]
pub struct ProxyArgs {
    /// Every connection starts with a PROXY protocol header naming the real client (HAProxy
    /// send-proxy / send-proxy-v2, AWS NLB, nginx proxy_protocol): v1 (text), v2 (binary) or
    /// any. Needs --trusted-proxies; a connection without a valid header is closed.
    #[arg(long, env = "PREFORK_PROXY_PROTOCOL", value_enum)]
    pub proxy_protocol: Option<ProxyProtocolArg>,

    /// The proxies in front, as CIDR blocks (e.g. 10.0.0.0/8,127.0.0.1/32,::1/128): the only
    /// peers a PROXY header is taken from (others are closed at once), and the only ones whose
    /// X-Forwarded-For the httpbin routes believe.
    #[arg(long, env = "PREFORK_TRUSTED_PROXIES", value_parser = TrustedProxies::parse)]
    pub trusted_proxies: Option<TrustedProxies>,
}

/// `--proxy-protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProxyProtocolArg {
    V1,
    V2,
    Any,
}

impl ProxyArgs {
    /// The PROXY protocol's options, if it is on.
    ///
    /// # Errors
    /// `--proxy-protocol` without `--trusted-proxies` (a usage error).
    pub fn options(&self) -> Result<Option<ProxyOptions>, Error> {
        let Some(version) = self.proxy_protocol else {
            return Ok(None);
        };
        let Some(trusted) = self.trusted_proxies.clone() else {
            return Err(Error::Usage(
                "--proxy-protocol needs --trusted-proxies: a PROXY header names the client, so \
                 only the proxies in front may send one (e.g. --trusted-proxies 10.0.0.0/8)"
                    .into(),
            ));
        };
        let accept = match version {
            ProxyProtocolArg::V1 => Accept::V1,
            ProxyProtocolArg::V2 => Accept::V2,
            ProxyProtocolArg::Any => Accept::Any,
        };
        Ok(Some(ProxyOptions { accept, trusted }))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    #[test]
    fn the_proxy_protocol_needs_trusted_proxies() {
        let parse = |args: &[&str]| {
            crate::cli::Cli::try_parse_from([&["prefork-server"], args].concat())
                .map_err(|e| e.exit_code())
                .and_then(|cli| cli.into_config().map_err(|e| e.exit_code()))
        };
        let alone = parse(&["--proxy-protocol", "v1"]).unwrap_err();
        assert_eq!(alone, crate::error::exit::USAGE);
        let cfg = parse(&[
            "--proxy-protocol",
            "any",
            "--trusted-proxies",
            "10.0.0.0/8,::1",
        ])
        .unwrap();
        let proxy = cfg.proxy.unwrap();
        assert_eq!(proxy.accept, crate::config::ProxyAccept::Any);
        assert!(proxy.trusted.contains("::1".parse().unwrap()));
        // The list alone only decides whose X-Forwarded-For is believed.
        let cfg = parse(&["--trusted-proxies", "127.0.0.1"]).unwrap();
        assert!(cfg.proxy.is_none());
        let bin = cfg.httpbin.unwrap();
        assert!(bin.believes_forwarding_from(Some("127.0.0.1:1".parse().unwrap())));
        assert!(!bin.believes_forwarding_from(Some("127.0.0.2:1".parse().unwrap())));
        assert!(!bin.believes_forwarding_from(None));
        assert_eq!(parse(&["--trusted-proxies", "10.0.0.1/8"]).unwrap_err(), 2);
        assert_eq!(parse(&["--proxy-protocol", "v3"]).unwrap_err(), 2);
        let cfg = parse(&[]).unwrap();
        assert!(cfg.proxy.is_none());
        assert!(cfg.httpbin.unwrap().believes_forwarding_from(None));
    }
}
