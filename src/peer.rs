//! Who is at the other end of a connection, and what the kernel says about its socket: facts
//! a connection owns, which protocols pass on and applications show (`/ip`, `/inspect`, the
//! access log).

use std::fmt;
use std::net::SocketAddr;
use std::os::fd::RawFd;

/// Which PROXY protocol version a header was (`--proxy-protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyVersion {
    V1,
    V2,
}

impl ProxyVersion {
    pub fn number(self) -> u64 {
        match self {
            ProxyVersion::V1 => 1,
            ProxyVersion::V2 => 2,
        }
    }
}

/// A PROXY header's command (v1 has only `PROXY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyCommand {
    /// The proxy opened the connection for itself (a health check): the socket's own
    /// addresses stand, and whatever address the header carries is ignored.
    Local,
    /// The connection is relayed for the client the addresses name.
    Proxy,
}

impl ProxyCommand {
    pub fn name(self) -> &'static str {
        match self {
            ProxyCommand::Local => "LOCAL",
            ProxyCommand::Proxy => "PROXY",
        }
    }
}

/// Who is at the other end of a connection, as the protocols see it.
///
/// The same size as the `Option<SocketAddr>` it replaced in the protocols' context, so the context of a
/// direct connection costs nothing more to build.
#[derive(Debug, Clone, Copy)]
pub enum Peer<'a> {
    /// A client that connected to us: the socket's peer, as `accept4` gave it.
    Direct(Option<SocketAddr>),
    /// A client relayed by a proxy that said who it is in a PROXY header.
    Proxied(&'a Proxied),
}

impl Peer<'_> {
    /// The client's address: what logs, `/ip` and `origin` show.
    pub fn addr(&self) -> Option<SocketAddr> {
        match self {
            Peer::Direct(addr) => *addr,
            Peer::Proxied(p) => p.client,
        }
    }

    /// The socket's peer: the proxy, for a proxied connection.
    pub fn socket(&self) -> Option<SocketAddr> {
        match self {
            Peer::Direct(addr) => *addr,
            Peer::Proxied(p) => p.socket_peer,
        }
    }

    /// What the PROXY header said, if the connection had one.
    pub fn proxy(&self) -> Option<&Proxied> {
        match self {
            Peer::Direct(_) => None,
            Peer::Proxied(p) => Some(p),
        }
    }
}

/// An address a header named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Inet(SocketAddr),
    /// An `AF_UNIX` path, as sent (not necessarily UTF-8).
    Unix(Box<[u8]>),
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Inet(addr) => write!(f, "{addr}"),
            Endpoint::Unix(path) => write!(f, "unix:{}", String::from_utf8_lossy(path)),
        }
    }
}

/// What a connection's PROXY header said, kept for the connection's life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxied {
    pub version: ProxyVersion,
    pub command: ProxyCommand,
    /// The addresses the header carried, if they apply (see [`Addresses::Unspecified`]).
    pub source: Option<Endpoint>,
    pub destination: Option<Endpoint>,
    pub tlvs: usize,
    /// The socket's peer: the proxy.
    pub socket_peer: Option<SocketAddr>,
    /// The client: the header's source, or the socket's peer where the header names none
    /// (LOCAL, UNKNOWN, UNSPEC); `None` for a client on a UNIX socket, which has no IP.
    pub client: Option<SocketAddr>,
}

/// The socket of the connection being driven, for the few routes that ask the kernel about it
/// (`/inspect`, never the hot path). Protocols and applications make no syscalls of their own
/// on a connection, so the worker hands over the asking along with the descriptor.
#[derive(Debug, Clone, Copy)]
pub struct Socket {
    /// The connection's descriptor: a number, not an owner or a borrow (the connection is
    /// mutably borrowed while it is driven). It stays open for as long as any context built for
    /// the drive lives, and is used only for read-only queries.
    pub fd: RawFd,
    /// Asks the kernel about `fd` (the worker passes `conn::probe_socket`).
    pub probe: fn(RawFd) -> SocketFacts,
}

impl Socket {
    pub fn facts(&self) -> SocketFacts {
        (self.probe)(self.fd)
    }
}

/// What the kernel says about a connection's socket; each part `None` if asking failed.
#[derive(Clone, Copy, Default)]
pub struct SocketFacts {
    /// `getsockname`: the address the client reached.
    pub local: Option<SocketAddr>,
    /// `getsockopt(TCP_INFO)`.
    pub tcp: Option<TcpFigures>,
}

/// `getsockopt(TCP_INFO)`'s answer.
#[derive(Clone, Copy)]
pub struct TcpFigures {
    pub info: libc::tcp_info,
    /// How many bytes of `info` the kernel filled: a kernel older than the `libc` struct fills
    /// a prefix, and a field past it is unknown, not zero.
    pub filled: usize,
}

/// What a connection's TLS handshake settled, for `/inspect`, the access log and `/metrics`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFacts {
    /// `TLSv1.3` or `TLSv1.2`.
    pub version: &'static str,
    /// The cipher suite's IANA name, e.g. `TLS13_AES_128_GCM_SHA256`.
    pub cipher: &'static str,
    /// The name the client asked for (SNI), if it sent one.
    pub server_name: Option<Box<str>>,
    /// The application protocol agreed (ALPN), if any.
    pub alpn: Option<Box<[u8]>>,
    /// The session was resumed (a ticket or a session id), not a full handshake.
    pub resumed: bool,
    /// The client's certificate, under `--tls-client-auth`.
    pub client_cert: Option<ClientCert>,
}

/// A client certificate, as `/inspect` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCert {
    /// The subject's distinguished name (`CN=client,O=Example`).
    pub subject: Box<str>,
    pub issuer: Box<str>,
    /// SHA-256 of the certificate's DER bytes, lower-case hex.
    pub sha256: Box<str>,
}
