//! Random numbers for responses: multipart boundaries, `/uuid`, nonces, `/bytes`, weighted
//! status codes. Not cryptographic (nothing here guards a secret), but unpredictable across
//! workers and restarts: each worker seeds its generator from the kernel when it starts, so
//! forked siblings never repeat each other.
//!
//! The generator is SplitMix64 (Steele, Lea and Flood, 2014): one add and three multiply-xor
//! steps per 64 bits, and any seed is a good one, which makes `?seed=N` reproducible.

use std::cell::Cell;
use std::io::Read;

/// A seeded SplitMix64 stream.
#[derive(Debug, Clone)]
pub(crate) struct Rng {
    state: u64,
}

impl Rng {
    pub(crate) const fn seeded(seed: u64) -> Rng {
        Rng { state: seed }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Fills `out` with the stream's next bytes (eight per step, little-endian).
    pub(crate) fn fill(&mut self, out: &mut [u8]) {
        let mut chunks = out.chunks_exact_mut(8);
        for chunk in &mut chunks {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        let rest = chunks.into_remainder();
        if !rest.is_empty() {
            let last = self.next_u64().to_le_bytes();
            rest.copy_from_slice(&last[..rest.len()]);
        }
    }

    /// A float uniformly in [0, 1).
    pub(crate) fn unit(&mut self) -> f64 {
        // The top 53 bits, the precision of an f64.
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A seeded stream of bytes that does not depend on how it is read: a body generated in
/// pieces of any size is the same bytes as one generated at once.
#[derive(Debug, Clone)]
pub(crate) struct ByteStream {
    rng: Rng,
    /// Bytes of the last word not handed out yet, lowest first.
    spare: u64,
    spare_len: u32,
}

impl ByteStream {
    pub(crate) const fn seeded(seed: u64) -> ByteStream {
        ByteStream {
            rng: Rng::seeded(seed),
            spare: 0,
            spare_len: 0,
        }
    }

    /// Fills `out` with the stream's next bytes.
    pub(crate) fn fill(&mut self, mut out: &mut [u8]) {
        while self.spare_len > 0 && !out.is_empty() {
            out[0] = self.spare as u8;
            self.spare >>= 8;
            self.spare_len -= 1;
            out = &mut out[1..];
        }
        let mut words = out.chunks_exact_mut(8);
        for word in &mut words {
            word.copy_from_slice(&self.rng.next_u64().to_le_bytes());
        }
        let rest = words.into_remainder();
        if !rest.is_empty() {
            let word = self.rng.next_u64();
            rest.copy_from_slice(&word.to_le_bytes()[..rest.len()]);
            let used = rest.len() as u32;
            self.spare = word >> (8 * used);
            self.spare_len = 8 - used;
        }
    }
}

thread_local! {
    /// This process's generator; see [`reseed_from_os`].
    static STATE: Cell<u64> = Cell::new(fallback_seed());
}

/// A seed when the kernel's is unavailable: the clock and the pid.
fn fallback_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 32) ^ 0x2545_F491_4F6C_DD1D
}

/// Seeds this process's generator from `/dev/urandom` (or the clock and pid if that fails).
/// Each worker calls it once at start: a generator inherited through `fork` would otherwise
/// give every worker the same numbers.
pub(crate) fn reseed_from_os() {
    let mut seed = [0u8; 8];
    let from_os = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut seed))
        .is_ok();
    let seed = if from_os {
        u64::from_le_bytes(seed)
    } else {
        fallback_seed()
    };
    STATE.with(|s| s.set(seed));
}

/// Runs `f` with this process's generator.
pub(crate) fn with<R>(f: impl FnOnce(&mut Rng) -> R) -> R {
    STATE.with(|s| {
        let mut rng = Rng::seeded(s.get());
        let out = f(&mut rng);
        s.set(rng.state);
        out
    })
}

/// A fresh seed for a stream of its own (an unseeded `/bytes`).
pub(crate) fn seed() -> u64 {
    with(Rng::next_u64)
}

/// `n` random lower-case hex digits.
pub(crate) fn hex<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    with(|rng| rng.fill(&mut bytes));
    bytes.map(|b| b"0123456789abcdef"[usize::from(b & 15)])
}

/// A version 4 UUID in its 36-character text form (RFC 9562 §5.4).
pub(crate) fn uuid_v4() -> [u8; 36] {
    let mut raw = [0u8; 16];
    with(|rng| rng.fill(&mut raw));
    raw[6] = (raw[6] & 0x0f) | 0x40; // version 4
    raw[8] = (raw[8] & 0x3f) | 0x80; // variant 10
    let mut out = [b'-'; 36];
    let mut at = 0;
    for (i, byte) in raw.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            at += 1;
        }
        out[at] = b"0123456789abcdef"[usize::from(byte >> 4)];
        out[at + 1] = b"0123456789abcdef"[usize::from(byte & 15)];
        at += 2;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_streams_repeat() {
        let (mut a, mut b) = (Rng::seeded(42), Rng::seeded(42));
        let (mut x, mut y) = ([0u8; 13], [0u8; 13]);
        a.fill(&mut x);
        b.fill(&mut y);
        assert_eq!(x, y);
        assert_ne!(Rng::seeded(1).next_u64(), Rng::seeded(2).next_u64());
        // The reference value of SplitMix64 from seed 0 (as in the paper's C code).
        assert_eq!(Rng::seeded(0).next_u64(), 0xE220_A839_7B1D_CDAF);
    }

    #[test]
    fn byte_streams_do_not_depend_on_the_pieces() {
        let mut whole = [0u8; 100];
        ByteStream::seeded(9).fill(&mut whole);
        let mut pieces = [0u8; 100];
        let mut stream = ByteStream::seeded(9);
        let mut at = 0;
        for size in [3, 1, 8, 13, 0, 7, 68] {
            stream.fill(&mut pieces[at..at + size]);
            at += size;
        }
        assert_eq!(whole, pieces);
        let mut direct = [0u8; 16];
        Rng::seeded(9).fill(&mut direct);
        assert_eq!(&whole[..16], &direct);
    }

    #[test]
    fn units_stay_in_range() {
        let mut rng = Rng::seeded(7);
        assert!((0..10_000)
            .map(|_| rng.unit())
            .all(|u| (0.0..1.0).contains(&u)));
    }

    #[test]
    fn uuids_have_the_version_4_shape() {
        let id = uuid_v4();
        let text = std::str::from_utf8(&id).unwrap();
        let groups: Vec<&str> = text.split('-').collect();
        assert_eq!(
            groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(groups[2].starts_with('4'));
        assert!(matches!(groups[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'));
        assert_ne!(uuid_v4(), id);
    }

    #[test]
    fn hex_digits() {
        let h = hex::<20>();
        assert!(h.iter().all(u8::is_ascii_hexdigit));
        assert_ne!(hex::<20>(), h);
    }
}
