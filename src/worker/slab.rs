//! A generational slab: connections indexed by token, where a token carries the slot's
//! generation so an event for a closed (and reused) slot is recognised as stale and dropped.

/// Packs `(generation << 32) | index`. Reserved tokens (listener, signal pipe, channel) sit at
/// the top of the range, which no slab index can reach.
fn token(index: usize, generation: u32) -> u64 {
    (u64::from(generation) << 32) | index as u64
}

fn split(token: u64) -> (usize, u32) {
    ((token & 0xffff_ffff) as usize, (token >> 32) as u32)
}

#[derive(Debug)]
struct Entry<T> {
    generation: u32,
    value: Option<T>,
}

#[derive(Debug)]
pub(crate) struct Slab<T> {
    entries: Vec<Entry<T>>,
    free: Vec<usize>,
    len: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            entries: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Slab<T> {
    /// A slab with room for `n` values reserved up front: the connection table never moves
    /// or doubles on the accept path (at 16,384 connections a doubling would copy megabytes
    /// in the middle of a turn), and the reservation costs nothing until slots are used (the
    /// pages are touched only as entries are written).
    pub(crate) fn with_capacity(n: usize) -> Slab<T> {
        Slab {
            entries: Vec::with_capacity(n),
            free: Vec::with_capacity(n),
            len: 0,
        }
    }

    /// Stores `value` and returns its token.
    pub(crate) fn insert(&mut self, value: T) -> u64 {
        self.len += 1;
        if let Some(index) = self.free.pop() {
            let entry = &mut self.entries[index];
            entry.value = Some(value);
            return token(index, entry.generation);
        }
        self.entries.push(Entry {
            generation: 0,
            value: Some(value),
        });
        token(self.entries.len() - 1, 0)
    }

    /// The value for `token`, unless that slot was emptied (or reused) since.
    pub(crate) fn get_mut(&mut self, token: u64) -> Option<&mut T> {
        let (index, generation) = split(token);
        let entry = self.entries.get_mut(index)?;
        if entry.generation != generation {
            return None;
        }
        entry.value.as_mut()
    }

    /// Takes the value out; later lookups with this token miss.
    pub(crate) fn remove(&mut self, token: u64) -> Option<T> {
        let (index, generation) = split(token);
        let entry = self.entries.get_mut(index)?;
        if entry.generation != generation {
            return None;
        }
        let value = entry.value.take()?;
        entry.generation = entry.generation.wrapping_add(1);
        self.free.push(index);
        self.len -= 1;
        Some(value)
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The tokens of every stored value (allocates; for rare whole-table passes such as the
    /// start of a drain).
    pub(crate) fn tokens(&self) -> Vec<u64> {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.value.is_some())
            .map(|(i, e)| token(i, e.generation))
            .collect()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_tokens_miss_after_reuse() {
        let mut slab = Slab::default();
        let a = slab.insert("a");
        assert_eq!(slab.get_mut(a), Some(&mut "a"));
        assert_eq!(slab.remove(a), Some("a"));
        let b = slab.insert("b");
        assert_ne!(a, b, "the reused slot has a new generation");
        assert_eq!(slab.get_mut(a), None);
        assert_eq!(slab.remove(a), None);
        assert_eq!(slab.get_mut(b), Some(&mut "b"));
        assert_eq!(slab.len(), 1);
    }
}
