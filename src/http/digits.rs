//! Numbers as text, without formatting machinery: decimal for lengths and codes, hexadecimal
//! for chunk sizes. Each writes into a buffer the caller owns; nothing allocates.

use crate::buffer::Buf;

/// The decimal digits of `n`, written at the end of `buf`.
pub fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

/// Appends `n` in decimal.
pub fn write_decimal(out: &mut Buf, n: u64) {
    out.extend_from_slice(decimal(n, &mut [0; 20]));
}

/// The lower-case hexadecimal digits of `n`, written at the end of `buf`.
pub fn hex(mut n: u64, buf: &mut [u8; 16]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b"0123456789abcdef"[(n & 0xf) as usize];
        n >>= 4;
        if n == 0 {
            return &buf[i..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(decimal(0, &mut [0; 20]), b"0");
        assert_eq!(decimal(u64::MAX, &mut [0; 20]), b"18446744073709551615");
        assert_eq!(hex(26, &mut [0; 16]), b"1a");
        assert_eq!(hex(0, &mut [0; 16]), b"0");
        assert_eq!(hex(u64::MAX, &mut [0; 16]), b"ffffffffffffffff");
        let mut out = Buf::new();
        write_decimal(&mut out, 1234);
        assert_eq!(out.filled(), b"1234");
    }
}
