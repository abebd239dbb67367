//! Session tickets every worker can open: the keys live in a mapping the master makes before
//! it forks and rotates on a schedule, so a client resumes its session whichever worker (or
//! generation of workers, after a reload) accepts its next connection.
//!
//! A ticket is `key name (16) ‖ nonce (12) ‖ ChaCha20-Poly1305(state)`, sealed with the current
//! key and opened with the current or the previous one. Keys change every [`ROTATE_EVERY`];
//! a ticket is good for at most two periods, and a rotated-out key is overwritten (forward
//! secrecy of resumed sessions is bounded by that, as RFC 5077 §5.5 advises).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use rustls::server::ProducesTickets;

use crate::sys::shm::ShmSafe;

/// How often the master makes a new key.
pub const ROTATE_EVERY: Duration = Duration::from_secs(6 * 3600);

/// One key: its name (what a ticket says it was sealed with) and its 256 bits.
const NAME_WORDS: usize = 2;
const KEY_WORDS: usize = 4;
const WORDS: usize = NAME_WORDS + KEY_WORDS;
const NAME_LEN: usize = NAME_WORDS * 8;
const TAG_LEN: usize = 16;

/// The current and the previous key, shared by the master and every worker. Written by the
/// master only, under a sequence lock: a reader that saw the sequence odd, or changed while it
/// read, reads again.
pub struct TicketKeys {
    seq: AtomicU64,
    current: [AtomicU64; WORDS],
    previous: [AtomicU64; WORDS],
}

// SAFETY: every field is an AtomicU64 (all-zero bytes are 0: no key yet, which `Ticketer`
// treats as "tickets off") and is only accessed atomically.
#[allow(unsafe_code)]
unsafe impl ShmSafe for TicketKeys {}

impl TicketKeys {
    /// Makes a new current key; the current one becomes the previous one. Master only.
    ///
    /// # Errors
    /// If the system's random source fails.
    pub fn rotate(&self) -> Result<(), ring::error::Unspecified> {
        let mut fresh = [0u8; WORDS * 8];
        SystemRandom::new().fill(&mut fresh)?;
        self.seq.fetch_add(1, Ordering::AcqRel);
        for i in 0..WORDS {
            let old = self.current[i].load(Ordering::Relaxed);
            self.previous[i].store(old, Ordering::Relaxed);
            let word = u64::from_le_bytes(fresh[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
            self.current[i].store(word, Ordering::Relaxed);
        }
        self.seq.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// A consistent copy of both keys.
    fn read(&self) -> ([u8; WORDS * 8], [u8; WORDS * 8]) {
        loop {
            let before = self.seq.load(Ordering::Acquire);
            if before % 2 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let mut current = [0u8; WORDS * 8];
            let mut previous = [0u8; WORDS * 8];
            for i in 0..WORDS {
                current[i * 8..i * 8 + 8]
                    .copy_from_slice(&self.current[i].load(Ordering::Relaxed).to_le_bytes());
                previous[i * 8..i * 8 + 8]
                    .copy_from_slice(&self.previous[i].load(Ordering::Relaxed).to_le_bytes());
            }
            if self.seq.load(Ordering::Acquire) == before {
                return (current, previous);
            }
        }
    }
}

/// rustls's ticket producer over [`TicketKeys`].
pub struct Ticketer {
    keys: &'static TicketKeys,
    rng: SystemRandom,
}

impl std::fmt::Debug for Ticketer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ticketer").finish_non_exhaustive()
    }
}

impl Ticketer {
    pub fn new(keys: &'static TicketKeys) -> Ticketer {
        Ticketer {
            keys,
            rng: SystemRandom::new(),
        }
    }
}

/// The AEAD key of a key's bytes (its name is not part of it).
fn aead_key(key: &[u8; WORDS * 8]) -> Option<LessSafeKey> {
    let unbound = UnboundKey::new(&CHACHA20_POLY1305, &key[NAME_LEN..]).ok()?;
    Some(LessSafeKey::new(unbound))
}

impl ProducesTickets for Ticketer {
    fn enabled(&self) -> bool {
        true
    }

    fn lifetime(&self) -> u32 {
        ROTATE_EVERY.as_secs() as u32
    }

    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        let (current, _) = self.keys.read();
        if current == [0; WORDS * 8] {
            return None; // no key made yet: no ticket, a full handshake next time
        }
        let key = aead_key(&current)?;
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).ok()?;
        let mut out = Vec::with_capacity(NAME_LEN + NONCE_LEN + plain.len() + TAG_LEN);
        out.extend_from_slice(&current[..NAME_LEN]);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plain);
        let tag = key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&current[..NAME_LEN]),
                &mut out[NAME_LEN + NONCE_LEN..],
            )
            .ok()?;
        out.extend_from_slice(tag.as_ref());
        Some(out)
    }

    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        if cipher.len() < NAME_LEN + NONCE_LEN + TAG_LEN {
            return None;
        }
        let (name, rest) = cipher.split_at(NAME_LEN);
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let (current, previous) = self.keys.read();
        let key = [current, previous]
            .into_iter()
            .find(|k| &k[..NAME_LEN] == name && *k != [0; WORDS * 8])?;
        let key = aead_key(&key)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut opened = sealed.to_vec();
        let plain = key
            .open_in_place(nonce, Aad::from(name), &mut opened)
            .ok()?;
        let len = plain.len();
        opened.truncate(len);
        Some(opened)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::shm::Shared;

    fn keys() -> &'static TicketKeys {
        let shared = Box::leak(Box::new(Shared::<TicketKeys>::new(1).unwrap()));
        &shared.slots()[0]
    }

    #[test]
    fn a_ticket_opens_with_the_current_and_the_previous_key_only() {
        let keys = keys();
        let t = Ticketer::new(keys);
        assert_eq!(t.encrypt(b"state"), None, "no key yet, no ticket");
        keys.rotate().unwrap();
        let ticket = t.encrypt(b"session state").unwrap();
        assert_eq!(t.decrypt(&ticket).as_deref(), Some(&b"session state"[..]));
        keys.rotate().unwrap();
        assert_eq!(t.decrypt(&ticket).as_deref(), Some(&b"session state"[..]));
        keys.rotate().unwrap();
        assert_eq!(t.decrypt(&ticket), None, "two rotations later it is gone");
    }

    #[test]
    fn tampered_or_short_tickets_are_refused() {
        let keys = keys();
        keys.rotate().unwrap();
        let t = Ticketer::new(keys);
        let mut ticket = t.encrypt(b"x").unwrap();
        let last = ticket.len() - 1;
        ticket[last] ^= 1;
        assert_eq!(t.decrypt(&ticket), None);
        assert_eq!(t.decrypt(&ticket[..10]), None);
        assert_eq!(t.decrypt(&[]), None);
    }
}
