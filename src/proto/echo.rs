//! Raw TCP echo: every byte comes back, in order, never more than the high-water mark pending.

use super::{Context, Next};
use crate::buffer::Buf;

#[derive(Debug, Default)]
pub struct Echo;

impl Echo {
    /// Moves input to output until the output reaches the high-water mark.
    pub fn on_data(&mut self, input: &mut Buf, output: &mut Buf, ctx: &Context<'_>) -> Next {
        let room = ctx.high_water.saturating_sub(output.len());
        let n = room.min(input.len());
        output.extend_from_slice(&input.filled()[..n]);
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

    #[test]
    fn echoes_up_to_the_high_water_mark() {
        let limits = Limits::default();
        let served = std::cell::Cell::new(0);
        let ctx = Context::for_tests(&limits, &served, 4);
        let mut input = Buf::from_slice(b"abcdef");
        let mut output = Buf::new();
        assert_eq!(Echo.on_data(&mut input, &mut output, &ctx), Next::Blocked);
        assert_eq!(output.filled(), b"abcd");
        output.consume(4);
        assert_eq!(Echo.on_data(&mut input, &mut output, &ctx), Next::NeedInput);
        assert_eq!(output.filled(), b"ef");
    }
}
