//! rustls's state machine, pumped: one loop over `process_tls_records` that decrypts into the
//! read buffer, encodes what rustls queues (handshake messages, alerts, tickets) into the
//! outgoing buffer, and, when rustls allows, encrypts a record or queues close_notify.

use rustls::unbuffered::{ConnectionState, EncodeError, EncryptError, InsufficientSizeError};
use tracing::debug;

use super::{Stage, TlsStream, MAX_PLAINTEXT, RECORD_OVERHEAD};
use crate::buffer::Buf;
use crate::stats::{TlsOutcome, WorkerStats};

/// What one run of rustls is for.
#[derive(Debug, Clone, Copy)]
pub(super) enum Intent<'a> {
    /// Decrypt what came in, while the read buffer has room.
    Read { limit: usize },
    /// Encrypt these bytes as one record.
    Encrypt(&'a [u8]),
    /// Queue close_notify.
    CloseNotify,
}

/// Where one run of rustls stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ran {
    /// More ciphertext is needed (or, to encrypt, the session is not ready).
    NeedInput,
    /// The read buffer has no room for the next record.
    NoRoom,
    /// The intent is done (a record encrypted, close_notify queued).
    Done,
    /// The peer sent close_notify.
    PeerClosed,
    Fatal,
}

impl TlsStream {
    /// Runs rustls over the buffered ciphertext for `intent`: records it decrypts go to
    /// `plain`, messages it encodes (handshake, alerts, tickets) to `outgoing`.
    ///
    /// Every run hands rustls the whole of `incoming`, never an empty slice: a handshake
    /// message split over records is kept there (rustls's deframer counts offsets into it), so
    /// an encryption may meet a record to decrypt too; it goes to `plain` past the read
    /// limit, by at most what `incoming` holds.
    pub(super) fn run(&mut self, plain: &mut Buf, intent: Intent<'_>, stats: &WorkerStats) -> Ran {
        loop {
            if let Intent::Read { limit } = intent {
                if !room_for_a_record(plain, limit) {
                    return Ran::NoRoom;
                }
            }
            let status = self.conn.process_tls_records(self.incoming.filled_mut());
            let discard = status.discard;
            let next = match status.state {
                Err(e) => {
                    debug!(error = %e, "TLS session failed");
                    Some(Ran::Fatal)
                }
                Ok(ConnectionState::ReadTraffic(mut records)) => {
                    // Every record is taken: encrypting asks rustls for its state, and would
                    // find this one first otherwise.
                    while let Some(Ok(record)) = records.next_record() {
                        // Exactly: past the read limit (a record met while encrypting) the
                        // buffer grows by what `incoming` held, no more (see `charge.rs`).
                        plain.reserve_exact(record.payload.len());
                        plain.extend_from_slice(record.payload);
                    }
                    None
                }
                Ok(ConnectionState::EncodeTlsData(mut data)) => {
                    encode(&mut self.outgoing, |out| data.encode(out));
                    None
                }
                Ok(ConnectionState::TransmitTlsData(data)) => {
                    // What was encoded stays in `outgoing` until the socket takes it, in order.
                    data.done();
                    None
                }
                Ok(ConnectionState::WriteTraffic(mut traffic)) => match intent {
                    Intent::Read { .. } => Some(Ran::NeedInput),
                    Intent::Encrypt(piece) => {
                        self.outgoing.reserve(piece.len() + RECORD_OVERHEAD);
                        match traffic.encrypt(piece, self.outgoing.spare_mut()) {
                            Ok(n) => {
                                self.outgoing.commit(n);
                                Some(Ran::Done)
                            }
                            Err(EncryptError::InsufficientSize(InsufficientSizeError {
                                required_size,
                            })) => {
                                self.outgoing.reserve(required_size);
                                None
                            }
                            Err(EncryptError::EncryptExhausted) => Some(Ran::Fatal),
                        }
                    }
                    Intent::CloseNotify => {
                        self.outgoing.reserve(RECORD_OVERHEAD);
                        if let Ok(n) = traffic.queue_close_notify(self.outgoing.spare_mut()) {
                            self.outgoing.commit(n);
                        }
                        Some(Ran::Done)
                    }
                },
                Ok(ConnectionState::BlockedHandshake) => Some(Ran::NeedInput),
                Ok(ConnectionState::PeerClosed) => {
                    // Reported once: remembered here for the reads to come.
                    self.peer_closed = true;
                    None
                }
                Ok(ConnectionState::Closed) => Some(Ran::PeerClosed),
                Ok(ConnectionState::ReadEarlyData(mut records)) => {
                    // 0-RTT is not offered (max_early_data_size is 0): none should come.
                    while records.next_record().is_some() {}
                    None
                }
                Ok(_) => Some(Ran::NeedInput),
            };
            self.incoming.consume(discard);
            if self.stage == Stage::Handshaking && !self.conn.is_handshaking() {
                self.established(stats);
            }
            match next {
                None => continue,
                Some(Ran::Fatal) => {
                    self.fail(stats, TlsOutcome::Failed);
                    self.queue_alert();
                    return Ran::Fatal;
                }
                Some(Ran::NeedInput) if self.peer_closed => return Ran::PeerClosed,
                Some(ran) => return ran,
            }
        }
    }

    /// After a failure, the alert rustls owes the peer (if any) into `outgoing`.
    ///
    /// One call, and only one: rustls hands out what it queued to send before it deframes
    /// anything, and the alert is the one thing queued after a failure (everything before was
    /// encoded as it came). A second call would deframe the bytes that failed again, and on a
    /// record that failed to deframe rustls would then try to send a second fatal alert,
    /// which it asserts never happens: a panic a client could cause at will.
    fn queue_alert(&mut self) {
        let status = self.conn.process_tls_records(self.incoming.filled_mut());
        if let Ok(ConnectionState::EncodeTlsData(mut data)) = status.state {
            encode(&mut self.outgoing, |out| data.encode(out));
        }
    }
}

/// Whether the next record may be decrypted into `plain`: yes while it holds less than a
/// pooled buffer's worth (`limit`) not yet consumed, after making room for a whole record
/// (compacting, or growing it to at most `limit` plus a record: see `charge.rs`).
pub(super) fn room_for_a_record(plain: &mut Buf, limit: usize) -> bool {
    if plain.len() >= limit {
        return false;
    }
    plain.reserve_exact(MAX_PLAINTEXT);
    true
}

/// Runs an encode of rustls's into `out`'s spare room, growing it as it asks.
pub(super) fn encode(
    out: &mut Buf,
    mut encode: impl FnMut(&mut [u8]) -> Result<usize, EncodeError>,
) {
    loop {
        match encode(out.spare_mut()) {
            Ok(n) => return out.commit(n),
            Err(EncodeError::InsufficientSize(InsufficientSizeError { required_size })) => {
                out.reserve(required_size);
            }
            Err(EncodeError::AlreadyEncoded) => return,
        }
    }
}
