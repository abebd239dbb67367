//! The PROXY protocol header, versions 1 and 2 (HAProxy's `doc/proxy-protocol.txt`), sans-IO:
//! [`parse`] looks at the first bytes of a connection and answers `Ok(None)` (need more),
//! `Ok(Some((header, consumed)))` or `Err(Malformed)`. It allocates nothing, never reads past
//! a length before checking it against the bytes there, and gives up at a fixed size, so a
//! connection can never make it wait on more than [`MAX_V2_BYTES`] bytes.
//!
//! Which version is detected from the first bytes, as the spec says (§2.2, end): the v2
//! signature, or `PROXY` for v1. Bytes that cannot begin an accepted header are an error as soon
//! as they arrive, so a client that speaks HTTP straight to us is turned away at its first read.

use std::fmt;
use std::net::SocketAddr;
use std::ops::Range;

use super::{v1, v2};

/// The 12 bytes every v2 header starts with (§2.2): chosen so that no text protocol parses them.
pub const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";

/// What every v1 header starts with (§2.1).
pub const V1_PREFIX: &[u8] = b"PROXY ";

/// The longest v1 line, CRLF included (§2.1: `PROXY UNKNOWN` with two full IPv6 addresses).
pub const MAX_V1_BYTES: usize = 107;

/// The longest v2 header taken, the 16 fixed bytes included. The length field allows 64 KiB;
/// senders put the addresses and a few short TLVs there (AWS's endpoint id, an ALPN, an SNI),
/// and the largest thing ever sent is a client certificate: 8 KiB is well beyond that, and
/// well within a connection's read buffer.
pub const MAX_V2_BYTES: usize = 8 * 1024;

pub use crate::config::ProxyAccept as Accept;
pub use crate::peer::{ProxyCommand as Command, ProxyVersion as Version};

/// The addresses a header carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Addresses {
    /// None that apply: v1 `UNKNOWN`, v2 `LOCAL`, `AF_UNSPEC`, or a transport other than a
    /// stream. The connection's own addresses stand (§2.1, §2.2).
    Unspecified,
    /// TCP over IPv4 or IPv6.
    Inet {
        source: SocketAddr,
        destination: SocketAddr,
    },
    /// `AF_UNIX`: each path as a range of the parsed bytes, up to its first NUL (kept as
    /// offsets: nothing borrowed from the read buffer outlives the call).
    Unix {
        source: Range<usize>,
        destination: Range<usize>,
    },
}

/// A whole, valid header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub version: Version,
    pub command: Command,
    pub addresses: Addresses,
    /// Type-length-value entries after the addresses (v2 only); checked for bounds and
    /// skipped, except a CRC32C, which is verified.
    pub tlvs: usize,
}

/// Why bytes are not a PROXY header. The connection is closed either way; the reason goes to
/// the debug log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// Neither signature (or not the version this listener takes).
    NotProxy,
    /// v1: no CRLF within 107 bytes; v2: a length beyond [`MAX_V2_BYTES`].
    TooLong,
    /// v1: a line that does not follow the grammar (a byte that is not printable ASCII, a
    /// lone CR or LF, a missing or doubled space, an unknown protocol).
    Line,
    /// v1: an address that is not the family's canonical form.
    Address,
    /// v1: a port that is not 0-65535 without leading zeros.
    Port,
    /// v2: a version other than 2.
    Version,
    /// v2: a command other than LOCAL or PROXY.
    Command,
    /// v2: an address family or transport the spec does not define.
    Family,
    /// v2: fewer address bytes than the family needs.
    Length,
    /// v2: a TLV that runs past the header, or a CRC32C TLV that is not 4 bytes.
    Tlv,
    /// v2: the CRC32C TLV does not match the header.
    Checksum,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Malformed::NotProxy => "not a PROXY protocol header",
            Malformed::TooLong => "header too long",
            Malformed::Line => "malformed v1 line",
            Malformed::Address => "bad address",
            Malformed::Port => "bad port",
            Malformed::Version => "unsupported version",
            Malformed::Command => "unknown command",
            Malformed::Family => "unknown address family or transport",
            Malformed::Length => "address block too short for its family",
            Malformed::Tlv => "TLV out of bounds",
            Malformed::Checksum => "CRC32C mismatch",
        })
    }
}

/// Parses the header at the start of `input`, of a version `accept` allows.
///
/// # Errors
/// [`Malformed`] as soon as the bytes cannot be, or become, an accepted header.
pub fn parse(input: &[u8], accept: Accept) -> Result<Option<(Header, usize)>, Malformed> {
    let seen = |prefix: &[u8]| prefix.starts_with(&input[..input.len().min(prefix.len())]);
    if accept.takes_v2() && seen(&V2_SIGNATURE) {
        if input.len() < V2_SIGNATURE.len() {
            return Ok(None);
        }
        return v2::parse(input);
    }
    if accept.takes_v1() && seen(V1_PREFIX) {
        if input.len() < V1_PREFIX.len() {
            return Ok(None);
        }
        return v1::parse(input);
    }
    Err(Malformed::NotProxy)
}
