//! An HTTP/2 client codec for the tests, written apart from the server's (RFC 9113 read
//! afresh; HPACK from the `fluke-hpack` crate, never the server's): every frame type encoded
//! and decoded, malformed bytes sent raw on purpose, HPACK blocks built by hand (invalid ones
//! too), and a blocking connection over TCP or TLS (h2c by prior knowledge, `Upgrade: h2c`,
//! ALPN `h2`) whose every read is bounded, so no test can hang on a silent server.
//!
//! The connection keeps the state a client must keep whatever a test does: one HPACK decoder
//! fed every header block in order, windows both ways, SETTINGS and PING acknowledged, and a
//! record per stream of what arrived (headers, body, reset), whichever call read the frame.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use base64::Engine;

use super::tls;

pub(crate) const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

// Frame types (RFC 9113 §6).
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

// Flags.
pub(crate) const END_STREAM: u8 = 0x1;
pub(crate) const ACK: u8 = 0x1;
pub(crate) const END_HEADERS: u8 = 0x4;
pub(crate) const PADDED: u8 = 0x8;
pub(crate) const PRIORITY_FLAG: u8 = 0x20;

// Error codes (§7).
pub(crate) const NO_ERROR: u32 = 0x0;
pub(crate) const PROTOCOL_ERROR: u32 = 0x1;
pub(crate) const INTERNAL_ERROR: u32 = 0x2;
pub(crate) const FLOW_CONTROL_ERROR: u32 = 0x3;
pub(crate) const SETTINGS_TIMEOUT: u32 = 0x4;
pub(crate) const STREAM_CLOSED: u32 = 0x5;
pub(crate) const FRAME_SIZE_ERROR: u32 = 0x6;
pub(crate) const REFUSED_STREAM: u32 = 0x7;
pub(crate) const CANCEL: u32 = 0x8;
pub(crate) const COMPRESSION_ERROR: u32 = 0x9;
pub(crate) const CONNECT_ERROR: u32 = 0xa;
pub(crate) const ENHANCE_YOUR_CALM: u32 = 0xb;
pub(crate) const INADEQUATE_SECURITY: u32 = 0xc;
pub(crate) const HTTP_1_1_REQUIRED: u32 = 0xd;

// Settings (§6.5.2).
pub(crate) const SETTINGS_HEADER_TABLE_SIZE: u16 = 0x1;
pub(crate) const SETTINGS_ENABLE_PUSH: u16 = 0x2;
pub(crate) const SETTINGS_MAX_CONCURRENT_STREAMS: u16 = 0x3;
pub(crate) const SETTINGS_INITIAL_WINDOW_SIZE: u16 = 0x4;
pub(crate) const SETTINGS_MAX_FRAME_SIZE: u16 = 0x5;
pub(crate) const SETTINGS_MAX_HEADER_LIST_SIZE: u16 = 0x6;

/// The protocol's defaults (§6.5.2, §6.9.2).
pub(crate) const DEFAULT_WINDOW: u32 = 65_535;
pub(crate) const DEFAULT_MAX_FRAME: u32 = 16_384;

/// How long one read may wait, unless a test sets `Conn::timeout`.
pub(crate) const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// A name for an error code, for messages.
pub(crate) fn code_name(code: u32) -> &'static str {
    const NAMES: [&str; 14] = [
        "NO_ERROR",
        "PROTOCOL_ERROR",
        "INTERNAL_ERROR",
        "FLOW_CONTROL_ERROR",
        "SETTINGS_TIMEOUT",
        "STREAM_CLOSED",
        "FRAME_SIZE_ERROR",
        "REFUSED_STREAM",
        "CANCEL",
        "COMPRESSION_ERROR",
        "CONNECT_ERROR",
        "ENHANCE_YOUR_CALM",
        "INADEQUATE_SECURITY",
        "HTTP_1_1_REQUIRED",
    ];
    NAMES.get(code as usize).copied().unwrap_or("unknown")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Priority {
    pub exclusive: bool,
    pub depends_on: u32,
    /// The wire value: the weight minus one.
    pub weight: u8,
}

impl Priority {
    fn encode(&self, out: &mut Vec<u8>) {
        let dep = (self.depends_on & 0x7fff_ffff) | if self.exclusive { 1 << 31 } else { 0 };
        out.extend_from_slice(&dep.to_be_bytes());
        out.push(self.weight);
    }

    fn decode(b: &[u8]) -> Priority {
        let dep = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        Priority {
            exclusive: dep & (1 << 31) != 0,
            depends_on: dep & 0x7fff_ffff,
            weight: b[4],
        }
    }
}

/// One frame. `pad: Some(n)` is the PADDED flag with `n` bytes of padding (zeros when sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Frame {
    Data {
        stream: u32,
        data: Vec<u8>,
        end_stream: bool,
        pad: Option<u8>,
    },
    Headers {
        stream: u32,
        block: Vec<u8>,
        end_stream: bool,
        end_headers: bool,
        priority: Option<Priority>,
        pad: Option<u8>,
    },
    Priority {
        stream: u32,
        priority: Priority,
    },
    RstStream {
        stream: u32,
        code: u32,
    },
    Settings {
        ack: bool,
        params: Vec<(u16, u32)>,
    },
    /// Decoded only: a client never sends one.
    PushPromise {
        stream: u32,
        promised: u32,
        block: Vec<u8>,
        end_headers: bool,
        pad: Option<u8>,
    },
    Ping {
        ack: bool,
        data: [u8; 8],
    },
    GoAway {
        last_stream: u32,
        code: u32,
        debug: Vec<u8>,
    },
    WindowUpdate {
        stream: u32,
        increment: u32,
    },
    Continuation {
        stream: u32,
        block: Vec<u8>,
        end_headers: bool,
    },
    Unknown {
        kind: u8,
        flags: u8,
        stream: u32,
        payload: Vec<u8>,
    },
}

/// A frame from its parts, as they go on the wire: the 9-byte header (the stream id's
/// reserved bit included, for tests that set it) and the payload, whatever it holds.
pub(crate) fn raw_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len();
    assert!(len < 1 << 24, "a frame's length has 24 bits");
    let mut out = Vec::with_capacity(9 + len);
    out.extend_from_slice(&(len as u32).to_be_bytes()[1..]);
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// A SETTINGS payload (also what `HTTP2-Settings` carries, base64url-encoded).
pub(crate) fn settings_payload(params: &[(u16, u32)]) -> Vec<u8> {
    let mut p = Vec::with_capacity(params.len() * 6);
    for (id, value) in params {
        p.extend_from_slice(&id.to_be_bytes());
        p.extend_from_slice(&value.to_be_bytes());
    }
    p
}

fn padded(pad: Option<u8>, body: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut p = Vec::new();
    if let Some(n) = pad {
        p.push(n);
    }
    body(&mut p);
    if let Some(n) = pad {
        p.resize(p.len() + n as usize, 0);
    }
    p
}

impl Frame {
    /// The frame's stream id (0 for connection frames).
    pub(crate) fn stream(&self) -> u32 {
        match self {
            Frame::Data { stream, .. }
            | Frame::Headers { stream, .. }
            | Frame::Priority { stream, .. }
            | Frame::RstStream { stream, .. }
            | Frame::PushPromise { stream, .. }
            | Frame::WindowUpdate { stream, .. }
            | Frame::Continuation { stream, .. }
            | Frame::Unknown { stream, .. } => *stream,
            Frame::Settings { .. } | Frame::Ping { .. } | Frame::GoAway { .. } => 0,
        }
    }

    /// What a DATA frame counts against flow control: its whole payload, padding included
    /// (§6.9.1); 0 for other frames.
    pub(crate) fn flow_len(&self) -> usize {
        match self {
            Frame::Data { data, pad, .. } => data.len() + pad.map_or(0, |n| 1 + n as usize),
            _ => 0,
        }
    }

    /// The frame on the wire.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let pad_flag = |pad: &Option<u8>| if pad.is_some() { PADDED } else { 0 };
        match self {
            Frame::Data {
                stream,
                data,
                end_stream,
                pad,
            } => {
                let flags = pad_flag(pad) | if *end_stream { END_STREAM } else { 0 };
                let p = padded(*pad, |p| p.extend_from_slice(data));
                raw_frame(DATA, flags, *stream, &p)
            }
            Frame::Headers {
                stream,
                block,
                end_stream,
                end_headers,
                priority,
                pad,
            } => {
                let flags = pad_flag(pad)
                    | if *end_stream { END_STREAM } else { 0 }
                    | if *end_headers { END_HEADERS } else { 0 }
                    | if priority.is_some() { PRIORITY_FLAG } else { 0 };
                let p = padded(*pad, |p| {
                    if let Some(pr) = priority {
                        pr.encode(p);
                    }
                    p.extend_from_slice(block);
                });
                raw_frame(HEADERS, flags, *stream, &p)
            }
            Frame::Priority { stream, priority } => {
                let mut p = Vec::new();
                priority.encode(&mut p);
                raw_frame(PRIORITY, 0, *stream, &p)
            }
            Frame::RstStream { stream, code } => {
                raw_frame(RST_STREAM, 0, *stream, &code.to_be_bytes())
            }
            Frame::Settings { ack, params } => raw_frame(
                SETTINGS,
                if *ack { ACK } else { 0 },
                0,
                &settings_payload(params),
            ),
            Frame::PushPromise {
                stream,
                promised,
                block,
                end_headers,
                pad,
            } => {
                let flags = pad_flag(pad) | if *end_headers { END_HEADERS } else { 0 };
                let p = padded(*pad, |p| {
                    p.extend_from_slice(&promised.to_be_bytes());
                    p.extend_from_slice(block);
                });
                raw_frame(PUSH_PROMISE, flags, *stream, &p)
            }
            Frame::Ping { ack, data } => raw_frame(PING, if *ack { ACK } else { 0 }, 0, data),
            Frame::GoAway {
                last_stream,
                code,
                debug,
            } => {
                let mut p = last_stream.to_be_bytes().to_vec();
                p.extend_from_slice(&code.to_be_bytes());
                p.extend_from_slice(debug);
                raw_frame(GOAWAY, 0, 0, &p)
            }
            Frame::WindowUpdate { stream, increment } => {
                raw_frame(WINDOW_UPDATE, 0, *stream, &increment.to_be_bytes())
            }
            Frame::Continuation {
                stream,
                block,
                end_headers,
            } => raw_frame(
                CONTINUATION,
                if *end_headers { END_HEADERS } else { 0 },
                *stream,
                block,
            ),
            Frame::Unknown {
                kind,
                flags,
                stream,
                payload,
            } => raw_frame(*kind, *flags, *stream, payload),
        }
    }

    /// A frame from its header's fields and payload; an error names what a peer got wrong
    /// (a length the type forbids, padding longer than the payload).
    pub(crate) fn decode(
        kind: u8,
        flags: u8,
        stream: u32,
        payload: &[u8],
    ) -> Result<Frame, String> {
        let stream = stream & 0x7fff_ffff;
        let unpad = |payload: &[u8]| -> Result<(Vec<u8>, Option<u8>), String> {
            if flags & PADDED == 0 {
                return Ok((payload.to_vec(), None));
            }
            let n = *payload.first().ok_or("PADDED with an empty payload")?;
            let rest = &payload[1..];
            if n as usize > rest.len() {
                return Err(format!("padding {n} > payload {}", rest.len()));
            }
            Ok((rest[..rest.len() - n as usize].to_vec(), Some(n)))
        };
        let exact = |want: usize| {
            if payload.len() == want {
                Ok(())
            } else {
                Err(format!(
                    "frame type {kind} of length {} (must be {want})",
                    payload.len()
                ))
            }
        };
        let u32_at = |b: &[u8], i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        Ok(match kind {
            DATA => {
                let (data, pad) = unpad(payload)?;
                Frame::Data {
                    stream,
                    data,
                    end_stream: flags & END_STREAM != 0,
                    pad,
                }
            }
            HEADERS => {
                let (mut block, pad) = unpad(payload)?;
                let priority = if flags & PRIORITY_FLAG != 0 {
                    if block.len() < 5 {
                        return Err("HEADERS with PRIORITY shorter than 5 bytes".into());
                    }
                    let p = Priority::decode(&block[..5]);
                    block.drain(..5);
                    Some(p)
                } else {
                    None
                };
                Frame::Headers {
                    stream,
                    block,
                    end_stream: flags & END_STREAM != 0,
                    end_headers: flags & END_HEADERS != 0,
                    priority,
                    pad,
                }
            }
            PRIORITY => {
                exact(5)?;
                Frame::Priority {
                    stream,
                    priority: Priority::decode(payload),
                }
            }
            RST_STREAM => {
                exact(4)?;
                Frame::RstStream {
                    stream,
                    code: u32_at(payload, 0),
                }
            }
            SETTINGS => {
                if !payload.len().is_multiple_of(6) {
                    return Err(format!("SETTINGS of length {}", payload.len()));
                }
                if flags & ACK != 0 && !payload.is_empty() {
                    return Err("SETTINGS ACK with a payload".into());
                }
                Frame::Settings {
                    ack: flags & ACK != 0,
                    params: payload
                        .chunks(6)
                        .map(|c| (u16::from_be_bytes([c[0], c[1]]), u32_at(c, 2)))
                        .collect(),
                }
            }
            PUSH_PROMISE => {
                let (rest, pad) = unpad(payload)?;
                if rest.len() < 4 {
                    return Err("PUSH_PROMISE shorter than 4 bytes".into());
                }
                Frame::PushPromise {
                    stream,
                    promised: u32_at(&rest, 0) & 0x7fff_ffff,
                    block: rest[4..].to_vec(),
                    end_headers: flags & END_HEADERS != 0,
                    pad,
                }
            }
            PING => {
                exact(8)?;
                Frame::Ping {
                    ack: flags & ACK != 0,
                    data: payload.try_into().unwrap(),
                }
            }
            GOAWAY => {
                if payload.len() < 8 {
                    return Err(format!("GOAWAY of length {}", payload.len()));
                }
                Frame::GoAway {
                    last_stream: u32_at(payload, 0) & 0x7fff_ffff,
                    code: u32_at(payload, 4),
                    debug: payload[8..].to_vec(),
                }
            }
            WINDOW_UPDATE => {
                exact(4)?;
                Frame::WindowUpdate {
                    stream,
                    increment: u32_at(payload, 0) & 0x7fff_ffff,
                }
            }
            CONTINUATION => Frame::Continuation {
                stream,
                block: payload.to_vec(),
                end_headers: flags & END_HEADERS != 0,
            },
            _ => Frame::Unknown {
                kind,
                flags,
                stream,
                payload: payload.to_vec(),
            },
        })
    }

    /// Decodes one whole frame from the front of `buf`: the frame and the bytes it took, or
    /// `None` while `buf` holds less than a frame.
    pub(crate) fn parse(buf: &[u8]) -> Option<Result<(Frame, usize), String>> {
        if buf.len() < 9 {
            return None;
        }
        let len = u32::from_be_bytes([0, buf[0], buf[1], buf[2]]) as usize;
        if buf.len() < 9 + len {
            return None;
        }
        let stream = u32::from_be_bytes([buf[5], buf[6], buf[7], buf[8]]);
        Some(Frame::decode(buf[3], buf[4], stream, &buf[9..9 + len]).map(|f| (f, 9 + len)))
    }
}

/// An HPACK block built by hand, representation by representation (RFC 7541 §6), with no
/// dynamic-table state of its own: what it says is exactly what goes on the wire, so a test
/// can write invalid blocks (an index past the table, a truncated integer, a bad size update).
#[derive(Debug, Clone, Default)]
pub(crate) struct Block(pub Vec<u8>);

impl Block {
    pub(crate) fn new() -> Block {
        Block(Vec::new())
    }

    /// An integer with an `n`-bit prefix, the first byte's other bits set to `first` (§5.1).
    pub(crate) fn int(mut self, first: u8, n: u8, mut value: usize) -> Block {
        let max = (1usize << n) - 1;
        if value < max {
            self.0.push(first | value as u8);
            return self;
        }
        self.0.push(first | max as u8);
        value -= max;
        while value >= 128 {
            self.0.push((value % 128) as u8 | 0x80);
            value /= 128;
        }
        self.0.push(value as u8);
        self
    }

    /// A string literal, not Huffman-coded (§5.2).
    pub(crate) fn string(self, s: &[u8]) -> Block {
        let mut b = self.int(0, 7, s.len());
        b.0.extend_from_slice(s);
        b
    }

    /// An indexed field (§6.1): index 2 is `:method: GET`, 4 `:path: /`, 6 `:scheme: http`.
    pub(crate) fn indexed(self, index: usize) -> Block {
        self.int(0x80, 7, index)
    }

    /// A literal with a new name, without indexing (§6.2.2): leaves the table alone.
    pub(crate) fn literal(self, name: &[u8], value: &[u8]) -> Block {
        self.int(0x00, 4, 0).string(name).string(value)
    }

    /// A literal with a new name, with incremental indexing (§6.2.1): enters the table.
    pub(crate) fn literal_indexed(self, name: &[u8], value: &[u8]) -> Block {
        self.int(0x40, 6, 0).string(name).string(value)
    }

    /// A literal whose name is table entry `index`, without indexing.
    pub(crate) fn literal_name_ref(self, index: usize, value: &[u8]) -> Block {
        self.int(0x00, 4, index).string(value)
    }

    /// A dynamic table size update (§6.3).
    pub(crate) fn size_update(self, size: usize) -> Block {
        self.int(0x20, 5, size)
    }

    /// Bytes as they are.
    pub(crate) fn raw(mut self, bytes: &[u8]) -> Block {
        self.0.extend_from_slice(bytes);
        self
    }

    /// `GET path` over http for authority `localhost`, all from the static table and
    /// literals without indexing: a valid request block that changes no table.
    pub(crate) fn get(path: &str) -> Block {
        Block::new()
            .indexed(2)
            .indexed(6)
            .literal_name_ref(1, b"localhost")
            .literal_name_ref(4, path.as_bytes())
    }
}

/// Whatever the connection runs over.
pub(crate) enum Transport {
    Plain(TcpStream),
    Tls(Box<tls::TlsStream>),
}

impl Transport {
    fn tcp(&self) -> &TcpStream {
        match self {
            Transport::Plain(s) => s,
            Transport::Tls(s) => &s.sock,
        }
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.read(buf),
            Transport::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.write(buf),
            Transport::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(s) => s.flush(),
            Transport::Tls(s) => s.flush(),
        }
    }
}

/// What arrived on one stream, whichever call read it.
#[derive(Debug, Default, Clone)]
pub(crate) struct StreamState {
    /// Every decoded header block in order: informational (1xx), final, trailers.
    pub blocks: Vec<Vec<(String, String)>>,
    pub body: Vec<u8>,
    pub data_frames: usize,
    /// The largest DATA payload (padding included) seen on it.
    pub largest_data: usize,
    /// END_STREAM seen.
    pub ended: bool,
    /// The code of an RST_STREAM from the server.
    pub reset: Option<u32>,
}

/// One response, whole.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub trailers: Vec<(String, String)>,
    pub stream_id: u32,
}

impl Response {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn body_str(&self) -> &str {
        std::str::from_utf8(&self.body).expect("a UTF-8 body")
    }
}

/// Why a response did not come.
#[derive(Debug)]
pub(crate) enum H2Error {
    Io(io::Error),
    /// The server reset the stream with this code.
    Reset(u32),
    /// The server sent GOAWAY (last stream id, code, debug) and the stream was not finished.
    GoAway(u32, u32, String),
    /// The server broke the protocol (a malformed frame, an undecodable block).
    Protocol(String),
}

impl From<io::Error> for H2Error {
    fn from(e: io::Error) -> H2Error {
        H2Error::Io(e)
    }
}

/// How a connection ended, for tests that accept more than one ending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ending {
    /// GOAWAY (last stream id, code, debug) then EOF or a reset.
    GoAway(u32, u32, String),
    /// EOF with no GOAWAY before it.
    Closed,
    /// A TCP reset (possibly having destroyed a GOAWAY in our receive buffer).
    Reset,
}

/// One HTTP/2 connection, client side.
pub(crate) struct Conn {
    io: Transport,
    rbuf: Vec<u8>,
    /// The HPACK encoder for `send_headers` (stateful: what it indexes, the server must too).
    pub encoder: fluke_hpack::Encoder<'static>,
    decoder: fluke_hpack::Decoder<'static>,
    /// The id `start_request` takes next.
    pub next_stream: u32,
    /// The bound on each read (a whole frame must arrive within it).
    pub timeout: Duration,
    /// ":scheme" for `request`.
    pub scheme: &'static str,
    /// The protocol ALPN chose, over TLS.
    pub alpn: Option<Vec<u8>>,
    /// Every parameter of every SETTINGS the server sent, in order.
    pub server_settings: Vec<(u16, u32)>,
    /// SETTINGS ACKs received.
    pub settings_acks: usize,
    /// PING ACK payloads received.
    pub pings_acked: Vec<[u8; 8]>,
    pub peer_max_frame: u32,
    pub peer_initial_window: u32,
    pub peer_max_concurrent: Option<u32>,
    /// What we may still send: on the connection, and per stream (absent: the initial).
    pub send_window: i64,
    pub stream_send: HashMap<u32, i64>,
    /// What the server may still send us.
    pub recv_window: i64,
    pub stream_recv: HashMap<u32, i64>,
    /// Our SETTINGS_INITIAL_WINDOW_SIZE and SETTINGS_MAX_FRAME_SIZE, as we announced them.
    pub our_initial_window: u32,
    pub our_max_frame: u32,
    /// Give back every DATA byte at once with WINDOW_UPDATEs (on by default).
    pub auto_window: bool,
    /// Answer PINGs (on by default).
    pub auto_ping: bool,
    /// Where the server broke a rule we check on receipt: more DATA than a window allowed,
    /// a frame over our SETTINGS_MAX_FRAME_SIZE, a frame between HEADERS and its
    /// CONTINUATION. Tests assert it stays empty.
    pub violations: Vec<String>,
    pub streams: HashMap<u32, StreamState>,
    /// The server's GOAWAY, once seen.
    pub goaway: Option<(u32, u32, String)>,
    /// A header block still waiting for its CONTINUATION: stream, bytes, END_STREAM.
    partial_block: Option<(u32, Vec<u8>, bool)>,
    /// Frames read, all of them.
    pub frames_read: usize,
}

/// Connects over plain TCP (h2c by prior knowledge; call `handshake` next).
pub(crate) fn connect_prior_knowledge(addr: SocketAddr) -> Conn {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_nodelay(true).unwrap();
    Conn::new(Transport::Plain(s), "http")
}

/// Prior knowledge and the handshake with no settings: ready for requests.
pub(crate) fn open(addr: SocketAddr) -> Conn {
    let mut c = connect_prior_knowledge(addr);
    c.handshake(&[]).expect("HTTP/2 handshake");
    c
}

/// `GET path` as HTTP/1.1 with `Upgrade: h2c` and `settings` in `HTTP2-Settings`; reads the
/// head of the answer, which must be 101. Then stream 1 is the request's (half-closed on our
/// side; its response comes on it) and the server's preface follows: call `handshake`.
/// Returns the connection and the 101's head.
pub(crate) fn connect_upgrade(
    addr: SocketAddr,
    path: &str,
    settings: &[(u16, u32)],
) -> (Conn, String) {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_nodelay(true).unwrap();
    let mut c = Conn::new(Transport::Plain(s), "http");
    let encoded =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(settings_payload(settings));
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade, HTTP2-Settings\r\n\
         Upgrade: h2c\r\nHTTP2-Settings: {encoded}\r\n\r\n"
    );
    c.io.write_all(req.as_bytes())
        .expect("send the upgrade request");
    let head = c
        .read_http1_head()
        .expect("the answer to the upgrade request");
    assert!(
        head.starts_with("HTTP/1.1 101"),
        "no 101 to Upgrade: h2c: {head:?}"
    );
    c.apply_our_settings(settings);
    c.next_stream = 3;
    c.streams.insert(1, StreamState::default());
    (c, head)
}

/// TLS with ALPN `h2` (and `http/1.1` after it), trusting `ca_pem`, for `localhost`. The
/// protocol chosen is in `Conn::alpn`; call `handshake` next.
pub(crate) fn connect_tls(addr: SocketAddr, ca_pem: &str) -> Conn {
    let options = tls::ClientOptions {
        alpn: vec![b"h2", b"http/1.1"],
        ..Default::default()
    };
    let config = tls::client_config(ca_pem, &options);
    let s = tls::connect(addr, &config, "localhost").expect("TLS handshake");
    s.sock.set_nodelay(true).unwrap();
    let alpn = s.conn.alpn_protocol().map(<[u8]>::to_vec);
    let mut c = Conn::new(Transport::Tls(Box::new(s)), "https");
    c.alpn = alpn;
    c
}

impl Conn {
    pub(crate) fn new(io: Transport, scheme: &'static str) -> Conn {
        io.tcp()
            .set_write_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        Conn {
            io,
            rbuf: Vec::new(),
            encoder: fluke_hpack::Encoder::new(),
            decoder: fluke_hpack::Decoder::new(),
            next_stream: 1,
            timeout: READ_TIMEOUT,
            scheme,
            alpn: None,
            server_settings: Vec::new(),
            settings_acks: 0,
            pings_acked: Vec::new(),
            peer_max_frame: DEFAULT_MAX_FRAME,
            peer_initial_window: DEFAULT_WINDOW,
            peer_max_concurrent: None,
            send_window: i64::from(DEFAULT_WINDOW),
            stream_send: HashMap::new(),
            recv_window: i64::from(DEFAULT_WINDOW),
            stream_recv: HashMap::new(),
            our_initial_window: DEFAULT_WINDOW,
            our_max_frame: DEFAULT_MAX_FRAME,
            auto_window: true,
            auto_ping: true,
            violations: Vec::new(),
            streams: HashMap::new(),
            goaway: None,
            partial_block: None,
            frames_read: 0,
        }
    }

    /// The TCP socket under it, cloned: for a second thread that writes while this one reads
    /// (plain connections; over TLS the bytes would need the TLS state).
    pub(crate) fn tcp_clone(&self) -> TcpStream {
        assert!(matches!(self.io, Transport::Plain(_)), "plain TCP only");
        self.io.tcp().try_clone().unwrap()
    }

    /// Reads an HTTP/1.1 response head; bytes after it stay for the frames.
    fn read_http1_head(&mut self) -> io::Result<String> {
        let deadline = Instant::now() + self.timeout;
        loop {
            if let Some(i) = self.rbuf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.rbuf[..i + 4]).into_owned();
                self.rbuf.drain(..i + 4);
                return Ok(head);
            }
            self.fill(deadline)?;
        }
    }

    fn apply_our_settings(&mut self, settings: &[(u16, u32)]) {
        for &(id, value) in settings {
            match id {
                SETTINGS_INITIAL_WINDOW_SIZE => {
                    let delta = i64::from(value) - i64::from(self.our_initial_window);
                    for w in self.stream_recv.values_mut() {
                        *w += delta;
                    }
                    self.our_initial_window = value;
                }
                SETTINGS_MAX_FRAME_SIZE => self.our_max_frame = value,
                _ => {}
            }
        }
    }

    /// Writes bytes as they are: a preface, a malformed frame, half a frame.
    pub(crate) fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.io.write_all(bytes)?;
        self.io.flush()
    }

    pub(crate) fn send_frame(&mut self, frame: &Frame) -> io::Result<()> {
        self.send_raw(&frame.encode())
    }

    /// The client preface and our SETTINGS (`settings`: what to announce, possibly nothing);
    /// then reads until the server's SETTINGS (which must come first, §3.4) is in and acked
    /// and ours is acknowledged.
    pub(crate) fn handshake(&mut self, settings: &[(u16, u32)]) -> Result<(), H2Error> {
        let mut out = PREFACE.to_vec();
        out.extend(
            Frame::Settings {
                ack: false,
                params: settings.to_vec(),
            }
            .encode(),
        );
        self.send_raw(&out)?;
        self.apply_our_settings(settings);
        let first = self.read_frame()?;
        if !matches!(first, Frame::Settings { ack: false, .. }) {
            return Err(H2Error::Protocol(format!(
                "the server's preface is not SETTINGS: {first:?}"
            )));
        }
        while self.settings_acks == 0 {
            if let Frame::GoAway {
                last_stream,
                code,
                debug,
            } = self.read_frame()?
            {
                return Err(H2Error::GoAway(
                    last_stream,
                    code,
                    String::from_utf8_lossy(&debug).into_owned(),
                ));
            }
        }
        Ok(())
    }

    /// The value of a setting the server sent last, if it sent it.
    pub(crate) fn server_setting(&self, id: u16) -> Option<u32> {
        self.server_settings
            .iter()
            .rev()
            .find(|(i, _)| *i == id)
            .map(|(_, v)| *v)
    }

    fn fill(&mut self, deadline: Instant) -> io::Result<()> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "read timed out"));
        }
        self.io.tcp().set_read_timeout(Some(left))?;
        let mut buf = [0u8; 65536];
        match self.io.read(&mut buf) {
            Ok(0) => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "EOF")),
            Ok(n) => {
                self.rbuf.extend_from_slice(&buf[..n]);
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                Err(io::Error::new(io::ErrorKind::TimedOut, "read timed out"))
            }
            Err(e) => Err(e),
        }
    }

    /// Reads one frame (within `timeout`) and keeps the connection's state with it: HPACK,
    /// windows, the streams' records, ACKs and WINDOW_UPDATEs sent back as set.
    pub(crate) fn read_frame(&mut self) -> Result<Frame, H2Error> {
        let deadline = Instant::now() + self.timeout;
        let frame = loop {
            match Frame::parse(&self.rbuf) {
                Some(Ok((frame, used))) => {
                    let len = used - 9;
                    if len > self.our_max_frame as usize {
                        self.violations.push(format!(
                            "a frame of {len} bytes over our max frame size {}",
                            self.our_max_frame
                        ));
                    }
                    self.rbuf.drain(..used);
                    break frame;
                }
                Some(Err(e)) => return Err(H2Error::Protocol(e)),
                None => self.fill(deadline)?,
            }
        };
        self.frames_read += 1;
        self.observe(&frame)?;
        Ok(frame)
    }

    fn stream(&mut self, id: u32) -> &mut StreamState {
        self.streams.entry(id).or_default()
    }

    fn decode_block(&mut self, stream: u32, block: &[u8], end_stream: bool) -> Result<(), H2Error> {
        let fields = self
            .decoder
            .decode(block)
            .map_err(|e| H2Error::Protocol(format!("HPACK block on stream {stream}: {e:?}")))?;
        let fields = fields
            .into_iter()
            .map(|(n, v)| {
                (
                    String::from_utf8_lossy(&n).into_owned(),
                    String::from_utf8_lossy(&v).into_owned(),
                )
            })
            .collect();
        let s = self.stream(stream);
        s.blocks.push(fields);
        s.ended |= end_stream;
        Ok(())
    }

    fn observe(&mut self, frame: &Frame) -> Result<(), H2Error> {
        if let Some((waiting, _, _)) = &self.partial_block {
            let ok = matches!(frame, Frame::Continuation { stream, .. } if stream == waiting);
            if !ok {
                self.violations
                    .push(format!("{frame:?} between HEADERS and its CONTINUATION"));
            }
        }
        match frame {
            Frame::Data {
                stream, end_stream, ..
            } => {
                let n = frame.flow_len();
                let initial = i64::from(self.our_initial_window);
                self.recv_window -= n as i64;
                let w = self.stream_recv.entry(*stream).or_insert(initial);
                *w -= n as i64;
                let w = *w;
                if self.recv_window < 0 || w < 0 {
                    self.violations.push(format!(
                        "DATA of {n} on stream {stream} past the window (connection {}, stream {w})",
                        self.recv_window
                    ));
                }
                let (data, end) = match frame {
                    Frame::Data { data, .. } => (data, *end_stream),
                    _ => unreachable!(),
                };
                if self.streams.get(stream).is_some_and(|s| s.ended) {
                    // RFC 9113 §5.1: nothing but PRIORITY, WINDOW_UPDATE or RST_STREAM after it.
                    self.violations
                        .push(format!("DATA on stream {stream} after its END_STREAM"));
                }
                let s = self.stream(*stream);
                s.body.extend_from_slice(data);
                s.data_frames += 1;
                s.largest_data = s.largest_data.max(n);
                s.ended |= end;
                if self.auto_window && n > 0 {
                    // A server that has closed may not read these: their failure is not ours.
                    let _ = self.window_update(0, n as u32);
                    if !end {
                        let _ = self.window_update(*stream, n as u32);
                    }
                }
            }
            Frame::Headers {
                stream,
                block,
                end_stream,
                end_headers,
                ..
            } => {
                if *end_headers {
                    self.decode_block(*stream, block, *end_stream)?;
                } else {
                    self.partial_block = Some((*stream, block.clone(), *end_stream));
                }
            }
            Frame::PushPromise {
                stream,
                block,
                end_headers,
                ..
            } => {
                self.violations
                    .push("PUSH_PROMISE although push is not enabled".into());
                if *end_headers {
                    // Decoded for the table's sake; the promised request is not kept.
                    let _ = self.decoder.decode(block);
                } else {
                    self.partial_block = Some((*stream | 1 << 31, block.clone(), false));
                }
            }
            Frame::Continuation {
                stream,
                block,
                end_headers,
            } => match self.partial_block.take() {
                Some((s, mut whole, end_stream)) if s & 0x7fff_ffff == *stream => {
                    whole.extend_from_slice(block);
                    if !*end_headers {
                        self.partial_block = Some((s, whole, end_stream));
                    } else if s & (1 << 31) != 0 {
                        let _ = self.decoder.decode(&whole);
                    } else {
                        self.decode_block(s, &whole, end_stream)?;
                    }
                }
                other => {
                    self.partial_block = other;
                    self.violations
                        .push(format!("CONTINUATION on {stream} with no HEADERS open"));
                }
            },
            Frame::RstStream { stream, code } => {
                self.stream(*stream).reset = Some(*code);
            }
            Frame::Settings { ack: true, .. } => self.settings_acks += 1,
            Frame::Settings { ack: false, params } => {
                for &(id, value) in params {
                    match id {
                        SETTINGS_INITIAL_WINDOW_SIZE => {
                            let delta = i64::from(value) - i64::from(self.peer_initial_window);
                            for w in self.stream_send.values_mut() {
                                *w += delta;
                            }
                            self.peer_initial_window = value;
                        }
                        SETTINGS_MAX_FRAME_SIZE => self.peer_max_frame = value,
                        SETTINGS_MAX_CONCURRENT_STREAMS => self.peer_max_concurrent = Some(value),
                        _ => {}
                    }
                    self.server_settings.push((id, value));
                }
                let _ = self.send_frame(&Frame::Settings {
                    ack: true,
                    params: vec![],
                });
            }
            Frame::Ping { ack: true, data } => self.pings_acked.push(*data),
            Frame::Ping { ack: false, data } => {
                if self.auto_ping {
                    let _ = self.send_frame(&Frame::Ping {
                        ack: true,
                        data: *data,
                    });
                }
            }
            Frame::GoAway {
                last_stream,
                code,
                debug,
            } => {
                self.goaway = Some((
                    *last_stream,
                    *code,
                    String::from_utf8_lossy(debug).into_owned(),
                ));
            }
            Frame::WindowUpdate { stream, increment } => {
                if *stream == 0 {
                    self.send_window += i64::from(*increment);
                } else {
                    let initial = i64::from(self.peer_initial_window);
                    *self.stream_send.entry(*stream).or_insert(initial) += i64::from(*increment);
                }
            }
            Frame::Priority { .. } | Frame::Unknown { .. } => {}
        }
        Ok(())
    }

    /// Reads frames until `pred` holds for one; that frame.
    pub(crate) fn read_until(
        &mut self,
        mut pred: impl FnMut(&Frame) -> bool,
    ) -> Result<Frame, H2Error> {
        loop {
            let f = self.read_frame()?;
            if pred(&f) {
                return Ok(f);
            }
        }
    }

    pub(crate) fn window_update(&mut self, stream: u32, increment: u32) -> io::Result<()> {
        if stream == 0 {
            self.recv_window += i64::from(increment);
        } else {
            let initial = i64::from(self.our_initial_window);
            *self.stream_recv.entry(stream).or_insert(initial) += i64::from(increment);
        }
        self.send_frame(&Frame::WindowUpdate { stream, increment })
    }

    pub(crate) fn ping(&mut self, data: [u8; 8]) -> io::Result<()> {
        self.send_frame(&Frame::Ping { ack: false, data })
    }

    pub(crate) fn rst(&mut self, stream: u32, code: u32) -> io::Result<()> {
        self.send_frame(&Frame::RstStream { stream, code })
    }

    /// HPACK-encodes `fields` with the connection's encoder (stateful).
    pub(crate) fn encode_fields(&mut self, fields: &[(&str, &str)]) -> Vec<u8> {
        self.encoder
            .encode(fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())))
    }

    /// Sends a header block: HEADERS, and CONTINUATIONs when it is over the server's max
    /// frame size.
    pub(crate) fn send_block(
        &mut self,
        stream: u32,
        block: &[u8],
        end_stream: bool,
    ) -> io::Result<()> {
        let max = self.peer_max_frame as usize;
        let mut chunks = block.chunks(max).peekable();
        let first = chunks.next().unwrap_or(&[]);
        let mut out = Frame::Headers {
            stream,
            block: first.to_vec(),
            end_stream,
            end_headers: chunks.peek().is_none(),
            priority: None,
            pad: None,
        }
        .encode();
        while let Some(c) = chunks.next() {
            out.extend(
                Frame::Continuation {
                    stream,
                    block: c.to_vec(),
                    end_headers: chunks.peek().is_none(),
                }
                .encode(),
            );
        }
        self.streams.entry(stream).or_default();
        self.send_raw(&out)
    }

    /// Encodes `fields` (in the order given, names as given: a test may send uppercase) and
    /// sends them on `stream`.
    pub(crate) fn send_headers(
        &mut self,
        stream: u32,
        fields: &[(&str, &str)],
        end_stream: bool,
    ) -> io::Result<()> {
        let block = self.encode_fields(fields);
        self.send_block(stream, &block, end_stream)
    }

    /// One DATA frame as it is (no flow-control check; the windows are still counted).
    pub(crate) fn send_data(
        &mut self,
        stream: u32,
        data: &[u8],
        end_stream: bool,
    ) -> io::Result<()> {
        self.send_window -= data.len() as i64;
        let initial = i64::from(self.peer_initial_window);
        *self.stream_send.entry(stream).or_insert(initial) -= data.len() as i64;
        self.send_frame(&Frame::Data {
            stream,
            data: data.to_vec(),
            end_stream,
            pad: None,
        })
    }

    /// Sends `body` on `stream` in DATA frames no larger than the server's max frame size and
    /// its windows allow, reading frames (WINDOW_UPDATEs, whatever else) while they are shut.
    pub(crate) fn send_body(
        &mut self,
        stream: u32,
        body: &[u8],
        end_stream: bool,
    ) -> Result<(), H2Error> {
        let mut rest = body;
        loop {
            let stream_window = *self
                .stream_send
                .entry(stream)
                .or_insert(i64::from(self.peer_initial_window));
            let room = self
                .send_window
                .min(stream_window)
                .min(i64::from(self.peer_max_frame))
                .max(0) as usize;
            let n = room.min(rest.len());
            if n > 0 || rest.is_empty() {
                let last = n == rest.len();
                self.send_data(stream, &rest[..n], end_stream && last)?;
                rest = &rest[n..];
                if last {
                    return Ok(());
                }
                continue;
            }
            self.read_frame()?;
            if let Some(code) = self.streams[&stream].reset {
                return Err(H2Error::Reset(code));
            }
            if self.streams[&stream].ended {
                // The server answered before the body was all sent (§8.1): stop here.
                return Ok(());
            }
        }
    }

    /// The pseudo-header fields of a request, then `headers`.
    pub(crate) fn request_fields<'a>(
        &self,
        method: &'a str,
        path: &'a str,
        headers: &[(&'a str, &'a str)],
    ) -> Vec<(&'a str, &'a str)> {
        let mut fields = vec![
            (":method", method),
            (":scheme", self.scheme),
            (":authority", "localhost"),
            (":path", path),
        ];
        fields.extend_from_slice(headers);
        fields
    }

    /// Opens the next stream with a request (and its body, if any); its id.
    pub(crate) fn start_request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<u32, H2Error> {
        let id = self.next_stream;
        self.next_stream += 2;
        let fields = self.request_fields(method, path, headers);
        self.send_headers(id, &fields, body.is_empty())?;
        if !body.is_empty() {
            self.send_body(id, body, true)?;
        }
        Ok(id)
    }

    /// Reads frames until stream `id` has ended (or was reset, or the connection went away).
    pub(crate) fn read_response(&mut self, id: u32) -> Result<Response, H2Error> {
        loop {
            if let Some(s) = self.streams.get(&id) {
                if let Some(code) = s.reset {
                    return Err(H2Error::Reset(code));
                }
                if s.ended {
                    return Ok(self.response(id));
                }
            }
            match self.read_frame() {
                Ok(_) => {}
                Err(H2Error::Io(e)) => match self.goaway.clone() {
                    Some((l, c, d)) => return Err(H2Error::GoAway(l, c, d)),
                    None => return Err(H2Error::Io(e)),
                },
                Err(e) => return Err(e),
            }
        }
    }

    /// What stream `id` has received, as a response (the final header block's fields).
    pub(crate) fn response(&self, id: u32) -> Response {
        let s = &self.streams[&id];
        let status_of = |b: &Vec<(String, String)>| {
            b.iter()
                .find(|(n, _)| n == ":status")
                .and_then(|(_, v)| v.parse::<u16>().ok())
        };
        let final_at = s
            .blocks
            .iter()
            .position(|b| status_of(b).is_some_and(|st| st >= 200))
            .unwrap_or_else(|| panic!("no final header block on stream {id}: {s:?}"));
        Response {
            status: status_of(&s.blocks[final_at]).unwrap(),
            headers: s.blocks[final_at].clone(),
            body: s.body.clone(),
            trailers: s.blocks.get(final_at + 1).cloned().unwrap_or_default(),
            stream_id: id,
        }
    }

    /// One request on the next stream, its whole response; panics with the reason otherwise.
    pub(crate) fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        let id = self
            .start_request(method, path, headers, body)
            .unwrap_or_else(|e| panic!("{method} {path}: sending: {e:?}"));
        self.read_response(id)
            .unwrap_or_else(|e| panic!("{method} {path} on stream {id}: {e:?}"))
    }

    /// `GET path`.
    pub(crate) fn get(&mut self, path: &str) -> Response {
        self.request("GET", path, &[], b"")
    }

    /// Reads until the server's GOAWAY: (last stream id, error code, debug data). Panics if
    /// the connection ends, or nothing comes, first.
    pub(crate) fn expect_goaway(&mut self) -> (u32, u32, String) {
        loop {
            if let Some(g) = self.goaway.clone() {
                return g;
            }
            if let Err(e) = self.read_frame() {
                panic!("no GOAWAY: {e:?}");
            }
        }
    }

    /// Reads until stream `stream` is reset; the code. Panics on a GOAWAY, the stream ending
    /// normally, or nothing coming.
    pub(crate) fn expect_rst(&mut self, stream: u32) -> u32 {
        loop {
            if let Some(s) = self.streams.get(&stream) {
                if let Some(code) = s.reset {
                    return code;
                }
                assert!(!s.ended, "stream {stream} ended without a reset: {s:?}");
            }
            if let Some(g) = &self.goaway {
                panic!("GOAWAY {g:?} instead of RST_STREAM on {stream}");
            }
            if let Err(e) = self.read_frame() {
                panic!("no RST_STREAM on {stream}: {e:?}");
            }
        }
    }

    /// Reads (and drops) frames until EOF or a reset; panics if the connection is still
    /// open after `within`.
    pub(crate) fn expect_closed(&mut self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "still open after {within:?}");
            let saved = std::mem::replace(&mut self.timeout, left);
            let r = self.read_frame();
            self.timeout = saved;
            match r {
                Ok(_) => {}
                Err(H2Error::Io(e)) if is_closed(&e) => return,
                Err(H2Error::Io(e)) if e.kind() == io::ErrorKind::TimedOut => {
                    panic!("still open after {within:?}")
                }
                // A garbled frame as the server closes: read raw to the end.
                Err(_) => {
                    self.rbuf.clear();
                }
            }
        }
    }

    /// Reads to the end of the connection, within `within`: how it ended. For tests where
    /// GOAWAY is a SHOULD (§5.4.1) or where our own unread writes may turn the close into
    /// a reset.
    pub(crate) fn read_to_end(&mut self, within: Duration) -> Ending {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "still open after {within:?}");
            let saved = std::mem::replace(&mut self.timeout, left);
            let r = self.read_frame();
            self.timeout = saved;
            let ended = match r {
                Ok(_) => continue,
                Err(H2Error::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof => Ending::Closed,
                Err(H2Error::Io(e)) if is_closed(&e) => Ending::Reset,
                Err(H2Error::Io(e)) if e.kind() == io::ErrorKind::TimedOut => {
                    panic!("still open after {within:?}; GOAWAY {:?}", self.goaway)
                }
                Err(e) => panic!("{e:?}"),
            };
            return match self.goaway.clone() {
                Some((l, c, d)) => Ending::GoAway(l, c, d),
                None => ended,
            };
        }
    }
}

/// EOF, or the peer's reset.
pub(crate) fn is_closed(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

/// The server under test: ours (one worker), or the address in `PREFORK_H2_TARGET`.
pub(crate) struct Target {
    pub addr: SocketAddr,
    _server: Option<super::Server>,
}

pub(crate) fn target() -> Target {
    if let Ok(addr) = std::env::var("PREFORK_H2_TARGET") {
        return Target {
            addr: addr.parse().expect("PREFORK_H2_TARGET is HOST:PORT"),
            _server: None,
        };
    }
    let server = super::Server::start(&["--workers", "1"]);
    Target {
        addr: server.addr,
        _server: Some(server),
    }
}
