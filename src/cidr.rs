//! `--trusted-proxies`: a list of address blocks (CIDR notation) and the question asked of it,
//! "is this peer one of our proxies?". Asked once per connection when the PROXY protocol is on
//! (before anything is read from it) and once per httpbin request that shows `origin`: a linear
//! scan of a handful of blocks, no allocation.
//!
//! An IPv4 client of an IPv6 socket arrives as `::ffff:a.b.c.d`; it is matched as the IPv4
//! address it is, and a block written as `::ffff:a.b.c.d/n` (n ≥ 96) is taken as the IPv4
//! block it names, so either spelling of a list matches either kind of socket.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One address block: the network's bits (host bits zero) and the prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cidr {
    V4 { net: u32, prefix: u8 },
    V6 { net: u128, prefix: u8 },
}

impl Cidr {
    /// Parses `a.b.c.d/n`, `x:y::z/n`, or a bare address (a block of one).
    ///
    /// # Errors
    /// What is wrong, for a usage message: not an address, a prefix out of range, or host
    /// bits set (`10.0.0.1/8` is more likely a typo than a way to write `10.0.0.0/8`).
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let ip: IpAddr = addr
            .parse()
            .map_err(|_| format!("{s:?} is not an IP address or a CIDR block"))?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            // Digits only: `u8::from_str` would take a leading `+`.
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().map_err(|_| format!("{s:?}: bad prefix"))?
            }
            Some(_) => return Err(format!("{s:?}: the prefix length must be a number")),
        };
        if prefix > max {
            return Err(format!("{s:?}: the prefix length is at most {max}"));
        }
        let cidr = match ip {
            IpAddr::V4(v4) => Cidr::V4 {
                net: u32::from(v4),
                prefix,
            },
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) if prefix >= 96 => Cidr::V4 {
                    net: u32::from(v4),
                    prefix: prefix - 96,
                },
                _ => Cidr::V6 {
                    net: u128::from(v6),
                    prefix,
                },
            },
        };
        if cidr.masked() != cidr {
            return Err(format!(
                "{s:?} has bits set past its prefix; did you mean {}?",
                cidr.masked()
            ));
        }
        Ok(cidr)
    }

    /// The same block with its host bits cleared.
    fn masked(self) -> Cidr {
        match self {
            Cidr::V4 { net, prefix } => Cidr::V4 {
                net: net & mask32(prefix),
                prefix,
            },
            Cidr::V6 { net, prefix } => Cidr::V6 {
                net: net & mask128(prefix),
                prefix,
            },
        }
    }

    /// Whether `ip` is in this block; an IPv4-mapped IPv6 address counts as its IPv4 address.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (*self, canonical(ip)) {
            (Cidr::V4 { net, prefix }, IpAddr::V4(v4)) => u32::from(v4) & mask32(prefix) == net,
            (Cidr::V6 { net, prefix }, IpAddr::V6(v6)) => u128::from(v6) & mask128(prefix) == net,
            _ => false,
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Cidr::V4 { net, prefix } => write!(f, "{}/{prefix}", Ipv4Addr::from(net)),
            Cidr::V6 { net, prefix } => write!(f, "{}/{prefix}", Ipv6Addr::from(net)),
        }
    }
}

fn mask32(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask128(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

/// `::ffff:a.b.c.d` as `a.b.c.d`; any other address as it is.
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// `--trusted-proxies`: the blocks our proxies' addresses are in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Cidr>);

impl TrustedProxies {
    /// Parses a comma-separated list (spaces around the items are allowed).
    ///
    /// # Errors
    /// The first item that is not a block, or an empty list.
    pub fn parse(list: &str) -> Result<TrustedProxies, String> {
        let blocks = list
            .split(',')
            .map(|item| Cidr::parse(item.trim()))
            .collect::<Result<Vec<_>, _>>()?;
        if list.trim().is_empty() {
            return Err("expected a list of CIDR blocks such as 10.0.0.0/8,::1/128".into());
        }
        Ok(TrustedProxies(blocks))
    }

    /// Whether `ip` is in one of the blocks.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(ip))
    }

    pub fn blocks(&self) -> &[Cidr] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn blocks_parse_and_print_back() {
        for (text, shown) in [
            ("10.0.0.0/8", "10.0.0.0/8"),
            ("127.0.0.1/32", "127.0.0.1/32"),
            ("127.0.0.1", "127.0.0.1/32"),
            ("0.0.0.0/0", "0.0.0.0/0"),
            ("::1/128", "::1/128"),
            ("::1", "::1/128"),
            ("2001:db8::/32", "2001:db8::/32"),
            ("::/0", "::/0"),
            // A mapped block is the IPv4 block it names.
            ("::ffff:10.0.0.0/104", "10.0.0.0/8"),
            ("::ffff:0:0/96", "0.0.0.0/0"),
        ] {
            assert_eq!(Cidr::parse(text).unwrap().to_string(), shown, "{text}");
        }
    }

    #[test]
    fn bad_blocks_are_refused_with_a_reason() {
        for bad in [
            "",
            "10.0.0.0/",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/+8",
            "10.0.0.0/-1",
            "10.0.0.0/8/8",
            "10.0.0/8",
            "010.0.0.0/8",
            "example.com",
            "10.0.0.0/ 8",
            "fe80::1%eth0/64",
        ] {
            assert!(Cidr::parse(bad).is_err(), "{bad:?} was accepted");
        }
        let err = Cidr::parse("10.1.2.3/8").unwrap_err();
        assert!(err.contains("did you mean 10.0.0.0/8"), "{err}");
        assert!(Cidr::parse("2001:db8::1/32").is_err());
    }

    #[test]
    fn membership() {
        let c = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(c.contains(ip("10.0.0.0")));
        assert!(c.contains(ip("10.255.255.255")));
        assert!(!c.contains(ip("11.0.0.0")));
        assert!(!c.contains(ip("9.255.255.255")));
        // A v4-mapped peer (an IPv4 client of a `::` socket) matches the IPv4 block.
        assert!(c.contains(ip("::ffff:10.1.2.3")));
        assert!(!c.contains(ip("::ffff:11.1.2.3")));
        // A plain IPv6 address whose low bits look like 10.x is not in it.
        assert!(!c.contains(ip("::10.1.2.3")));
        assert!(!c.contains(ip("2001:db8::a01:203")));
        let one = Cidr::parse("127.0.0.1/32").unwrap();
        assert!(one.contains(ip("127.0.0.1")));
        assert!(!one.contains(ip("127.0.0.2")));
        let all = Cidr::parse("0.0.0.0/0").unwrap();
        assert!(all.contains(ip("1.2.3.4")));
        assert!(!all.contains(ip("::1")));
        let v6 = Cidr::parse("2001:db8::/32").unwrap();
        assert!(v6.contains(ip("2001:db8:ffff::1")));
        assert!(!v6.contains(ip("2001:db9::1")));
        assert!(!v6.contains(ip("10.0.0.1")));
        let lo6 = Cidr::parse("::1/128").unwrap();
        assert!(lo6.contains(ip("::1")));
        assert!(!lo6.contains(ip("127.0.0.1")));
        // Written mapped, matched either way.
        let mapped = Cidr::parse("::ffff:192.0.2.0/120").unwrap();
        assert!(mapped.contains(ip("192.0.2.77")));
        assert!(mapped.contains(ip("::ffff:192.0.2.77")));
        assert!(!mapped.contains(ip("192.0.3.1")));
        let any6 = Cidr::parse("::/0").unwrap();
        assert!(any6.contains(ip("fe80::1")));
        assert!(!any6.contains(ip("::ffff:1.2.3.4")), "an IPv4 peer is IPv4");
    }

    #[test]
    fn lists() {
        let t = TrustedProxies::parse("10.0.0.0/8, 127.0.0.1/32,::1/128").unwrap();
        assert_eq!(t.blocks().len(), 3);
        assert!(t.contains(ip("10.9.8.7")));
        assert!(t.contains(ip("127.0.0.1")));
        assert!(t.contains(ip("::1")));
        assert!(t.contains(ip("::ffff:127.0.0.1")));
        assert!(!t.contains(ip("127.0.0.2")));
        assert!(!t.contains(ip("192.168.1.1")));
        assert!(TrustedProxies::parse("").is_err());
        assert!(TrustedProxies::parse("10.0.0.0/8,").is_err());
        assert!(TrustedProxies::parse("10.0.0.0/8,,::1").is_err());
    }
}
