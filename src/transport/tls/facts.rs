//! What a handshake settled, read off rustls once it is done.

use rustls::server::UnbufferedServerConnection;
use rustls::{HandshakeKind, ProtocolVersion};
use sha2::{Digest, Sha256};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::peer::{ClientCert, TlsFacts};

/// The facts of an established session whose ClientHello asked for `server_name`.
pub fn facts_of(conn: &UnbufferedServerConnection, server_name: Option<Box<str>>) -> TlsFacts {
    let version = match conn.protocol_version() {
        Some(ProtocolVersion::TLSv1_3) => "TLSv1.3",
        Some(ProtocolVersion::TLSv1_2) => "TLSv1.2",
        _ => "TLS",
    };
    let cipher = conn
        .negotiated_cipher_suite()
        .and_then(|s| s.suite().as_str())
        .unwrap_or("unknown");
    TlsFacts {
        version,
        cipher,
        server_name,
        alpn: conn.alpn_protocol().map(Box::from),
        resumed: conn.handshake_kind() == Some(HandshakeKind::Resumed),
        client_cert: conn
            .peer_certificates()
            .and_then(|chain| chain.first())
            .map(|der| client_cert(der.as_ref())),
    }
}

/// The subject, issuer and fingerprint of a certificate the verifier accepted.
fn client_cert(der: &[u8]) -> ClientCert {
    let digest = Sha256::digest(der);
    let sha256: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let (subject, issuer) = match X509Certificate::from_der(der) {
        Ok((_, cert)) => (cert.subject().to_string(), cert.issuer().to_string()),
        Err(_) => (String::new(), String::new()),
    };
    ClientCert {
        subject: subject.into(),
        issuer: issuer.into(),
        sha256: sha256.into(),
    }
}
