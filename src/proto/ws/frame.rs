//! WebSocket frames (RFC 6455 §5.2): a client frame's header read from the front of the
//! input, a server frame's header written, masking, and the close payload's rules.

/// Frame types (§5.2, §11.8); the other values are reserved and fail the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opcode {
    Continuation,
    Text,
    Binary,
    Close,
    Ping,
    Pong,
}

impl Opcode {
    fn from_bits(bits: u8) -> Option<Opcode> {
        Some(match bits {
            0x0 => Opcode::Continuation,
            0x1 => Opcode::Text,
            0x2 => Opcode::Binary,
            0x8 => Opcode::Close,
            0x9 => Opcode::Ping,
            0xA => Opcode::Pong,
            _ => return None,
        })
    }

    pub fn bits(self) -> u8 {
        match self {
            Opcode::Continuation => 0x0,
            Opcode::Text => 0x1,
            Opcode::Binary => 0x2,
            Opcode::Close => 0x8,
            Opcode::Ping => 0x9,
            Opcode::Pong => 0xA,
        }
    }

    pub fn is_control(self) -> bool {
        matches!(self, Opcode::Close | Opcode::Ping | Opcode::Pong)
    }
}

/// A client frame's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub fin: bool,
    /// RSV1: the message is compressed (permessage-deflate), on its first frame only.
    pub rsv1: bool,
    pub opcode: Opcode,
    pub mask: [u8; 4],
    pub len: u64,
    /// Bytes the header took.
    pub size: usize,
}

/// Why a header fails the connection (close code 1002, protocol error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Violation {
    /// RSV2 or RSV3 set (no extension defines them here).
    ReservedBits,
    ReservedOpcode,
    /// Client frames must be masked (§5.1).
    Unmasked,
    /// A control frame fragmented, or with more than 125 bytes (§5.5).
    BadControl,
    /// A 64-bit length with its top bit set (§5.2).
    BadLength,
}

/// Reads a header from the front of `buf`: `Ok(None)` until all of it is there.
///
/// # Errors
/// The [`Violation`] in it.
pub fn parse(buf: &[u8]) -> Result<Option<Header>, Violation> {
    let [b0, b1, ..] = *buf else {
        return Ok(None);
    };
    if b0 & 0x30 != 0 {
        return Err(Violation::ReservedBits);
    }
    let opcode = Opcode::from_bits(b0 & 0x0F).ok_or(Violation::ReservedOpcode)?;
    if b1 & 0x80 == 0 {
        return Err(Violation::Unmasked);
    }
    let fin = b0 & 0x80 != 0;
    let (len, at) = match b1 & 0x7F {
        126 => match buf.get(2..4) {
            Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
            None => return Ok(None),
        },
        127 => match buf.get(2..10) {
            Some(b) => {
                let len = u64::from_be_bytes(b.try_into().expect("8 bytes"));
                if len >> 63 != 0 {
                    return Err(Violation::BadLength);
                }
                (len, 10)
            }
            None => return Ok(None),
        },
        n => (u64::from(n), 2),
    };
    if opcode.is_control() && (!fin || len > 125) {
        return Err(Violation::BadControl);
    }
    let Some(mask) = buf.get(at..at + 4) else {
        return Ok(None);
    };
    Ok(Some(Header {
        fin,
        rsv1: b0 & 0x40 != 0,
        opcode,
        mask: mask.try_into().expect("4 bytes"),
        len,
        size: at + 4,
    }))
}

/// Unmasks `data`, which starts `offset` bytes into its frame's payload.
pub fn unmask(data: &mut [u8], mask: [u8; 4], offset: usize) {
    let mut key = [0u8; 4];
    for (i, k) in key.iter_mut().enumerate() {
        *k = mask[(offset + i) % 4];
    }
    // Eight bytes at a time: the mask repeats every four.
    let wide = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut chunks = data.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let v = u64::from_ne_bytes((&*chunk).try_into().expect("8 bytes")) ^ wide;
        chunk.copy_from_slice(&v.to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= key[i % 4];
    }
}

/// The largest server frame header: 2 bytes and a 64-bit length, unmasked.
pub const MAX_HEADER: usize = 10;

/// Writes a server frame's header (unmasked, §5.1) into the end of `out` (at most
/// [`MAX_HEADER`] bytes); returns how many bytes it took, counted from the end.
pub fn write_header(
    out: &mut [u8; MAX_HEADER],
    fin: bool,
    rsv1: bool,
    opcode: Opcode,
    len: usize,
) -> usize {
    let b0 = (u8::from(fin) << 7) | (u8::from(rsv1) << 6) | opcode.bits();
    let (size, b1) = match len {
        0..=125 => (2, len as u8),
        126..=0xFFFF => (4, 126),
        _ => (10, 127),
    };
    let start = MAX_HEADER - size;
    out[start] = b0;
    out[start + 1] = b1;
    match size {
        4 => out[start + 2..].copy_from_slice(&(len as u16).to_be_bytes()),
        10 => out[start + 2..].copy_from_slice(&(len as u64).to_be_bytes()),
        _ => {}
    }
    size
}

/// The header bytes [`write_header`] makes, as a slice.
pub fn header(fin: bool, rsv1: bool, opcode: Opcode, len: usize) -> ([u8; MAX_HEADER], usize) {
    let mut h = [0u8; MAX_HEADER];
    let size = write_header(&mut h, fin, rsv1, opcode, len);
    (h, MAX_HEADER - size)
}

/// A close code a peer may send (RFC 6455 §7.4): the defined ones that may be on the wire,
/// and the ranges for libraries and applications. 1004–1006 and 1015 never are; 1012–1014,
/// registered later, are refused as Autobahn's suite expects of an RFC 6455 endpoint.
pub fn close_code_ok(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1011 | 3000..=4999)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_of_each_length_form() {
        // RFC 6455 §5.7: a masked "Hello".
        let frame = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let h = parse(&frame).unwrap().unwrap();
        assert!(h.fin && !h.rsv1);
        assert_eq!((h.opcode, h.len, h.size), (Opcode::Text, 5, 6));
        let mut payload = frame[6..].to_vec();
        unmask(&mut payload, h.mask, 0);
        assert_eq!(payload, b"Hello");
        // Each prefix is incomplete, never an error.
        for n in 0..6 {
            assert_eq!(parse(&frame[..n]), Ok(None));
        }
        let long = [0x82, 0xFE, 0x01, 0x00, 1, 2, 3, 4];
        assert_eq!(parse(&long).unwrap().unwrap().len, 256);
        let huge = [0x82, 0xFF, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4];
        assert_eq!(parse(&huge).unwrap().unwrap().len, 1 << 32);
        let top = [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4];
        assert_eq!(parse(&top), Err(Violation::BadLength));
    }

    #[test]
    fn violations() {
        assert_eq!(parse(&[0x81, 0x05]), Err(Violation::Unmasked));
        assert_eq!(parse(&[0xA1, 0x80]), Err(Violation::ReservedBits));
        assert_eq!(parse(&[0x83, 0x80]), Err(Violation::ReservedOpcode));
        assert_eq!(parse(&[0x8B, 0x80]), Err(Violation::ReservedOpcode));
        assert_eq!(parse(&[0x09, 0x80]), Err(Violation::BadControl));
        assert_eq!(parse(&[0x89, 0xFE, 0, 126]), Err(Violation::BadControl));
        // RSV1 is read, and judged by the caller (only with permessage-deflate).
        assert!(parse(&[0xC1, 0x80, 0, 0, 0, 0]).unwrap().unwrap().rsv1);
    }

    #[test]
    fn unmask_at_any_offset_matches_bytewise() {
        let mask = [1, 2, 3, 250];
        let data: Vec<u8> = (0..100u8).collect();
        for offset in 0..8 {
            let mut fast = data.clone();
            unmask(&mut fast, mask, offset);
            let slow: Vec<u8> = data
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ mask[(offset + i) % 4])
                .collect();
            assert_eq!(fast, slow, "offset {offset}");
        }
    }

    #[test]
    fn server_headers() {
        let (h, at) = header(true, false, Opcode::Text, 5);
        assert_eq!(&h[at..], &[0x81, 5]);
        let (h, at) = header(false, true, Opcode::Binary, 300);
        assert_eq!(&h[at..], &[0x42, 126, 1, 44]);
        let (h, at) = header(true, false, Opcode::Binary, 70_000);
        assert_eq!(&h[at..], &[0x82, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]);
    }

    #[test]
    fn close_codes() {
        for ok in [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999,
        ] {
            assert!(close_code_ok(ok), "{ok}");
        }
        for bad in [
            0, 999, 1004, 1005, 1006, 1012, 1013, 1014, 1015, 1016, 1100, 2000, 2999, 5000,
        ] {
            assert!(!close_code_ok(bad), "{bad}");
        }
    }
}
