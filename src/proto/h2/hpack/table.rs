//! The static table (RFC 7541 Appendix A) and the dynamic table (§2.3.2, §4).
//!
//! Indices as the wire uses them: 1..=61 the static table, 62.. the dynamic table, newest
//! first. [`DynamicTable`] itself counts from 0 (its newest entry).

use std::collections::VecDeque;
use std::mem::size_of;

/// What an entry costs beyond its name and value (§4.1): an estimate of the overhead of
/// keeping it, which the peer counts the same way.
pub(crate) const ENTRY_OVERHEAD: usize = 32;

/// A static entry (a tuple of byte-string literals would keep their array types).
const fn e(name: &'static [u8], value: &'static [u8]) -> (&'static [u8], &'static [u8]) {
    (name, value)
}

/// The static table, index 1 first.
pub(crate) static STATIC: [(&[u8], &[u8]); 61] = [
    e(b":authority", b""),
    e(b":method", b"GET"),
    e(b":method", b"POST"),
    e(b":path", b"/"),
    e(b":path", b"/index.html"),
    e(b":scheme", b"http"),
    e(b":scheme", b"https"),
    e(b":status", b"200"),
    e(b":status", b"204"),
    e(b":status", b"206"),
    e(b":status", b"304"),
    e(b":status", b"400"),
    e(b":status", b"404"),
    e(b":status", b"500"),
    e(b"accept-charset", b""),
    e(b"accept-encoding", b"gzip, deflate"),
    e(b"accept-language", b""),
    e(b"accept-ranges", b""),
    e(b"accept", b""),
    e(b"access-control-allow-origin", b""),
    e(b"age", b""),
    e(b"allow", b""),
    e(b"authorization", b""),
    e(b"cache-control", b""),
    e(b"content-disposition", b""),
    e(b"content-encoding", b""),
    e(b"content-language", b""),
    e(b"content-length", b""),
    e(b"content-location", b""),
    e(b"content-range", b""),
    e(b"content-type", b""),
    e(b"cookie", b""),
    e(b"date", b""),
    e(b"etag", b""),
    e(b"expect", b""),
    e(b"expires", b""),
    e(b"from", b""),
    e(b"host", b""),
    e(b"if-match", b""),
    e(b"if-modified-since", b""),
    e(b"if-none-match", b""),
    e(b"if-range", b""),
    e(b"if-unmodified-since", b""),
    e(b"last-modified", b""),
    e(b"link", b""),
    e(b"location", b""),
    e(b"max-forwards", b""),
    e(b"proxy-authenticate", b""),
    e(b"proxy-authorization", b""),
    e(b"range", b""),
    e(b"referer", b""),
    e(b"refresh", b""),
    e(b"retry-after", b""),
    e(b"server", b""),
    e(b"set-cookie", b""),
    e(b"strict-transport-security", b""),
    e(b"transfer-encoding", b""),
    e(b"user-agent", b""),
    e(b"vary", b""),
    e(b"via", b""),
    e(b"www-authenticate", b""),
];

/// The wire index of the first static entry named `name`, if any (a `match` on the bytes,
/// which the compiler turns into a length switch and a few comparisons).
pub(crate) fn static_name_index(name: &[u8]) -> Option<usize> {
    Some(match name {
        b":authority" => 1,
        b":method" => 2,
        b":path" => 4,
        b":scheme" => 6,
        b":status" => 8,
        b"accept-charset" => 15,
        b"accept-encoding" => 16,
        b"accept-language" => 17,
        b"accept-ranges" => 18,
        b"accept" => 19,
        b"access-control-allow-origin" => 20,
        b"age" => 21,
        b"allow" => 22,
        b"authorization" => 23,
        b"cache-control" => 24,
        b"content-disposition" => 25,
        b"content-encoding" => 26,
        b"content-language" => 27,
        b"content-length" => 28,
        b"content-location" => 29,
        b"content-range" => 30,
        b"content-type" => 31,
        b"cookie" => 32,
        b"date" => 33,
        b"etag" => 34,
        b"expect" => 35,
        b"expires" => 36,
        b"from" => 37,
        b"host" => 38,
        b"if-match" => 39,
        b"if-modified-since" => 40,
        b"if-none-match" => 41,
        b"if-range" => 42,
        b"if-unmodified-since" => 43,
        b"last-modified" => 44,
        b"link" => 45,
        b"location" => 46,
        b"max-forwards" => 47,
        b"proxy-authenticate" => 48,
        b"proxy-authorization" => 49,
        b"range" => 50,
        b"referer" => 51,
        b"refresh" => 52,
        b"retry-after" => 53,
        b"server" => 54,
        b"set-cookie" => 55,
        b"strict-transport-security" => 56,
        b"transfer-encoding" => 57,
        b"user-agent" => 58,
        b"vary" => 59,
        b"via" => 60,
        b"www-authenticate" => 61,
        _ => return None,
    })
}

/// Where one entry's bytes are in the arena: the name at `at`, the value right after it.
#[derive(Debug, Clone, Copy)]
struct Entry {
    at: usize,
    name_len: usize,
    value_len: usize,
}

/// The dynamic table: entries' bytes in one arena, appended at `tail` and freed from `head`
/// as the oldest entries are evicted; when the free tail is too short for a new entry the live
/// bytes are moved down to 0 (or, below `limit`, the arena grows). The live bytes never exceed
/// the table's size, so an arena of `limit` bytes always has room after the move; and as
/// every entry counts at least 32 bytes, the ring of offsets never holds more than
/// `limit / 32` of them. Both reach their largest size once and are reused from then on.
#[derive(Debug)]
pub(crate) struct DynamicTable {
    bytes: Vec<u8>,
    head: usize,
    tail: usize,
    /// Newest first: wire index 62 is `entries[0]`.
    entries: VecDeque<Entry>,
    /// The table's size as §4.1 counts it: names, values, and 32 per entry.
    size: usize,
    /// The largest size the table may have now, as the last size update set it.
    max_size: usize,
    /// The largest `max_size` may ever be (the setting bounding it).
    limit: usize,
}

impl DynamicTable {
    /// An empty table whose size may reach `limit`, its maximum size starting there.
    pub(crate) fn new(limit: usize) -> DynamicTable {
        DynamicTable {
            bytes: Vec::new(),
            head: 0,
            tail: 0,
            entries: VecDeque::new(),
            size: 0,
            max_size: limit,
            limit,
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The size as §4.1 counts it.
    #[cfg(test)]
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    pub(crate) fn max_size(&self) -> usize {
        self.max_size
    }

    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    /// Entry `i`, 0 the newest: `(name, value)`.
    pub(crate) fn get(&self, i: usize) -> Option<(&[u8], &[u8])> {
        let e = self.entries.get(i)?;
        let name_end = e.at + e.name_len;
        Some((
            &self.bytes[e.at..name_end],
            &self.bytes[name_end..name_end + e.value_len],
        ))
    }

    /// Sets the maximum size (a size update, §4.3), evicting the oldest entries until the
    /// table fits; a size above `limit` is taken as `limit` (the caller rejects or clamps it
    /// first).
    pub(crate) fn set_max_size(&mut self, max_size: usize) {
        self.max_size = max_size.min(self.limit);
        while self.size > self.max_size {
            self.evict();
        }
    }

    /// Adds `name: value` as the newest entry, evicting the oldest ones to make room; an entry
    /// larger than the maximum size empties the table and is not added (§4.4).
    pub(crate) fn insert(&mut self, name: &[u8], value: &[u8]) {
        let need = name.len() + value.len();
        let size = need.saturating_add(ENTRY_OVERHEAD);
        if size > self.max_size {
            self.clear();
            return;
        }
        while self.size + size > self.max_size {
            self.evict();
        }
        if self.tail + need > self.bytes.len() {
            self.make_room(need);
        }
        let at = self.tail;
        self.bytes[at..at + name.len()].copy_from_slice(name);
        self.bytes[at + name.len()..at + need].copy_from_slice(value);
        self.tail += need;
        self.size += size;
        self.entries.push_front(Entry {
            at,
            name_len: name.len(),
            value_len: value.len(),
        });
    }

    /// Makes `need` bytes free after `tail`: moves the live bytes down if that is enough,
    /// else grows the arena (doubling, up to `limit`) first. Sound because the caller evicted
    /// until the live bytes plus `need` fit within `max_size <= limit`.
    #[cold]
    fn make_room(&mut self, need: usize) {
        let live = self.tail - self.head;
        if live + need > self.bytes.len() {
            let grown = (self.bytes.len() * 2).max(live + need).max(256);
            self.bytes.resize(grown.min(self.limit), 0);
        }
        if self.tail + need > self.bytes.len() {
            self.bytes.copy_within(self.head..self.tail, 0);
            for e in &mut self.entries {
                e.at -= self.head;
            }
            self.tail = live;
            self.head = 0;
        }
    }

    /// Drops the oldest entry.
    fn evict(&mut self) {
        let Some(old) = self.entries.pop_back() else {
            return;
        };
        self.size -= old.name_len + old.value_len + ENTRY_OVERHEAD;
        match self.entries.back() {
            Some(next) => self.head = next.at,
            None => {
                self.head = 0;
                self.tail = 0;
            }
        }
    }

    /// Evicts every entry.
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.size = 0;
        self.head = 0;
        self.tail = 0;
    }

    /// The entry equal to `name: value` and the first one named `name` (0 the newest): a
    /// linear scan, the table holding a few dozen entries at most.
    pub(crate) fn find(&self, name: &[u8], value: &[u8]) -> (Option<usize>, Option<usize>) {
        let mut named = None;
        for i in 0..self.entries.len() {
            let Some((n, v)) = self.get(i) else { break };
            if n == name {
                if v == value {
                    return (Some(i), Some(i));
                }
                named.get_or_insert(i);
            }
        }
        (None, named)
    }

    /// Bytes of memory held.
    pub(crate) fn memory(&self) -> usize {
        self.bytes.capacity() + self.entries.capacity() * size_of::<Entry>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(t: &DynamicTable) -> Vec<(String, String)> {
        (0..t.len())
            .map(|i| {
                let (n, v) = t.get(i).unwrap();
                (
                    String::from_utf8(n.to_vec()).unwrap(),
                    String::from_utf8(v.to_vec()).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn static_names_match_the_table() {
        for (i, (name, _)) in STATIC.iter().enumerate() {
            let first = STATIC.iter().position(|(n, _)| n == name).unwrap() + 1;
            assert_eq!(static_name_index(name), Some(first), "{i}");
        }
        assert_eq!(static_name_index(b"x-custom"), None);
        assert_eq!(STATIC[60], (&b"www-authenticate"[..], &b""[..]));
    }

    #[test]
    fn insert_evicts_the_oldest() {
        let mut t = DynamicTable::new(100);
        t.insert(b"a", b"1"); // 34
        t.insert(b"bb", b"22"); // 36
        assert_eq!(t.size(), 70);
        t.insert(b"c", b"333"); // 36: evicts a
        assert_eq!(t.size(), 72);
        assert_eq!(
            entries(&t),
            [("c".into(), "333".into()), ("bb".into(), "22".into())]
        );
        assert_eq!(t.find(b"bb", b"22"), (Some(1), Some(1)));
        assert_eq!(t.find(b"c", b"x"), (None, Some(0)));
        assert_eq!(t.find(b"a", b"1"), (None, None));
    }

    #[test]
    fn an_entry_larger_than_the_table_empties_it() {
        let mut t = DynamicTable::new(100);
        t.insert(b"a", b"1");
        t.insert(b"name", &[b'v'; 65]); // 101 > 100
        assert_eq!(t.len(), 0);
        assert_eq!(t.size(), 0);
        t.insert(b"name", &[b'v'; 64]); // exactly 100 fits
        assert_eq!(t.len(), 1);
        assert_eq!(t.size(), 100);
    }

    #[test]
    fn size_updates_evict() {
        let mut t = DynamicTable::new(4096);
        for i in 0..10 {
            t.insert(format!("n{i}").as_bytes(), b"v");
        }
        assert_eq!(t.size(), 350);
        t.set_max_size(100);
        assert_eq!(t.len(), 2);
        assert_eq!(t.get(0).unwrap().0, b"n9");
        t.set_max_size(0);
        assert_eq!(t.len(), 0);
        t.insert(b"a", b"b");
        assert_eq!(t.len(), 0);
        t.set_max_size(1 << 20);
        assert_eq!(t.max_size(), 4096);
    }

    /// Many inserts of varied sizes: the arena is moved and grown, never past the limit, and
    /// the entries read back as a plain list of the same inserts says.
    #[test]
    fn arena_stays_within_the_limit() {
        let limit = 500;
        let mut t = DynamicTable::new(limit);
        let mut model: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut x = 12345u32;
        for i in 0..5000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let name = format!("name{}", i % 13).into_bytes();
            let value = vec![b'a' + (i % 26) as u8; (x >> 16) as usize % 200];
            t.insert(&name, &value);
            model.insert(0, (name, value));
            let mut size = 0;
            model.retain(|(n, v)| {
                size += n.len() + v.len() + 32;
                size <= limit
            });
            assert_eq!(t.len(), model.len());
            for (j, (n, v)) in model.iter().enumerate() {
                assert_eq!(t.get(j), Some((&n[..], &v[..])));
            }
            assert!(t.bytes.len() <= limit);
        }
        assert!(t.entries.capacity() <= 2 * limit / 32);
    }
}
