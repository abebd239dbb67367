//! Decoded name/value pairs in one reusable arena: what the form, query and cookie parsers
//! ([`super::forms`]) fill, and the httpbin echo renders.

/// Where one pair lies in a [`Pairs`] arena: the name is `name..value`, the value `value..end`.
#[derive(Debug, Clone, Copy)]
struct Span {
    name: usize,
    value: usize,
    end: usize,
}

/// Decoded name/value pairs in arrival order, stored in one reusable arena so a parse in
/// steady state allocates nothing once the vectors have grown: a worker keeps one `Pairs`,
/// [`clear`](Pairs::clear)s it per request, and decoding never needs a `Vec` per name or value.
///
/// Arrival order is kept because httpbin reports repeated names as lists in the order sent
/// (`?a=1&a=2` → `"a": ["1", "2"]`), and [`sort_by_name`](Pairs::sort_by_name) +
/// [`groups`](Pairs::groups) turn that into the sorted JSON object Python's `json.dumps`
/// produces with `sort_keys`.
#[derive(Debug, Default)]
pub struct Pairs {
    arena: Vec<u8>,
    spans: Vec<Span>,
}

impl Pairs {
    /// An empty set that has allocated nothing yet.
    pub fn new() -> Pairs {
        Pairs::default()
    }

    /// Forgets every pair but keeps the capacity, for the next request.
    pub fn clear(&mut self) {
        self.arena.clear();
        self.spans.clear();
    }

    /// How many pairs, repeated names counted each time.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Bytes of memory held, used or not: a worker drops a set that one large request grew.
    pub fn capacity_bytes(&self) -> usize {
        self.arena.capacity() + self.spans.capacity() * std::mem::size_of::<Span>()
    }

    /// Appends a pair (already decoded bytes).
    pub fn push(&mut self, name: &[u8], value: &[u8]) {
        self.push_with(
            |a| a.extend_from_slice(name),
            |a| a.extend_from_slice(value),
        );
    }

    /// Appends a pair whose name and value the two closures write into the arena, in turn.
    pub(super) fn push_with(
        &mut self,
        name: impl FnOnce(&mut Vec<u8>),
        value: impl FnOnce(&mut Vec<u8>),
    ) {
        let start = self.arena.len();
        name(&mut self.arena);
        let middle = self.arena.len();
        value(&mut self.arena);
        self.spans.push(Span {
            name: start,
            value: middle,
            end: self.arena.len(),
        });
    }

    /// The i-th pair. Panics if `i >= self.len()`, as slice indexing does.
    pub fn get(&self, i: usize) -> (&[u8], &[u8]) {
        self.pair(self.spans[i])
    }

    fn pair(&self, s: Span) -> (&[u8], &[u8]) {
        (&self.arena[s.name..s.value], &self.arena[s.value..s.end])
    }

    /// The pairs in order: arrival order, or name order after
    /// [`sort_by_name`](Pairs::sort_by_name).
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.spans.iter().map(|&s| self.pair(s))
    }

    /// Sorts by name, bytewise, keeping arrival order among equal names (stable).
    ///
    /// Without allocating: spans are appended at increasing arena offsets, so `(start, end)`
    /// is an arrival key, and an unstable sort on (name, start, end) is a stable sort on name
    /// (two spans with equal keys are both empty at the same offset, so indistinguishable).
    pub fn sort_by_name(&mut self) {
        let arena = &self.arena;
        self.spans.sort_unstable_by(|a, b| {
            arena[a.name..a.value]
                .cmp(&arena[b.name..b.value])
                .then(a.name.cmp(&b.name))
                .then(a.end.cmp(&b.end))
        });
    }

    /// Each run of equal names once, with its values in order: after
    /// [`sort_by_name`](Pairs::sort_by_name), each distinct name once with its values in
    /// arrival order, e.g. for `a=1&b=2&a=3` → (`a`, [`1`, `3`]), (`b`, [`2`]).
    ///
    /// Allocates nothing: the values are an [`ExactSizeIterator`], so the caller can choose
    /// between a JSON string (one value, as Python httpbin does) and a list.
    pub fn groups(&self) -> Groups<'_> {
        Groups {
            arena: &self.arena,
            rest: &self.spans,
        }
    }

    /// The first value of `name` (exact bytes), if any: what Flask's `request.args[name]`
    /// returns for a repeated name.
    pub fn first(&self, name: &[u8]) -> Option<&[u8]> {
        self.iter().find(|&(n, _)| n == name).map(|(_, v)| v)
    }
}

/// The groups of a [`Pairs`]; see [`Pairs::groups`].
#[derive(Debug, Clone)]
pub struct Groups<'p> {
    arena: &'p [u8],
    rest: &'p [Span],
}

impl<'p> Iterator for Groups<'p> {
    type Item = (&'p [u8], Values<'p>);

    fn next(&mut self) -> Option<Self::Item> {
        let first = self.rest.first()?;
        let name = &self.arena[first.name..first.value];
        let n = self
            .rest
            .iter()
            .position(|s| &self.arena[s.name..s.value] != name)
            .unwrap_or(self.rest.len());
        let (group, rest) = self.rest.split_at(n);
        self.rest = rest;
        let values = Values {
            arena: self.arena,
            spans: group.iter(),
        };
        Some((name, values))
    }
}

/// The values of one name in [`Pairs::groups`], in order.
#[derive(Debug, Clone)]
pub struct Values<'p> {
    arena: &'p [u8],
    spans: std::slice::Iter<'p, Span>,
}

impl<'p> Iterator for Values<'p> {
    type Item = &'p [u8];

    fn next(&mut self) -> Option<&'p [u8]> {
        self.spans.next().map(|s| &self.arena[s.value..s.end])
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.spans.size_hint()
    }
}

impl ExactSizeIterator for Values<'_> {}
