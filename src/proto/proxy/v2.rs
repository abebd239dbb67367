//! Version 2: a binary header (§2.2).
//!
//! 12 bytes of signature, version and command, family and transport, a big-endian length of
//! what follows, then the addresses (their size set by the family) and TLVs up to that length.
//! Nothing past the 16 fixed bytes is looked at before the whole header is in (the spec: "the
//! receiver must not start to parse an address before the whole address block is received").

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use super::header::{Addresses, Command, Header, Malformed, Version, MAX_V2_BYTES};

/// Signature, version/command, family/transport, length.
const FIXED: usize = 16;

/// The address bytes of a family (§2.2): UNSPEC, INET, INET6, UNIX.
const ADDRESS_BYTES: [usize; 4] = [0, 12, 36, 216];

/// `AF_UNIX` paths are 108 bytes each.
const UNIX_PATH: usize = 108;

const TRANSPORT_STREAM: u8 = 1;
/// The highest transport defined (DGRAM).
const TRANSPORT_MAX: u8 = 2;

const TLV_CRC32C: u8 = 0x03;

/// `input` starts with the 12-byte signature.
pub fn parse(input: &[u8]) -> Result<Option<(Header, usize)>, Malformed> {
    // Each fixed byte is judged as soon as it arrives.
    let Some(&ver_cmd) = input.get(12) else {
        return Ok(None);
    };
    if ver_cmd >> 4 != 2 {
        return Err(Malformed::Version);
    }
    let command = match ver_cmd & 0x0f {
        0 => Command::Local,
        1 => Command::Proxy,
        _ => return Err(Malformed::Command),
    };
    let Some(&fam) = input.get(13) else {
        return Ok(None);
    };
    let (family, transport) = (usize::from(fam >> 4), fam & 0x0f);
    if family >= ADDRESS_BYTES.len() || transport > TRANSPORT_MAX {
        return Err(Malformed::Family);
    }
    let Some(&[hi, lo]) = input.get(14..FIXED) else {
        return Ok(None);
    };
    let total = FIXED + usize::from(u16::from_be_bytes([hi, lo]));
    if total > MAX_V2_BYTES {
        return Err(Malformed::TooLong);
    }
    let Some(header) = input.get(..total) else {
        return Ok(None);
    };
    let block = ADDRESS_BYTES[family];
    // Addresses that apply: a relayed stream of a known family. LOCAL is the proxy's own
    // connection; UNSPEC and DGRAM fall back to the socket's addresses, as §2.2 allows.
    let relayed = command == Command::Proxy && transport == TRANSPORT_STREAM && family != 0;
    if header.len() - FIXED < block {
        if relayed {
            return Err(Malformed::Length);
        }
        // Addresses we ignore, cut short: nothing of the layout can be trusted, so no TLVs
        // are looked for in it.
        let h = Header {
            version: Version::V2,
            command,
            addresses: Addresses::Unspecified,
            tlvs: 0,
        };
        return Ok(Some((h, total)));
    }
    let addresses = if relayed {
        addresses(family, &header[FIXED..FIXED + block])
    } else {
        Addresses::Unspecified
    };
    let tlvs = count_tlvs(header, FIXED + block)?;
    let h = Header {
        version: Version::V2,
        command,
        addresses,
        tlvs,
    };
    Ok(Some((h, total)))
}

/// The addresses of a relayed stream; `block` is exactly the family's address bytes.
fn addresses(family: usize, block: &[u8]) -> Addresses {
    let port = |at: usize| u16::from_be_bytes([block[at], block[at + 1]]);
    match family {
        1 => {
            let ip =
                |at: usize| Ipv4Addr::new(block[at], block[at + 1], block[at + 2], block[at + 3]);
            Addresses::Inet {
                source: SocketAddr::new(ip(0).into(), port(8)),
                destination: SocketAddr::new(ip(4).into(), port(10)),
            }
        }
        2 => {
            let ip = |at: usize| {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(&block[at..at + 16]);
                Ipv6Addr::from(octets)
            };
            Addresses::Inet {
                source: SocketAddr::new(ip(0).into(), port(32)),
                destination: SocketAddr::new(ip(16).into(), port(34)),
            }
        }
        _ => {
            // Offsets into the whole header: the block starts after the fixed bytes.
            let path = |at: usize| {
                let bytes = &block[at..at + UNIX_PATH];
                let len = bytes.iter().position(|&b| b == 0).unwrap_or(UNIX_PATH);
                FIXED + at..FIXED + at + len
            };
            Addresses::Unix {
                source: path(0),
                destination: path(UNIX_PATH),
            }
        }
    }
}

/// Walks the TLVs from `at` to the end of `header`: each must fit whole (HAProxy refuses a
/// header that does not end on a TLV boundary too). A CRC32C TLV must match.
fn count_tlvs(header: &[u8], mut at: usize) -> Result<usize, Malformed> {
    let mut count = 0;
    while at < header.len() {
        let Some(&[kind, hi, lo]) = header.get(at..at + 3) else {
            return Err(Malformed::Tlv);
        };
        let value = at + 3;
        let end = value + usize::from(u16::from_be_bytes([hi, lo]));
        if end > header.len() {
            return Err(Malformed::Tlv);
        }
        if kind == TLV_CRC32C {
            check_crc32c(header, value, end)?;
        }
        count += 1;
        at = end;
    }
    Ok(count)
}

/// §2.2.3: the CRC32C of the whole header with the checksum's own 4 bytes taken as zero.
fn check_crc32c(header: &[u8], value: usize, end: usize) -> Result<(), Malformed> {
    let Some(&[a, b, c, d]) = header.get(value..end) else {
        return Err(Malformed::Tlv);
    };
    let mut crc = crc32c_update(!0, &header[..value]);
    crc = crc32c_update(crc, &[0; 4]);
    crc = !crc32c_update(crc, &header[end..]);
    if crc == u32::from_be_bytes([a, b, c, d]) {
        Ok(())
    } else {
        Err(Malformed::Checksum)
    }
}

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78, RFC 4960 appendix B), a byte at a
/// time from a table built at compile time: a header is at most 8 KiB and is checked once.
fn crc32c_update(mut crc: u32, bytes: &[u8]) -> u32 {
    for &b in bytes {
        crc = CRC32C_TABLE[usize::from((crc as u8) ^ b)] ^ (crc >> 8);
    }
    crc
}

const CRC32C_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

/// For tests and tools that build headers: the CRC-32C of `bytes`.
pub fn crc32c(bytes: &[u8]) -> u32 {
    !crc32c_update(!0, bytes)
}
