//! The control frames: PRIORITY (read and ignored), RST_STREAM, SETTINGS (applied and
//! acknowledged), PING, GOAWAY, WINDOW_UPDATE; each checked as RFC 9113 §6 says, the floods
//! metered.

use super::frame::{self, flag, setting, ErrorCode, FrameHeader};
use super::guard::Flood;
use super::Http2;
use crate::output::Output;
use crate::proto::Env;
use crate::stats::WorkerStats;

impl Http2 {
    pub(super) fn on_priority(
        &mut self,
        h: FrameHeader,
        payload: &[u8],
        output: &mut Output,
        env: &Env<'_>,
    ) {
        if h.stream == 0 {
            return self.fail(
                output,
                env,
                ErrorCode::ProtocolError,
                b"PRIORITY on stream 0",
            );
        }
        if h.len != 5 {
            return self.reset(output, env, h.stream, ErrorCode::FrameSizeError);
        }
        if !self.meter(output, env, Flood::Control) {
            return;
        }
        if frame::u32_at(payload, 0) & 0x7fff_ffff == h.stream {
            self.reset(output, env, h.stream, ErrorCode::ProtocolError);
        }
    }

    pub(super) fn on_rst_stream(
        &mut self,
        h: FrameHeader,
        _payload: &[u8],
        output: &mut Output,
        env: &Env<'_>,
    ) {
        if h.stream == 0 {
            return self.fail(
                output,
                env,
                ErrorCode::ProtocolError,
                b"RST_STREAM on stream 0",
            );
        }
        if h.len != 4 {
            return self.fail(output, env, ErrorCode::FrameSizeError, b"RST_STREAM size");
        }
        if h.stream > self.last_stream {
            return self.fail(
                output,
                env,
                ErrorCode::ProtocolError,
                b"RST_STREAM on an idle stream",
            );
        }
        if self.index(h.stream).is_some() {
            WorkerStats::add(&env.stats.h2_resets[1], 1);
            self.forget(env, h.stream);
            self.meter(output, env, Flood::Reset);
        }
    }

    pub(super) fn on_settings(
        &mut self,
        h: FrameHeader,
        payload: &[u8],
        output: &mut Output,
        env: &Env<'_>,
    ) {
        if h.stream != 0 {
            return self.fail(
                output,
                env,
                ErrorCode::ProtocolError,
                b"SETTINGS on a stream",
            );
        }
        if h.has(flag::ACK) {
            if h.len != 0 {
                self.fail(
                    output,
                    env,
                    ErrorCode::FrameSizeError,
                    b"SETTINGS ack with payload",
                );
            }
            return;
        }
        if !h.len.is_multiple_of(6) {
            return self.fail(output, env, ErrorCode::FrameSizeError, b"SETTINGS size");
        }
        if !self.meter(output, env, Flood::Settings) {
            return;
        }
        let before = self.peer.initial_window;
        if let Err(code) = self.apply_settings(payload) {
            return self.fail(output, env, code, b"SETTINGS value");
        }
        // §6.9.2: a new initial window moves every stream's window by the difference.
        let delta = self.peer.initial_window - before;
        if delta != 0 {
            for s in &mut self.streams {
                s.send_window += delta;
                if s.send_window > frame::MAX_WINDOW {
                    return self.fail(output, env, ErrorCode::FlowControlError, b"window overflow");
                }
            }
        }
        frame::write_settings_ack(output.bytes());
    }

    /// Applies a SETTINGS payload (whole 6-byte entries).
    pub(super) fn apply_settings(&mut self, payload: &[u8]) -> Result<(), ErrorCode> {
        if !payload.len().is_multiple_of(6) {
            return Err(ErrorCode::FrameSizeError);
        }
        for entry in payload.chunks_exact(6) {
            let id = u16::from_be_bytes([entry[0], entry[1]]);
            let value = frame::u32_at(entry, 2);
            match id {
                setting::HEADER_TABLE_SIZE => self.encoder.set_peer_max_table_size(value),
                setting::ENABLE_PUSH if value > 1 => return Err(ErrorCode::ProtocolError),
                setting::INITIAL_WINDOW_SIZE => {
                    if i64::from(value) > frame::MAX_WINDOW {
                        return Err(ErrorCode::FlowControlError);
                    }
                    self.peer.initial_window = i64::from(value);
                }
                setting::MAX_FRAME_SIZE => {
                    if !(frame::DEFAULT_MAX_FRAME..(1 << 24)).contains(&value) {
                        return Err(ErrorCode::ProtocolError);
                    }
                    self.peer.max_frame = value as usize;
                }
                _ => {} // the others bind a server in nothing it does; unknown ones are ignored
            }
        }
        Ok(())
    }

    pub(super) fn on_ping(
        &mut self,
        h: FrameHeader,
        payload: &[u8],
        output: &mut Output,
        env: &Env<'_>,
    ) {
        if h.stream != 0 {
            return self.fail(output, env, ErrorCode::ProtocolError, b"PING on a stream");
        }
        let Ok(data) = <&[u8; 8]>::try_from(payload) else {
            return self.fail(output, env, ErrorCode::FrameSizeError, b"PING size");
        };
        if h.has(flag::ACK) {
            return;
        }
        if self.meter(output, env, Flood::Ping) {
            frame::write_ping_ack(output.bytes(), data);
        }
    }

    pub(super) fn on_goaway(
        &mut self,
        h: FrameHeader,
        _payload: &[u8],
        output: &mut Output,
        env: &Env<'_>,
    ) {
        if h.stream != 0 {
            return self.fail(output, env, ErrorCode::ProtocolError, b"GOAWAY on a stream");
        }
        if h.len < 8 {
            return self.fail(output, env, ErrorCode::FrameSizeError, b"GOAWAY size");
        }
        self.peer_goaway = true;
    }

    pub(super) fn on_window_update(
        &mut self,
        h: FrameHeader,
        payload: &[u8],
        output: &mut Output,
        env: &Env<'_>,
    ) {
        if h.len != 4 {
            return self.fail(
                output,
                env,
                ErrorCode::FrameSizeError,
                b"WINDOW_UPDATE size",
            );
        }
        let increment = i64::from(frame::u32_at(payload, 0) & 0x7fff_ffff);
        if increment < 1024 && !self.meter(output, env, Flood::Control) {
            return;
        }
        if h.stream == 0 {
            if increment == 0 {
                return self.fail(output, env, ErrorCode::ProtocolError, b"WINDOW_UPDATE of 0");
            }
            self.send_window += increment;
            if self.send_window > frame::MAX_WINDOW {
                return self.fail(output, env, ErrorCode::FlowControlError, b"window overflow");
            }
            return;
        }
        let Some(i) = self.index(h.stream) else {
            if h.stream > self.last_stream {
                self.fail(
                    output,
                    env,
                    ErrorCode::ProtocolError,
                    b"WINDOW_UPDATE on an idle stream",
                );
            }
            return;
        };
        if increment == 0 {
            return self.reset(output, env, h.stream, ErrorCode::ProtocolError);
        }
        let s = &mut self.streams[i];
        s.send_window += increment;
        if s.send_window > frame::MAX_WINDOW {
            self.reset(output, env, h.stream, ErrorCode::FlowControlError);
        }
    }
}
