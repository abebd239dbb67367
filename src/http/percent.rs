//! Percent-decoding (RFC 3986 §2.1), and the form encoding's `+` for a space.

/// Percent-decodes `input` (RFC 3986 §2.1; plus `+` → space when `plus_is_space`, the form
/// encoding's rule) into `out` (appending). An invalid escape is kept literally, byte for byte,
/// as Python's `unquote` and browsers do: `%%41` → `%A`, `%zz` → `%zz`. Never writes more
/// than `input.len()` bytes.
pub fn percent_decode(input: &[u8], plus_is_space: bool, out: &mut Vec<u8>) {
    out.reserve(input.len());
    decode_runs(input, plus_is_space, |run| out.extend_from_slice(run));
}

/// [`percent_decode`] into a fixed slice, for callers that must not allocate; `None` if the
/// decoded bytes do not fit.
pub fn percent_decode_into<'o>(
    input: &[u8],
    plus_is_space: bool,
    out: &'o mut [u8],
) -> Option<&'o [u8]> {
    let mut len = 0;
    let mut fits = true;
    decode_runs(input, plus_is_space, |run| {
        match out.get_mut(len..len + run.len()) {
            Some(to) if fits => {
                to.copy_from_slice(run);
                len += run.len();
            }
            _ => fits = false,
        }
    });
    fits.then_some(&out[..len])
}

/// Hands the decoded bytes of `input` to `push`, run by run.
fn decode_runs(input: &[u8], plus_is_space: bool, mut push: impl FnMut(&[u8])) {
    let mut rest = input;
    while let Some(i) = rest
        .iter()
        .position(|&b| b == b'%' || (plus_is_space && b == b'+'))
    {
        push(&rest[..i]);
        if rest[i] == b'+' {
            push(b" ");
            rest = &rest[i + 1..];
        } else if let Some(byte) = rest.get(i + 1..i + 3).and_then(hex_byte) {
            push(&[byte]);
            rest = &rest[i + 3..];
        } else {
            push(b"%");
            rest = &rest[i + 1..];
        }
    }
    push(rest);
}

/// The byte two hex digits name, either case.
fn hex_byte(digits: &[u8]) -> Option<u8> {
    let digit = |b: u8| char::from(b).to_digit(16);
    match digits {
        &[hi, lo] => Some((digit(hi)? * 16 + digit(lo)?) as u8),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_keeps_bad_escapes() {
        let mut out = Vec::new();
        percent_decode(b"a%20b+c%%41%zz", true, &mut out);
        assert_eq!(out, b"a b c%A%zz");
        let mut small = [0u8; 3];
        assert_eq!(
            percent_decode_into(b"%41bc", false, &mut small),
            Some(&b"Abc"[..])
        );
        assert_eq!(percent_decode_into(b"abcd", false, &mut small), None);
    }
}
