//! HTTP/2 frames (RFC 9113 §4, §6): the 9-byte frame header, the frame types and flags, error
//! codes, and writing the frames the server sends. Reading a frame's payload is left to the
//! connection, which knows what each type means in its state.

use crate::buffer::Buf;

/// The client's connection preface (RFC 9113 §3.4).
pub(crate) const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Every frame starts with this many bytes.
pub(crate) const HEADER_LEN: usize = 9;

/// SETTINGS_MAX_FRAME_SIZE's initial value, the largest frame either side may send until the
/// other allows more (RFC 9113 §6.5.2).
pub(crate) const DEFAULT_MAX_FRAME: u32 = 16_384;

/// The largest window either side may have (RFC 9113 §6.9.1).
pub(crate) const MAX_WINDOW: i64 = (1 << 31) - 1;

/// The window every stream and the connection start with (RFC 9113 §6.9.2).
pub(crate) const DEFAULT_WINDOW: i64 = 65_535;

/// Frame types (RFC 9113 §6).
pub(crate) mod kind {
    pub(crate) const DATA: u8 = 0x0;
    pub(crate) const HEADERS: u8 = 0x1;
    pub(crate) const PRIORITY: u8 = 0x2;
    pub(crate) const RST_STREAM: u8 = 0x3;
    pub(crate) const SETTINGS: u8 = 0x4;
    pub(crate) const PUSH_PROMISE: u8 = 0x5;
    pub(crate) const PING: u8 = 0x6;
    pub(crate) const GOAWAY: u8 = 0x7;
    pub(crate) const WINDOW_UPDATE: u8 = 0x8;
    pub(crate) const CONTINUATION: u8 = 0x9;
}

/// Frame flags (RFC 9113 §6).
pub(crate) mod flag {
    pub(crate) const END_STREAM: u8 = 0x1;
    pub(crate) const ACK: u8 = 0x1;
    pub(crate) const END_HEADERS: u8 = 0x4;
    pub(crate) const PADDED: u8 = 0x8;
    pub(crate) const PRIORITY: u8 = 0x20;
}

/// SETTINGS identifiers (RFC 9113 §6.5.2).
pub(crate) mod setting {
    pub(crate) const HEADER_TABLE_SIZE: u16 = 0x1;
    pub(crate) const ENABLE_PUSH: u16 = 0x2;
    pub(crate) const MAX_CONCURRENT_STREAMS: u16 = 0x3;
    pub(crate) const INITIAL_WINDOW_SIZE: u16 = 0x4;
    pub(crate) const MAX_FRAME_SIZE: u16 = 0x5;
    pub(crate) const MAX_HEADER_LIST_SIZE: u16 = 0x6;
}

/// Error codes (RFC 9113 §7), in their numeric order (`stats::H2_ERROR_CODES` labels them by
/// number). The whole table, codes this server never sends included.
#[allow(dead_code)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorCode {
    NoError = 0x0,
    ProtocolError = 0x1,
    InternalError = 0x2,
    FlowControlError = 0x3,
    SettingsTimeout = 0x4,
    StreamClosed = 0x5,
    FrameSizeError = 0x6,
    RefusedStream = 0x7,
    Cancel = 0x8,
    CompressionError = 0x9,
    ConnectError = 0xa,
    EnhanceYourCalm = 0xb,
    InadequateSecurity = 0xc,
    Http11Required = 0xd,
}

/// A frame's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FrameHeader {
    pub(crate) len: u32,
    pub(crate) kind: u8,
    pub(crate) flags: u8,
    /// The stream identifier, its reserved bit cleared (RFC 9113 §4.1: ignored on receipt).
    pub(crate) stream: u32,
}

impl FrameHeader {
    /// The header at the start of `bytes`, if all nine bytes are there.
    pub(crate) fn parse(bytes: &[u8]) -> Option<FrameHeader> {
        let h: &[u8; HEADER_LEN] = bytes.get(..HEADER_LEN)?.try_into().ok()?;
        Some(FrameHeader {
            len: u32::from_be_bytes([0, h[0], h[1], h[2]]),
            kind: h[3],
            flags: h[4],
            stream: u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff,
        })
    }

    pub(crate) fn has(self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// Appends a frame header.
pub(crate) fn write_header(out: &mut Buf, len: usize, kind: u8, flags: u8, stream: u32) {
    out.extend_from_slice(&header_bytes(len, kind, flags, stream));
}

/// A frame header's bytes.
pub(crate) fn header_bytes(len: usize, kind: u8, flags: u8, stream: u32) -> [u8; HEADER_LEN] {
    debug_assert!(len < 1 << 24, "a frame length fits 24 bits");
    let l = (len as u32).to_be_bytes();
    let s = (stream & 0x7fff_ffff).to_be_bytes();
    [l[1], l[2], l[3], kind, flags, s[0], s[1], s[2], s[3]]
}

/// Appends a SETTINGS frame of `(identifier, value)` pairs.
pub(crate) fn write_settings(out: &mut Buf, settings: &[(u16, u32)]) {
    write_header(out, settings.len() * 6, kind::SETTINGS, 0, 0);
    for &(id, value) in settings {
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&value.to_be_bytes());
    }
}

pub(crate) fn write_settings_ack(out: &mut Buf) {
    write_header(out, 0, kind::SETTINGS, flag::ACK, 0);
}

pub(crate) fn write_ping_ack(out: &mut Buf, payload: &[u8; 8]) {
    write_header(out, 8, kind::PING, flag::ACK, 0);
    out.extend_from_slice(payload);
}

pub(crate) fn write_rst_stream(out: &mut Buf, stream: u32, code: ErrorCode) {
    write_header(out, 4, kind::RST_STREAM, 0, stream);
    out.extend_from_slice(&(code as u32).to_be_bytes());
}

pub(crate) fn write_window_update(out: &mut Buf, stream: u32, increment: u32) {
    debug_assert!(increment > 0 && i64::from(increment) <= MAX_WINDOW);
    write_header(out, 4, kind::WINDOW_UPDATE, 0, stream);
    out.extend_from_slice(&increment.to_be_bytes());
}

/// Appends a GOAWAY with `debug` as its opaque data (a short reason, for the peer's logs).
pub(crate) fn write_goaway(out: &mut Buf, last_stream: u32, code: ErrorCode, debug: &[u8]) {
    write_header(out, 8 + debug.len(), kind::GOAWAY, 0, 0);
    out.extend_from_slice(&(last_stream & 0x7fff_ffff).to_be_bytes());
    out.extend_from_slice(&(code as u32).to_be_bytes());
    out.extend_from_slice(debug);
}

/// A 4-byte big-endian value at the start of a payload known to have it.
pub(crate) fn u32_at(payload: &[u8], at: usize) -> u32 {
    match payload.get(at..at + 4) {
        Some(&[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_and_clear_the_reserved_bit() {
        let bytes = header_bytes(0x12_3456, kind::HEADERS, flag::END_HEADERS, 0x8000_0003);
        assert_eq!(bytes, [0x12, 0x34, 0x56, 1, 4, 0, 0, 0, 3]);
        let mut reserved = bytes;
        reserved[5] |= 0x80;
        let h = FrameHeader::parse(&reserved).unwrap();
        assert_eq!((h.len, h.kind, h.flags, h.stream), (0x12_3456, 1, 4, 3));
        assert!(h.has(flag::END_HEADERS) && !h.has(flag::END_STREAM));
        assert_eq!(FrameHeader::parse(&bytes[..8]), None);
    }

    #[test]
    fn control_frames_are_laid_out_as_the_rfc_says() {
        let mut out = Buf::new();
        write_goaway(&mut out, 7, ErrorCode::EnhanceYourCalm, b"flood");
        assert_eq!(
            out.filled(),
            &[0, 0, 13, 7, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0xb, b'f', b'l', b'o', b'o', b'd']
        );
        let mut out = Buf::new();
        write_settings(&mut out, &[(setting::MAX_CONCURRENT_STREAMS, 100)]);
        assert_eq!(
            out.filled(),
            &[0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 100]
        );
        assert_eq!(u32_at(&[0, 0, 1, 0], 0), 256);
        assert_eq!(u32_at(&[0, 0, 1], 0), 0);
        assert_eq!(
            ErrorCode::Http11Required as usize + 1,
            crate::stats::H2_ERROR_CODES.len()
        );
        assert_eq!(
            crate::stats::H2_ERROR_CODES[ErrorCode::EnhanceYourCalm as usize],
            "enhance_your_calm"
        );
    }
}
