//! Version 1: one line of text (§2.1).
//!
//! `PROXY TCP4 <src> <dst> <sport> <dport>\r\n`, `PROXY TCP6 …`, or `PROXY UNKNOWN` followed by
//! anything up to the CRLF, in at most 107 bytes. Exactly one space between fields; IPv4 as four
//! decimal numbers with no leading zeros; ports 0-65535 with no leading zeros; a lone CR or LF
//! is an error, not a line end. The line is judged only once its CRLF is in, but bytes that
//! could never start a valid line are refused as they arrive.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::header::{Addresses, Command, Header, Malformed, Version, MAX_V1_BYTES, V1_PREFIX};

/// The protocol names v1 knows, each with what may follow it.
const PROTOCOLS: [&[u8]; 3] = [b"TCP4 ", b"TCP6 ", b"UNKNOWN"];

/// `input` starts with `PROXY `.
///
/// The checks run in an order that does not depend on how much has arrived, so an error is
/// the same error whatever the cut (the fuzzer holds it to that): the protocol name first,
/// then each byte up to the line end, then the length.
pub(super) fn parse(input: &[u8]) -> Result<Option<(Header, usize)>, Malformed> {
    let window = &input[..input.len().min(MAX_V1_BYTES)];
    // A name that cannot become one of the three is refused before its line is over.
    let end = window
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(window.len());
    let named = &window[V1_PREFIX.len()..end];
    let could_be = |p: &&[u8]| {
        let n = named.len().min(p.len());
        named[..n] == p[..n]
    };
    if !PROTOCOLS.iter().any(could_be) {
        return Err(Malformed::Line);
    }
    for (i, &b) in window.iter().enumerate() {
        match b {
            b'\r' => {
                return match window.get(i + 1) {
                    Some(b'\n') => line(&input[V1_PREFIX.len()..i]).map(|h| Some((h, i + 2))),
                    Some(_) => Err(Malformed::Line),
                    // The LF would be the 108th byte.
                    None if i + 1 >= MAX_V1_BYTES => Err(Malformed::TooLong),
                    None => Ok(None),
                };
            }
            0x20..=0x7e => {}
            _ => return Err(Malformed::Line),
        }
    }
    if window.len() >= MAX_V1_BYTES {
        return Err(Malformed::TooLong);
    }
    Ok(None)
}

/// The line between `PROXY ` and the CRLF.
fn line(rest: &[u8]) -> Result<Header, Malformed> {
    let header = |addresses| Header {
        version: Version::V1,
        command: Command::Proxy,
        addresses,
        tlvs: 0,
    };
    // §2.1: for UNKNOWN, "the receiver must ignore anything presented before the CRLF".
    if rest == b"UNKNOWN" || rest.starts_with(b"UNKNOWN ") {
        return Ok(header(Addresses::Unspecified));
    }
    let (v6, fields) = if let Some(f) = rest.strip_prefix(b"TCP4 ") {
        (false, f)
    } else if let Some(f) = rest.strip_prefix(b"TCP6 ") {
        (true, f)
    } else {
        return Err(Malformed::Line);
    };
    let mut fields = fields.split(|&b| b == b' ');
    let mut next = || fields.next().ok_or(Malformed::Line);
    let (src, dst, sport, dport) = (next()?, next()?, next()?, next()?);
    if fields.next().is_some() {
        return Err(Malformed::Line);
    }
    let ip = |text: &[u8]| -> Result<IpAddr, Malformed> {
        let text = std::str::from_utf8(text).map_err(|_| Malformed::Address)?;
        // std's parsers take exactly the canonical forms: four decimal numbers without leading
        // zeros (`01.2.3.4` is refused), and RFC 4291 text for IPv6 (no zone, no brackets).
        if v6 {
            text.parse::<Ipv6Addr>().map(IpAddr::V6)
        } else {
            text.parse::<Ipv4Addr>().map(IpAddr::V4)
        }
        .map_err(|_| Malformed::Address)
    };
    Ok(header(Addresses::Inet {
        source: SocketAddr::new(ip(src)?, port(sport)?),
        destination: SocketAddr::new(ip(dst)?, port(dport)?),
    }))
}

/// 0-65535 in decimal, without leading zeros ("0" itself is fine).
fn port(text: &[u8]) -> Result<u16, Malformed> {
    let digits = !text.is_empty() && text.len() <= 5 && text.iter().all(u8::is_ascii_digit);
    if !digits || (text.len() > 1 && text[0] == b'0') {
        return Err(Malformed::Port);
    }
    let n = text.iter().fold(0u32, |n, &d| n * 10 + u32::from(d - b'0'));
    u16::try_from(n).map_err(|_| Malformed::Port)
}
