//! The TLS configuration, built by the master before it forks (so a bad certificate stops the
//! start, or is refused at a reload, before any worker depends on it): certificates and keys
//! from PEM files, one pair per name (chosen by SNI, the first the default); client
//! certificates checked against `--tls-client-ca`; TLS 1.3 and 1.2 only, with ECDHE and AEAD
//! suites only (ring's defaults are exactly those); no 0-RTT; session tickets sealed with the
//! keys every worker shares.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{
    ClientHello, ResolvesServerCert, ServerSessionMemoryCache, WebPkiClientVerifier,
};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::ticket::{TicketKeys, Ticketer};
use crate::config::{ClientAuth, TlsOptions};

/// What the TLS configuration cannot be built from, said with the file it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupError(pub String);

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SetupError {}

fn error(path: &Path, what: impl fmt::Display) -> SetupError {
    SetupError(format!("{}: {what}", path.display()))
}

/// One certificate chain and its key, loaded and checked against each other.
#[derive(Debug)]
pub struct Pair {
    pub key: Arc<CertifiedKey>,
    /// The DNS names (and IP addresses, as text) of its leaf, lower case: what SNI matches.
    pub names: Vec<String>,
    /// The leaf's validity, in seconds since the epoch.
    pub not_before: i64,
    pub not_after: i64,
}

/// The crypto provider: ring's, whose default suites are TLS 1.3's three and TLS 1.2's six
/// ECDHE-AEAD ones (no RSA key exchange, no CBC, no static DH), over X25519, P-256 and P-384.
///
/// rustls 0.23.48 marks it deprecated because ring has no post-quantum key exchange
/// (X25519MLKEM768); aws-lc-rs has, at the price of a C build of minutes on two cores (ring's
/// takes seconds). Clients that offer the hybrid group offer X25519 beside it and get that.
#[allow(deprecated)]
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Loads one `--tls-cert`/`--tls-key` pair.
///
/// # Errors
/// A file that cannot be read, holds no certificate or key, a key of a kind rustls cannot
/// sign with, a key that is not the certificate's, or a leaf that does not parse.
pub fn load_pair(cert: &Path, key: &Path, provider: &CryptoProvider) -> Result<Pair, SetupError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| error(cert, format_args!("cannot read certificates: {e}")))?
        .collect::<Result<_, _>>()
        .map_err(|e| error(cert, format_args!("not a PEM certificate chain: {e}")))?;
    let Some(leaf) = chain.first() else {
        return Err(error(cert, "holds no certificate"));
    };
    let (names, not_before, not_after) = leaf_facts(leaf).map_err(|e| error(cert, e))?;
    let private = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        error(
            key,
            format_args!("no PKCS#8, RSA or SEC1 private key in PEM: {e}"),
        )
    })?;
    let certified = CertifiedKey::from_der(chain, private, provider).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => SetupError(format!(
            "{} and {}: the key is not the certificate's",
            key.display(),
            cert.display()
        )),
        e => error(key, format_args!("cannot sign with this key: {e}")),
    })?;
    Ok(Pair {
        key: Arc::new(certified),
        names,
        not_before,
        not_after,
    })
}

/// The leaf's subjectAltName entries (lower case) and validity.
fn leaf_facts(leaf: &CertificateDer<'_>) -> Result<(Vec<String>, i64, i64), String> {
    let (_, cert) = X509Certificate::from_der(leaf.as_ref())
        .map_err(|e| format!("the first certificate does not parse: {e}"))?;
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(dns) => names.push(dns.to_ascii_lowercase()),
                GeneralName::IPAddress(ip) => {
                    let text = match ip.len() {
                        4 => std::net::Ipv4Addr::from(<[u8; 4]>::try_from(*ip).unwrap_or_default())
                            .to_string(),
                        16 => {
                            std::net::Ipv6Addr::from(<[u8; 16]>::try_from(*ip).unwrap_or_default())
                                .to_string()
                        }
                        _ => continue,
                    };
                    names.push(text);
                }
                _ => {}
            }
        }
    }
    let validity = cert.validity();
    Ok((
        names,
        validity.not_before.timestamp(),
        validity.not_after.timestamp(),
    ))
}

/// Every pair of `options`, loaded, and what `--check` finds wrong with them now: a leaf with
/// no subjectAltName (clients match names only there, RFC 6125), not valid yet, or expired.
///
/// # Errors
/// The first problem found.
pub fn load_all(options: &TlsOptions) -> Result<Vec<Pair>, SetupError> {
    let provider = provider();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let mut pairs = Vec::with_capacity(options.pairs.len());
    for (cert, key) in &options.pairs {
        let pair = load_pair(cert, key, &provider)?;
        if pair.names.is_empty() {
            return Err(error(
                cert,
                "the certificate names no host (no subjectAltName): clients would refuse it",
            ));
        }
        if now < pair.not_before {
            return Err(error(cert, "the certificate is not valid yet"));
        }
        if now > pair.not_after {
            return Err(error(cert, "the certificate has expired"));
        }
        pairs.push(pair);
    }
    Ok(pairs)
}

/// The server configuration: `pairs` (the first the default), client authentication as
/// `options` say, `alpn` offered in that order, tickets sealed with `keys` when given.
///
/// # Errors
/// A client CA file that cannot be read or holds no usable certificate.
pub fn server_config(
    options: &TlsOptions,
    pairs: Vec<Pair>,
    keys: Option<&'static TicketKeys>,
    alpn: &[&[u8]],
) -> Result<Arc<ServerConfig>, SetupError> {
    let provider = provider();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| SetupError(format!("TLS versions: {e}")))?;
    let builder = match (&options.client_ca, options.client_auth) {
        (Some(ca), auth) if auth != ClientAuth::Off => {
            let mut roots = RootCertStore::empty();
            let certs = CertificateDer::pem_file_iter(ca)
                .map_err(|e| error(ca, format_args!("cannot read certificates: {e}")))?;
            for cert in certs {
                let cert =
                    cert.map_err(|e| error(ca, format_args!("not a PEM certificate: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| error(ca, format_args!("not a usable CA certificate: {e}")))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = match auth {
                ClientAuth::Optional => verifier.allow_unauthenticated(),
                _ => verifier,
            };
            let verifier = verifier
                .build()
                .map_err(|e| error(ca, format_args!("cannot check clients against it: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
        _ => builder.with_no_client_auth(),
    };
    let mut config = builder.with_cert_resolver(Arc::new(ByName::new(pairs)));
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    config.max_early_data_size = 0;
    // TLS 1.2 session ids resume on the worker that made them; tickets on any.
    config.session_storage = ServerSessionMemoryCache::new(1024);
    if let Some(keys) = keys {
        config.ticketer = Arc::new(Ticketer::new(keys));
    }
    Ok(Arc::new(config))
}

/// Loads and checks every pair of `options`, and builds the server configuration from them:
/// what the master does at start and at each reload. `alpn`: the protocols offered, in
/// order of preference (none for echo).
///
/// # Errors
/// The first problem with a file, naming it.
pub fn build(
    options: &TlsOptions,
    keys: Option<&'static TicketKeys>,
    alpn: &[&[u8]],
) -> Result<Arc<ServerConfig>, SetupError> {
    let pairs = load_all(options)?;
    server_config(options, pairs, keys, alpn)
}

/// The certificate for a ClientHello: the pair whose names hold its SNI (exactly, or by a
/// `*.` wildcard for one label), else the first pair.
#[derive(Debug)]
struct ByName {
    keys: Vec<Arc<CertifiedKey>>,
    names: Vec<(String, usize)>,
}

impl ByName {
    fn new(pairs: Vec<Pair>) -> ByName {
        let mut names = Vec::new();
        let mut keys = Vec::with_capacity(pairs.len());
        for (i, pair) in pairs.into_iter().enumerate() {
            names.extend(pair.names.into_iter().map(|n| (n, i)));
            keys.push(pair.key);
        }
        ByName { keys, names }
    }

    fn find(&self, sni: &str) -> Option<usize> {
        let sni = sni.to_ascii_lowercase();
        if let Some((_, i)) = self.names.iter().find(|(n, _)| *n == sni) {
            return Some(*i);
        }
        let parent = sni.split_once('.').map(|(_, rest)| rest)?;
        self.names
            .iter()
            .find(|(n, _)| n.strip_prefix("*.") == Some(parent))
            .map(|(_, i)| *i)
    }
}

impl ResolvesServerCert for ByName {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let index = hello.server_name().and_then(|n| self.find(n)).unwrap_or(0);
        self.keys.get(index).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_exact_then_one_wildcard_label_then_the_default() {
        let by = ByName {
            keys: Vec::new(),
            names: vec![
                ("a.example".into(), 0),
                ("*.b.example".into(), 1),
                ("b.example".into(), 2),
            ],
        };
        assert_eq!(by.find("A.Example"), Some(0));
        assert_eq!(by.find("x.b.example"), Some(1));
        assert_eq!(by.find("b.example"), Some(2));
        assert_eq!(
            by.find("y.x.b.example"),
            None,
            "a wildcard covers one label"
        );
        assert_eq!(by.find("other"), None);
    }
}
