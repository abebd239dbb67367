//! Every header form of the spec, cut at every byte, oversized and garbled; then the stage
//! that reads one in front of HTTP.

use std::net::SocketAddr;

use super::header::{MAX_V1_BYTES, MAX_V2_BYTES, V2_SIGNATURE};
use super::*;
use crate::output::Output;
use crate::testing::TestSite;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn inet(src: &str, dst: &str) -> Addresses {
    Addresses::Inet {
        source: addr(src),
        destination: addr(dst),
    }
}

/// A v2 header: version 2 with `command`, family/transport byte `fam`, then `body`.
fn v2(command: u8, fam: u8, body: &[u8]) -> Vec<u8> {
    let mut h = V2_SIGNATURE.to_vec();
    h.push(0x20 | command);
    h.push(fam);
    h.extend_from_slice(&(body.len() as u16).to_be_bytes());
    h.extend_from_slice(body);
    h
}

fn tlv(kind: u8, value: &[u8]) -> Vec<u8> {
    let mut t = vec![kind];
    t.extend_from_slice(&(value.len() as u16).to_be_bytes());
    t.extend_from_slice(value);
    t
}

fn v4_block() -> Vec<u8> {
    let mut b = vec![192, 0, 2, 1, 198, 51, 100, 7];
    b.extend_from_slice(&56324u16.to_be_bytes());
    b.extend_from_slice(&443u16.to_be_bytes());
    b
}

fn v6_block() -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(
        &"2001:db8::1"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    b.extend_from_slice(
        &"2001:db8::2"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    b.extend_from_slice(&1234u16.to_be_bytes());
    b.extend_from_slice(&80u16.to_be_bytes());
    b
}

fn unix_block(src: &[u8], dst: &[u8]) -> Vec<u8> {
    let mut b = vec![0u8; 216];
    b[..src.len()].copy_from_slice(src);
    b[108..108 + dst.len()].copy_from_slice(dst);
    b
}

/// Adds a CRC32C TLV to a v2 header and fills it in (§2.2.3).
fn with_crc(mut h: Vec<u8>) -> Vec<u8> {
    let len = u16::from_be_bytes([h[14], h[15]]) + 7;
    h[14..16].copy_from_slice(&len.to_be_bytes());
    h.extend_from_slice(&tlv(0x03, &[0; 4]));
    let crc = v2::crc32c(&h);
    let at = h.len() - 4;
    h[at..].copy_from_slice(&crc.to_be_bytes());
    h
}

/// The valid headers, each with what it must parse to.
fn valid() -> Vec<(&'static str, Vec<u8>, Header)> {
    let h = |version, command, addresses, tlvs| Header {
        version,
        command,
        addresses,
        tlvs,
    };
    let v1 = |a| h(Version::V1, Command::Proxy, a, 0);
    let unknown_long = format!(
        "PROXY UNKNOWN {0} {0} 65535 65535\r\n",
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
    );
    assert_eq!(unknown_long.len(), MAX_V1_BYTES);
    let tcp6_long = format!(
        "PROXY TCP6 {0} {0} 65535 65535\r\n",
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
    );
    let all_f = "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535";
    let tlvs = [
        tlv(0x01, b"h2"),
        tlv(0x02, b"example.com"),
        tlv(0xEA, b"vpce-0123"),
        tlv(0x04, b""),
    ]
    .concat();
    vec![
        (
            "v1 TCP4",
            b"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n".to_vec(),
            v1(inet("192.0.2.1:56324", "198.51.100.7:443")),
        ),
        (
            "v1 TCP4 extremes",
            b"PROXY TCP4 255.255.255.255 0.0.0.0 65535 0\r\n".to_vec(),
            v1(inet("255.255.255.255:65535", "0.0.0.0:0")),
        ),
        (
            "v1 TCP6",
            b"PROXY TCP6 2001:db8::1 ::1 1234 80\r\n".to_vec(),
            v1(inet("[2001:db8::1]:1234", "[::1]:80")),
        ),
        (
            "v1 TCP6 longest",
            tcp6_long.into_bytes(),
            v1(inet(all_f, all_f)),
        ),
        (
            "v1 UNKNOWN",
            b"PROXY UNKNOWN\r\n".to_vec(),
            v1(Addresses::Unspecified),
        ),
        (
            "v1 UNKNOWN, 107 bytes",
            unknown_long.into_bytes(),
            v1(Addresses::Unspecified),
        ),
        (
            "v2 PROXY TCP4",
            v2(1, 0x11, &v4_block()),
            h(
                Version::V2,
                Command::Proxy,
                inet("192.0.2.1:56324", "198.51.100.7:443"),
                0,
            ),
        ),
        (
            "v2 PROXY TCP6 with TLVs",
            v2(1, 0x21, &[v6_block(), tlvs.clone()].concat()),
            h(
                Version::V2,
                Command::Proxy,
                inet("[2001:db8::1]:1234", "[2001:db8::2]:80"),
                4,
            ),
        ),
        (
            "v2 PROXY UNIX",
            v2(1, 0x31, &unix_block(b"/run/client.sock", b"/run/lb.sock")),
            h(
                Version::V2,
                Command::Proxy,
                Addresses::Unix {
                    source: 16..16 + 16,
                    destination: 16 + 108..16 + 108 + 12,
                },
                0,
            ),
        ),
        (
            "v2 PROXY UNSPEC",
            v2(1, 0x00, &[]),
            h(Version::V2, Command::Proxy, Addresses::Unspecified, 0),
        ),
        (
            "v2 PROXY UDP4: the socket's addresses",
            v2(1, 0x12, &v4_block()),
            h(Version::V2, Command::Proxy, Addresses::Unspecified, 0),
        ),
        (
            "v2 LOCAL",
            v2(0, 0x00, &[]),
            h(Version::V2, Command::Local, Addresses::Unspecified, 0),
        ),
        (
            "v2 LOCAL with addresses and a TLV: ignored, counted",
            v2(0, 0x11, &[v4_block(), tlv(0xE0, b"x")].concat()),
            h(Version::V2, Command::Local, Addresses::Unspecified, 1),
        ),
        (
            "v2 LOCAL with a cut-short address block",
            v2(0, 0x21, &[1, 2, 3]),
            h(Version::V2, Command::Local, Addresses::Unspecified, 0),
        ),
        (
            "v2 PROXY TCP4 with a CRC32C",
            with_crc(v2(1, 0x11, &[v4_block(), tlvs].concat())),
            h(
                Version::V2,
                Command::Proxy,
                inet("192.0.2.1:56324", "198.51.100.7:443"),
                5,
            ),
        ),
    ]
}

#[test]
fn every_form_parses_whole_and_waits_at_every_cut() {
    for (name, bytes, want) in valid() {
        let version_ok = match want.version {
            Version::V1 => [Accept::V1, Accept::Any],
            Version::V2 => [Accept::V2, Accept::Any],
        };
        for accept in version_ok {
            // Alone, and followed by the request it precedes.
            let mut followed = bytes.clone();
            followed.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
            for input in [&bytes, &followed] {
                assert_eq!(
                    parse(input, accept),
                    Ok(Some((want.clone(), bytes.len()))),
                    "{name}"
                );
            }
            for cut in 0..bytes.len() {
                assert_eq!(
                    parse(&bytes[..cut], accept),
                    Ok(None),
                    "{name} cut at {cut}"
                );
            }
        }
        let other = match want.version {
            Version::V1 => Accept::V2,
            Version::V2 => Accept::V1,
        };
        assert_eq!(parse(&bytes, other), Err(Malformed::NotProxy), "{name}");
    }
}

#[test]
fn what_a_header_says_about_the_client() {
    let socket = Some(addr("127.0.0.1:40000"));
    for (name, bytes, header) in valid() {
        let p = proxied(&header, &bytes, socket);
        assert_eq!(p.socket_peer, socket);
        match &header.addresses {
            Addresses::Inet { source, .. } => assert_eq!(p.client, Some(*source), "{name}"),
            Addresses::Unspecified => assert_eq!(p.client, socket, "{name}"),
            Addresses::Unix { .. } => {
                assert_eq!(p.client, None, "{name}");
                assert_eq!(p.source.unwrap().to_string(), "unix:/run/client.sock");
                assert_eq!(p.destination.unwrap().to_string(), "unix:/run/lb.sock");
            }
        }
    }
}

#[test]
fn v1_refuses_what_the_grammar_does_not_allow() {
    for (line, why) in [
        (
            &b"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\n"[..],
            Malformed::Line,
        ),
        (
            b"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\rX",
            Malformed::Line,
        ),
        (
            b"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443 \r\n",
            Malformed::Line,
        ),
        (
            b"PROXY TCP4 192.0.2.1  198.51.100.7 56324 443\r\n",
            Malformed::Line,
        ),
        (
            b"PROXY TCP4 192.0.2.1 198.51.100.7 56324\r\n",
            Malformed::Line,
        ),
        (
            b"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443 1\r\n",
            Malformed::Line,
        ),
        (b"PROXY TCP4\r\n", Malformed::Line),
        (b"PROXY TCP5 1.2.3.4 1.2.3.4 1 1\r\n", Malformed::Line),
        (b"PROXY tcp4 1.2.3.4 1.2.3.4 1 1\r\n", Malformed::Line),
        (b"PROXY  TCP4 1.2.3.4 1.2.3.4 1 1\r\n", Malformed::Line),
        (b"PROXY UNKNOWNX\r\n", Malformed::Line),
        (b"PROXY \r\n", Malformed::Line),
        (b"PROXY TCP4 01.2.3.4 1.2.3.4 1 1\r\n", Malformed::Address),
        (b"PROXY TCP4 1.2.3.256 1.2.3.4 1 1\r\n", Malformed::Address),
        (b"PROXY TCP4 1.2.3 1.2.3.4 1 1\r\n", Malformed::Address),
        (b"PROXY TCP4 ::1 1.2.3.4 1 1\r\n", Malformed::Address),
        (b"PROXY TCP6 1.2.3.4 ::1 1 1\r\n", Malformed::Address),
        (b"PROXY TCP6 [::1] ::1 1 1\r\n", Malformed::Address),
        (b"PROXY TCP6 fe80::1%eth0 ::1 1 1\r\n", Malformed::Address),
        (b"PROXY TCP4 1.2.3.4 1.2.3.4 65536 1\r\n", Malformed::Port),
        (b"PROXY TCP4 1.2.3.4 1.2.3.4 080 1\r\n", Malformed::Port),
        (b"PROXY TCP4 1.2.3.4 1.2.3.4 00 1\r\n", Malformed::Port),
        (b"PROXY TCP4 1.2.3.4 1.2.3.4 +80 1\r\n", Malformed::Port),
        (b"PROXY TCP4 1.2.3.4 1.2.3.4 123456 1\r\n", Malformed::Port),
        (b"PROXY TCP4 1.2.3.4 1.2.3.4 1 \r\n", Malformed::Port),
        (b"PROXY TCP4 1.2.3.4\t1.2.3.4 1 1\r\n", Malformed::Line),
        (b"PROXY TCP4 1.2.3.4 1.2.3.4 1 1\x00\r\n", Malformed::Line),
        (b"PROXY UNKNOWN \xff\r\n", Malformed::Line),
        // Refused before the line is over: no protocol name starts like this.
        (b"PROXY GET", Malformed::Line),
        (b"PROXY TCP4 1.2.3.4 1.2.3.4 1 1\n", Malformed::Line),
    ] {
        let got = parse(line, Accept::V1);
        assert_eq!(got, Err(why), "{:?}", String::from_utf8_lossy(line));
    }
}

#[test]
fn v1_gives_up_at_107_bytes_without_a_crlf() {
    let mut line = b"PROXY UNKNOWN ".to_vec();
    line.resize(MAX_V1_BYTES - 1, b'a');
    assert_eq!(parse(&line, Accept::V1), Ok(None));
    line.push(b'\r');
    // The LF would be the 108th byte.
    assert_eq!(parse(&line, Accept::V1), Err(Malformed::TooLong));
    line.push(b'\n');
    assert_eq!(parse(&line, Accept::V1), Err(Malformed::TooLong));
    line.truncate(MAX_V1_BYTES - 1);
    line.push(b'b');
    assert_eq!(parse(&line, Accept::V1), Err(Malformed::TooLong));
    // 108 bytes of a well-formed line are too many; 107 are not.
    let unknown = |len: usize| format!("PROXY UNKNOWN {}\r\n", "a".repeat(len - 16));
    assert_eq!(
        parse(unknown(108).as_bytes(), Accept::Any),
        Err(Malformed::TooLong)
    );
    assert!(matches!(
        parse(unknown(107).as_bytes(), Accept::Any),
        Ok(Some((_, 107)))
    ));
}

#[test]
fn v2_refuses_bad_fixed_bytes_and_bad_lengths() {
    let mut bad_version = v2(1, 0x11, &v4_block());
    bad_version[12] = 0x11;
    let mut bad_sig = v2(1, 0x11, &v4_block());
    bad_sig[6] = b'X';
    let mut too_long = v2(0, 0x00, &[]);
    too_long[14..16].copy_from_slice(&((MAX_V2_BYTES - 15) as u16).to_be_bytes());
    let mut huge = v2(0, 0x00, &[]);
    huge[14..16].copy_from_slice(&u16::MAX.to_be_bytes());
    let mut bad_crc = with_crc(v2(1, 0x11, &v4_block()));
    *bad_crc.last_mut().unwrap() ^= 1;
    let mut crc_covers_addresses = with_crc(v2(1, 0x11, &v4_block()));
    crc_covers_addresses[16] ^= 1;
    for (name, bytes, why) in [
        ("version 1 in v2 framing", bad_version, Malformed::Version),
        ("command 2", v2(2, 0x11, &v4_block()), Malformed::Command),
        ("command 15", v2(15, 0x11, &v4_block()), Malformed::Command),
        ("family 4", v2(1, 0x41, &v4_block()), Malformed::Family),
        ("transport 3", v2(1, 0x13, &v4_block()), Malformed::Family),
        ("family 15 on LOCAL", v2(0, 0xF0, &[]), Malformed::Family),
        (
            "TCP4, 11 address bytes",
            v2(1, 0x11, &v4_block()[..11]),
            Malformed::Length,
        ),
        (
            "TCP6, 12 address bytes",
            v2(1, 0x21, &v4_block()),
            Malformed::Length,
        ),
        (
            "UNIX, 215 address bytes",
            v2(1, 0x31, &[0; 215]),
            Malformed::Length,
        ),
        ("over the size bound", too_long, Malformed::TooLong),
        ("length 65535", huge, Malformed::TooLong),
        (
            "a TLV past the end",
            v2(
                1,
                0x11,
                &[v4_block(), vec![0x01, 0x00, 0x05, b'h']].concat(),
            ),
            Malformed::Tlv,
        ),
        (
            "two bytes of TLV header",
            v2(1, 0x11, &[v4_block(), vec![0x01, 0x00]].concat()),
            Malformed::Tlv,
        ),
        (
            "one byte after the addresses",
            v2(1, 0x11, &[v4_block(), vec![0x04]].concat()),
            Malformed::Tlv,
        ),
        (
            "a TLV length of 65535",
            v2(1, 0x11, &[v4_block(), vec![0x04, 0xff, 0xff]].concat()),
            Malformed::Tlv,
        ),
        (
            "a CRC32C of 3 bytes",
            v2(1, 0x11, &[v4_block(), tlv(0x03, &[1, 2, 3])].concat()),
            Malformed::Tlv,
        ),
        ("a wrong CRC32C", bad_crc, Malformed::Checksum),
        (
            "a changed address under a CRC32C",
            crc_covers_addresses,
            Malformed::Checksum,
        ),
        ("a bad signature", bad_sig, Malformed::NotProxy),
    ] {
        assert_eq!(parse(&bytes, Accept::V2), Err(why), "{name}");
        // Fixed bytes are judged as they arrive; the rest once the header is whole.
        let judged_at = if matches!(why, Malformed::Version | Malformed::Command) {
            13
        } else if why == Malformed::Family {
            14
        } else if why == Malformed::TooLong {
            16
        } else if why == Malformed::NotProxy {
            7
        } else {
            bytes.len()
        };
        for cut in 0..judged_at {
            assert_eq!(
                parse(&bytes[..cut], Accept::V2),
                Ok(None),
                "{name} at {cut}"
            );
        }
    }
}

/// Found by the fuzzer: a bad protocol name in a line with no CRLF in 107 bytes was refused as
/// a bad line when cut short and as too long when whole. An error must not depend on the cut.
#[test]
fn fuzz_regression_the_same_error_at_every_cut() {
    let mut line = b"PROXY TCRRRRR'2001:db".to_vec();
    line.resize(200, b'R');
    for cut in V1_PREFIX_LEN + 3..line.len() {
        assert_eq!(
            parse(&line[..cut], Accept::Any),
            Err(Malformed::Line),
            "at {cut}"
        );
    }
}

const V1_PREFIX_LEN: usize = 6;

#[test]
fn the_crc32c_is_castagnolis() {
    // RFC 3720 B.4 / the usual check value.
    assert_eq!(v2::crc32c(b"123456789"), 0xE306_9283);
    assert_eq!(v2::crc32c(&[0; 32]), 0x8A91_36AA);
}

#[test]
fn other_protocols_are_refused_at_their_first_byte() {
    for (input, accept) in [
        (&b"G"[..], Accept::Any),
        (b"GET / HTTP/1.1\r\n\r\n", Accept::Any),
        (b"\x16\x03\x01", Accept::Any),
        (b"\r\n\r\n\x00\r\nQUIX", Accept::Any),
        (b"PROXZ", Accept::Any),
        (b"proxy ", Accept::V1),
        (b"\r", Accept::V1),
        (b"P", Accept::V2),
    ] {
        assert_eq!(parse(input, accept), Err(Malformed::NotProxy), "{input:?}");
    }
    assert_eq!(parse(b"", Accept::Any), Ok(None));
    assert_eq!(parse(b"PRO", Accept::Any), Ok(None));
    assert_eq!(parse(b"\r\n\r\n\x00", Accept::Any), Ok(None));
}

#[test]
fn garbage_never_panics() {
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let starts: [&[u8]; 4] = [
        b"",
        b"PROXY ",
        &V2_SIGNATURE,
        &[&V2_SIGNATURE[..], &[0x21]].concat(),
    ];
    for round in 0..20_000 {
        let len = (next() % 300) as usize;
        let mut bytes = starts[round % starts.len()].to_vec();
        for _ in 0..len {
            // Mostly printable, sometimes anything: both parsers get exercised.
            let r = next();
            bytes.push(if r % 4 == 0 {
                r as u8
            } else {
                b" 0123456789.:abcdefTCPUNKOWX\r\n"[(r >> 8) as usize % 30]
            });
        }
        if round % 3 == 0 && bytes.len() >= 16 && bytes.starts_with(&V2_SIGNATURE) {
            // A length that fits the bytes, so the address and TLV code runs.
            let body = (bytes.len() - 16) as u16;
            bytes[14..16].copy_from_slice(&body.to_be_bytes());
        }
        for accept in [Accept::V1, Accept::V2, Accept::Any] {
            if let Ok(Some((_, n))) = parse(&bytes, accept) {
                assert!(n <= bytes.len());
                assert_eq!(parse(&bytes[..n - 1], accept), Ok(None));
            }
        }
    }
}

#[test]
fn peer_is_no_larger_than_the_address_it_replaced() {
    assert_eq!(
        std::mem::size_of::<Peer<'_>>(),
        std::mem::size_of::<Option<SocketAddr>>()
    );
}

/// Drives an HTTP connection behind a PROXY header over `input`, with `socket` as the socket
/// peer; the bytes written back and the last `Next`.
fn drive(input: &[u8], socket: &str) -> (Vec<u8>, Next) {
    let site = TestSite::new(Default::default());
    let ctx = Env {
        peer: Peer::Direct(Some(addr(socket))),
        ..site.env(1 << 20)
    };
    let mut proto = Protocol::behind_proxy(
        Accept::Any,
        Protocol::new(crate::config::ProtocolKind::Http),
    );
    let mut buf = crate::buffer::Buf::from_slice(input);
    let mut out = Output::new();
    let next = proto.on_data(&mut buf, &mut out, &ctx, &mut *site.app());
    let mut sent = Vec::new();
    out.drain_into(&mut sent);
    (sent, next)
}

fn json_body(sent: &[u8]) -> serde_json::Value {
    let at = sent.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    serde_json::from_slice(&sent[at..]).unwrap()
}

#[test]
fn http_behind_a_header_sees_the_client() {
    let req = b"GET /ip HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n";
    let (sent, next) = drive(
        &[&b"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n"[..], req].concat(),
        "127.0.0.1:5000",
    );
    assert_ne!(next, Next::Close);
    // No --trusted-proxies in this site: httpbin's own rule, X-Forwarded-For wins.
    assert_eq!(json_body(&sent)["origin"], "6.6.6.6");
    let req = b"GET /inspect HTTP/1.1\r\nHost: x\r\n\r\n";
    let (sent, _) = drive(
        &[&v2(1, 0x11, &v4_block())[..], req].concat(),
        "127.0.0.1:5000",
    );
    let j = json_body(&sent);
    assert_eq!(j["peer"], "127.0.0.1:5000", "peer stays the socket's");
    assert_eq!(
        j["proxy"],
        serde_json::json!({"version": 2, "command": "PROXY", "source": "192.0.2.1:56324",
            "destination": "198.51.100.7:443", "tlvs": 0, "client": "192.0.2.1:56324"})
    );
    let (sent, _) = drive(
        &[&v2(0, 0x00, &tlv(0x04, b"pad"))[..], req].concat(),
        "127.0.0.1:5000",
    );
    assert_eq!(
        json_body(&sent)["proxy"],
        serde_json::json!({"version": 2, "command": "LOCAL", "source": null,
            "destination": null, "tlvs": 1, "client": "127.0.0.1:5000"})
    );
}

#[test]
fn a_bad_or_partial_header_gets_no_answer() {
    let (sent, next) = drive(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "127.0.0.1:1");
    assert_eq!((sent.as_slice(), next), (&b""[..], Next::Close));
    let (sent, next) = drive(b"PROXY TCP4 1.2.3.4", "127.0.0.1:1");
    assert_eq!((sent.as_slice(), next), (&b""[..], Next::NeedInput));
}
