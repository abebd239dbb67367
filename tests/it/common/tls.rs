//! TLS for the tests: certificates made with rcgen (a CA, leaves it signs, a client
//! certificate), written to a test's own directory, and a blocking rustls client over a
//! `TcpStream` with a bounded timeout.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use super::{Response, Server};

/// A certificate authority that signs the tests' leaves.
pub(crate) struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
    pub pem: String,
}

impl Ca {
    pub(crate) fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let pem = cert.pem();
        Ca { cert, key, pem }
    }

    /// A server certificate for `names` (DNS names or IP addresses): PEM chain and key.
    pub(crate) fn server(&self, names: &[&str]) -> (String, String) {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names.clone()).unwrap();
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().cloned().unwrap_or_default(),
        );
        self.sign(params)
    }

    /// A client certificate with common name `cn`: PEM chain and key.
    pub(crate) fn client(&self, cn: &str) -> (String, String) {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Tests");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(params)
    }

    /// Signs `params` with a fresh key: the certificate (then the CA's) and the key, in PEM.
    pub(crate) fn sign(&self, params: CertificateParams) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

/// Writes a PEM pair to `dir/name.pem` and `dir/name.key`; returns their paths.
pub(crate) fn write_pair(dir: &Path, name: &str, pair: &(String, String)) -> (PathBuf, PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let cert = dir.join(format!("{name}.pem"));
    let key = dir.join(format!("{name}.key"));
    std::fs::write(&cert, &pair.0).unwrap();
    std::fs::write(&key, &pair.1).unwrap();
    (cert, key)
}

/// A fresh directory of this test's own under the target directory.
pub(crate) fn test_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("prefork-tls-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A CA and a server certificate for `localhost` and 127.0.0.1 signed by it, written to `dir`.
pub(crate) fn pki(dir: &Path) -> (Ca, PathBuf, PathBuf) {
    let ca = Ca::new("Test CA");
    let (cert, key) = write_pair(dir, "server", &ca.server(&["localhost", "127.0.0.1"]));
    (ca, cert, key)
}

/// `--tls-cert CERT --tls-key KEY`.
pub(crate) fn cert_args<'a>(cert: &'a Path, key: &'a Path) -> [&'a str; 4] {
    let path = |p: &'a Path| p.to_str().expect("a UTF-8 path");
    ["--tls-cert", path(cert), "--tls-key", path(key)]
}

/// Starts a server (port 0) with HTTPS on a port of its own (`--tls-port 0`) and `extra`.
pub(crate) fn start_https(cert: &Path, key: &Path, extra: &[&str]) -> Server {
    let mut args = vec!["--tls-port", "0"];
    args.extend_from_slice(&cert_args(cert, key));
    args.extend_from_slice(extra);
    Server::start(&args)
}

/// What a client offers and presents.
#[derive(Default)]
pub(crate) struct ClientOptions<'a> {
    /// Only TLS 1.2 (else 1.3 and 1.2).
    pub tls12_only: bool,
    /// Only TLS 1.3.
    pub tls13_only: bool,
    pub alpn: Vec<&'a [u8]>,
    /// A client certificate and key, in PEM.
    pub certificate: Option<&'a (String, String)>,
}

/// A client configuration that trusts `ca_pem` only.
#[allow(deprecated)] // ring's provider: see `transport::tls::setup::provider`
pub(crate) fn client_config(ca_pem: &str, options: &ClientOptions<'_>) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let versions: &[&rustls::SupportedProtocolVersion] = if options.tls12_only {
        &[&rustls::version::TLS12]
    } else if options.tls13_only {
        &[&rustls::version::TLS13]
    } else {
        &[&rustls::version::TLS13, &rustls::version::TLS12]
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots);
    let mut config = match options.certificate {
        Some((cert, key)) => {
            let chain: Vec<_> = CertificateDer::pem_slice_iter(cert.as_bytes())
                .map(Result::unwrap)
                .collect();
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = options.alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

pub(crate) type TlsStream = StreamOwned<ClientConnection, TcpStream>;

/// Connects to `addr` and completes a handshake for `name`; the error says why it failed.
pub(crate) fn connect(
    addr: SocketAddr,
    config: &Arc<ClientConfig>,
    name: &str,
) -> io::Result<TlsStream> {
    let tcp = TcpStream::connect(addr)?;
    tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
    tcp.set_write_timeout(Some(Duration::from_secs(10)))?;
    let server = ServerName::try_from(name.to_string()).map_err(io::Error::other)?;
    let conn = ClientConnection::new(config.clone(), server).map_err(io::Error::other)?;
    let mut stream = StreamOwned::new(conn, tcp);
    while stream.conn.is_handshaking() {
        stream.conn.complete_io(&mut stream.sock)?;
    }
    Ok(stream)
}

/// Sends a keep-alive GET for `path` and reads the response.
pub(crate) fn get(stream: &mut TlsStream, path: &str) -> Response {
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    stream.flush().unwrap();
    let mut pending = Vec::new();
    super::read_response(stream, &mut pending, false)
}

/// Reads until the server closes: whether it sent close_notify first (a clean end) or just
/// closed (rustls reports that as an unexpected EOF).
pub(crate) fn closes_cleanly(stream: &mut TlsStream) -> bool {
    let mut sink = [0u8; 4096];
    loop {
        match stream.read(&mut sink) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
}
