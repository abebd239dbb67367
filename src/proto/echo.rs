//! Raw TCP echo: every byte comes back, in order, never more than the high-water mark pending.
//!
//! Echo streams (that is its job): bytes go back as they come, and a peer that stops reading
//! stops being read from once the write buffer holds the high-water mark, so a connection never
//! holds more than its two pooled buffers.

use super::{Context, Next};
use crate::buffer::Buf;
use crate::output::Output;

#[derive(Debug, Default)]
pub struct Echo;

impl Echo {
    /// Moves input to output until the output reaches the high-water mark.
    pub fn on_data(&mut self, input: &mut Buf, output: &mut Output, ctx: &Context<'_>) -> Next {
        let room = ctx.high_water.saturating_sub(output.len());
        let n = room.min(input.len());
        output.bytes().extend_from_slice(&input.filled()[..n]);
        input.consume(n);
        if input.is_empty() {
            Next::NeedInput
        } else {
            Next::Blocked
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::http::Limits;
    use crate::proto::TestSite;

    #[test]
    fn echoes_up_to_the_high_water_mark() {
        let site = TestSite::new(Limits::default());
        let ctx = site.context(4);
        let mut input = Buf::from_slice(b"abcdef");
        let mut output = Output::new();
        assert_eq!(Echo.on_data(&mut input, &mut output, &ctx), Next::Blocked);
        let mut sent = Vec::new();
        output.drain_into(&mut sent);
        assert_eq!(sent, b"abcd");
        assert_eq!(Echo.on_data(&mut input, &mut output, &ctx), Next::NeedInput);
        output.drain_into(&mut sent);
        assert_eq!(sent, b"abcdef");
    }
}
