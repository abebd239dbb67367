//! A WebSocket client codec for the tests, written apart from the server's (RFC 6455 read
//! afresh): the opening handshake, masked client frames of any shape (including broken
//! ones, on purpose), and server frames read back whole.

use std::io::{self, Read, Write};
use std::time::Duration;

/// What the server sent: one frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Frame {
    pub fin: bool,
    pub rsv1: bool,
    pub opcode: u8,
    pub payload: Vec<u8>,
}

pub(crate) const TEXT: u8 = 1;
pub(crate) const BINARY: u8 = 2;
pub(crate) const CONTINUATION: u8 = 0;
pub(crate) const CLOSE: u8 = 8;
pub(crate) const PING: u8 = 9;
pub(crate) const PONG: u8 = 10;

/// The handshake request for `target`, with extra header lines.
pub(crate) fn handshake(target: &str, extra: &str) -> Vec<u8> {
    format!(
        "GET {target} HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
    .into_bytes()
}

/// Sends the handshake and reads the response head (and nothing after it); returns the head.
pub(crate) fn open<S: Read + Write>(s: &mut S, target: &str, extra: &str) -> io::Result<String> {
    s.write_all(&handshake(target, extra))?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if s.read(&mut byte)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "closed during the handshake",
            ));
        }
        head.push(byte[0]);
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

/// A client frame, masked with `mask` (or unmasked when `None`, which a server must refuse).
pub(crate) fn frame_bytes(
    fin: bool,
    rsv: u8,
    opcode: u8,
    payload: &[u8],
    mask: Option<[u8; 4]>,
) -> Vec<u8> {
    let mut out = vec![(u8::from(fin) << 7) | (rsv << 4) | opcode];
    let m = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => out.push(m | n as u8),
        n if n < 65536 => {
            out.push(m | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(m | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match mask {
        Some(key) => {
            out.extend_from_slice(&key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

/// A whole masked frame, as a client sends it.
pub(crate) fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame_bytes(fin, 0, opcode, payload, Some([0x9a, 0x13, 0x5c, 0xe7]))
}

/// Reads one server frame; checks it is unmasked.
pub(crate) fn read_frame<S: Read>(s: &mut S) -> io::Result<Frame> {
    let mut h = [0u8; 2];
    s.read_exact(&mut h)?;
    assert_eq!(h[1] & 0x80, 0, "a server frame must not be masked");
    assert_eq!(h[0] & 0x30, 0, "RSV2/RSV3 from the server");
    let len = match h[1] & 0x7f {
        126 => {
            let mut b = [0u8; 2];
            s.read_exact(&mut b)?;
            u64::from(u16::from_be_bytes(b))
        }
        127 => {
            let mut b = [0u8; 8];
            s.read_exact(&mut b)?;
            u64::from_be_bytes(b)
        }
        n => u64::from(n),
    };
    let mut payload = vec![0u8; usize::try_from(len).unwrap()];
    s.read_exact(&mut payload)?;
    Ok(Frame {
        fin: h[0] & 0x80 != 0,
        rsv1: h[0] & 0x40 != 0,
        opcode: h[0] & 0x0f,
        payload,
    })
}

/// Reads data frames until a whole message is in (answering nothing): (opcode, payload,
/// frames it came in). Control frames met on the way are returned in `controls`.
pub(crate) fn read_message<S: Read>(
    s: &mut S,
    controls: &mut Vec<Frame>,
) -> io::Result<(u8, Vec<u8>, usize)> {
    let mut opcode = None;
    let mut data = Vec::new();
    let mut frames = 0;
    loop {
        let f = read_frame(s)?;
        if f.opcode >= 8 {
            controls.push(f);
            if controls.last().unwrap().opcode == CLOSE {
                return Err(io::Error::other(format!(
                    "closed: {:?}",
                    close_code(&controls.last().unwrap().payload)
                )));
            }
            continue;
        }
        frames += 1;
        match (opcode, f.opcode) {
            (None, TEXT | BINARY) => opcode = Some(f.opcode),
            (Some(_), CONTINUATION) => {}
            other => panic!("frame order: {other:?}"),
        }
        data.extend_from_slice(&f.payload);
        if f.fin {
            return Ok((opcode.unwrap(), data, frames));
        }
    }
}

/// A close frame's code, if it has one.
pub(crate) fn close_code(payload: &[u8]) -> Option<u16> {
    (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]))
}

/// Reads until the server's close frame; its code. Data frames before it are skipped.
pub(crate) fn expect_close<S: Read>(s: &mut S) -> Option<u16> {
    loop {
        match read_frame(s) {
            Ok(f) if f.opcode == CLOSE => return close_code(&f.payload),
            Ok(_) => continue,
            Err(e) => panic!("no close frame: {e}"),
        }
    }
}

/// After the close frame the server closes the TCP connection: EOF (or a reset) within
/// `within`, with no byte before it.
pub(crate) fn expect_eof(s: &mut std::net::TcpStream, within: Duration) {
    s.set_read_timeout(Some(within)).unwrap();
    let mut b = [0u8; 64];
    match s.read(&mut b) {
        Ok(0) => {}
        Ok(n) => panic!("{n} bytes after the close frame: {:?}", &b[..n]),
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("the server did not close the connection: {e}"),
    }
}
