//! `--tls-cert`, `--tls-key`, `--tls-port`, `--tls-client-ca`, `--tls-client-auth`: HTTPS.
//!
//! With a certificate and no `--tls-port`, the main port itself speaks TLS; with `--tls-port`,
//! HTTPS is served there beside plain HTTP on `--port`. The files are read (and checked) by
//! the master at start, by `--check`, and again at every reload.

use std::path::PathBuf;

use clap::ValueEnum;

use crate::config::{ClientAuth, TlsOptions};
use crate::error::Error;

#[derive(Debug, Clone, clap::Args)]
pub struct TlsArgs {
    /// Serve HTTPS with this PEM certificate chain (leaf first). Repeat it with --tls-key for
    /// more names: the client's SNI picks the pair, the first is the default. Without
    /// --tls-port, the main --port speaks TLS.
    #[arg(long, env = "PREFORK_TLS_CERT", value_delimiter = ',')]
    pub tls_cert: Vec<PathBuf>,

    /// The private key of the --tls-cert in the same position (PEM: PKCS#8, RSA or SEC1).
    #[arg(long, env = "PREFORK_TLS_KEY", value_delimiter = ',')]
    pub tls_key: Vec<PathBuf>,

    /// Serve HTTPS on this port (same --bind address, a socket per worker), and plain HTTP on
    /// --port beside it; 0 picks a free port. Needs --tls-cert.
    #[arg(long, env = "PREFORK_TLS_PORT")]
    pub tls_port: Option<u16>,

    /// Ask clients for a certificate and check it against these PEM CA certificates (mutual
    /// TLS); /inspect shows the certificate's subject and fingerprint.
    #[arg(long, env = "PREFORK_TLS_CLIENT_CA")]
    pub tls_client_ca: Option<PathBuf>,

    /// With --tls-client-ca: "required" (the default: no valid certificate, no connection) or
    /// "optional" (a client without one is served; a bad one is refused).
    #[arg(long, env = "PREFORK_TLS_CLIENT_AUTH", value_enum)]
    pub tls_client_auth: Option<ClientAuthArg>,
}

/// `--tls-client-auth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClientAuthArg {
    Required,
    Optional,
}

impl TlsArgs {
    /// The TLS options, if a certificate was given.
    ///
    /// # Errors
    /// Options that need a certificate without one, certificates and keys that do not pair
    /// up, client authentication without a CA, or `--tls-port` equal to `--port`.
    pub fn options(&self, main_port: u16) -> Result<Option<TlsOptions>, Error> {
        let usage = |m: &str| Err(Error::Usage(m.into()));
        if self.tls_cert.is_empty() {
            if !self.tls_key.is_empty() || self.tls_port.is_some() || self.tls_client_ca.is_some() {
                return usage(
                    "--tls-key, --tls-port and --tls-client-ca need --tls-cert: give the \
                     certificate chain to serve HTTPS with",
                );
            }
            if self.tls_client_auth.is_some() {
                return usage("--tls-client-auth needs --tls-cert and --tls-client-ca");
            }
            return Ok(None);
        }
        if self.tls_cert.len() != self.tls_key.len() {
            return Err(Error::Usage(format!(
                "{} --tls-cert but {} --tls-key: give each certificate its key, in the same \
                 order",
                self.tls_cert.len(),
                self.tls_key.len()
            )));
        }
        if self.tls_port.is_some_and(|p| p != 0 && p == main_port) {
            return usage(
                "--tls-port is --port: leave --tls-port out to serve TLS on the main port",
            );
        }
        let client_auth = match (&self.tls_client_ca, self.tls_client_auth) {
            (None, Some(_)) => {
                return usage("--tls-client-auth needs --tls-client-ca (the CAs to check with)")
            }
            (None, None) => ClientAuth::Off,
            (Some(_), Some(ClientAuthArg::Optional)) => ClientAuth::Optional,
            (Some(_), _) => ClientAuth::Required,
        };
        Ok(Some(TlsOptions {
            pairs: self
                .tls_cert
                .iter()
                .cloned()
                .zip(self.tls_key.iter().cloned())
                .collect(),
            port: self.tls_port,
            client_ca: self.tls_client_ca.clone(),
            client_auth,
        }))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn parse(args: &[&str]) -> Result<Option<TlsOptions>, i32> {
        crate::cli::Cli::try_parse_from([&["prefork-server"], args].concat())
            .map_err(|e| e.exit_code())
            .and_then(|cli| cli.into_config().map_err(|e| e.exit_code()))
            .map(|c| c.tls)
    }

    #[test]
    fn pairs_ports_and_client_auth() {
        assert_eq!(parse(&[]), Ok(None));
        let tls = parse(&["--tls-cert", "a.pem", "--tls-key", "a.key"])
            .unwrap()
            .unwrap();
        assert!(tls.on_main_port());
        assert_eq!(tls.pairs, vec![("a.pem".into(), "a.key".into())]);
        assert_eq!(tls.client_auth, ClientAuth::Off);
        let tls = parse(&[
            "--tls-cert",
            "a.pem",
            "--tls-key",
            "a.key",
            "--tls-cert",
            "b.pem",
            "--tls-key",
            "b.key",
            "--tls-port",
            "8443",
            "--tls-client-ca",
            "ca.pem",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(tls.pairs.len(), 2);
        assert_eq!(tls.port, Some(8443));
        assert_eq!(
            tls.client_auth,
            ClientAuth::Required,
            "a CA alone means required"
        );
        let optional = ["--tls-client-auth", "optional", "--tls-client-ca", "ca.pem"];
        let tls = parse(&[&["--tls-cert", "a", "--tls-key", "k"][..], &optional].concat());
        assert_eq!(tls.unwrap().unwrap().client_auth, ClientAuth::Optional);
    }

    #[test]
    fn what_does_not_fit_together_is_a_usage_error() {
        let usage = Err(crate::error::exit::USAGE);
        assert_eq!(parse(&["--tls-port", "8443"]), usage);
        assert_eq!(parse(&["--tls-key", "k"]), usage);
        assert_eq!(
            parse(&["--tls-cert", "a", "--tls-cert", "b", "--tls-key", "k"]),
            usage
        );
        assert_eq!(
            parse(&[
                "--tls-cert",
                "a",
                "--tls-key",
                "k",
                "--tls-client-auth",
                "optional"
            ]),
            usage
        );
        assert_eq!(
            parse(&[
                "--tls-cert",
                "a",
                "--tls-key",
                "k",
                "--port",
                "9000",
                "--tls-port",
                "9000"
            ]),
            usage
        );
        assert!(parse(&[
            "--tls-cert",
            "a",
            "--tls-key",
            "k",
            "--port",
            "0",
            "--tls-port",
            "0"
        ])
        .is_ok());
    }
}
