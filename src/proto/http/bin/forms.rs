//! TEMPORARY stand-in for the parsers being written in /work/wt-forms (same API).
use std::borrow::Cow;

#[derive(Debug, Default)]
pub struct Pairs {
    arena: Vec<u8>,
    spans: Vec<(usize, usize, usize)>,
}
impl Pairs {
    pub fn new() -> Pairs {
        Pairs::default()
    }
    pub fn clear(&mut self) {
        self.arena.clear();
        self.spans.clear();
    }
    pub fn len(&self) -> usize {
        self.spans.len()
    }
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }
    pub fn push(&mut self, name: &[u8], value: &[u8]) {
        let a = self.arena.len();
        self.arena.extend_from_slice(name);
        let b = self.arena.len();
        self.arena.extend_from_slice(value);
        self.spans.push((a, b, self.arena.len()));
    }
    pub fn get(&self, i: usize) -> (&[u8], &[u8]) {
        let (a, b, c) = self.spans[i];
        (&self.arena[a..b], &self.arena[b..c])
    }
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }
    pub fn sort_by_name(&mut self) {
        let arena = &self.arena;
        self.spans
            .sort_by(|x, y| arena[x.0..x.1].cmp(&arena[y.0..y.1]));
    }
    pub fn groups(&self) -> impl Iterator<Item = (&[u8], Vec<&[u8]>)> + '_ {
        let mut i = 0;
        std::iter::from_fn(move || {
            if i >= self.len() {
                return None;
            }
            let (name, _) = self.get(i);
            let mut values = Vec::new();
            while i < self.len() && self.get(i).0 == name {
                values.push(self.get(i).1);
                i += 1;
            }
            Some((name, values))
        })
    }
    pub fn capacity_bytes(&self) -> usize {
        self.arena.capacity() + self.spans.capacity() * 24
    }
    pub fn first(&self, name: &[u8]) -> Option<&[u8]> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }
}

pub fn parse_urlencoded(input: &[u8], out: &mut Pairs) {
    let mut name = Vec::new();
    let mut value = Vec::new();
    for pair in input.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let (n, v) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &b""[..]),
        };
        name.clear();
        value.clear();
        percent_decode(n, true, &mut name);
        percent_decode(v, true, &mut value);
        out.push(&name, &value);
    }
}

pub fn percent_decode(input: &[u8], plus_is_space: bool, out: &mut Vec<u8>) {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' if plus_is_space => out.push(b' '),
            b'%' if i + 2 < input.len() => match (hex(input[i + 1]), hex(input[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
}

pub fn media_type(content_type: &[u8]) -> &[u8] {
    let end = content_type
        .iter()
        .position(|&b| b == b';')
        .unwrap_or(content_type.len());
    content_type[..end].trim_ascii()
}

pub fn param<'a>(value: &'a [u8], name: &[u8]) -> Option<Cow<'a, [u8]>> {
    for p in value.split(|&b| b == b';').skip(1) {
        let p = p.trim_ascii();
        let i = p.iter().position(|&b| b == b'=')?;
        if p[..i].trim_ascii().eq_ignore_ascii_case(name) {
            let v = p[i + 1..].trim_ascii();
            let v = v
                .strip_prefix(b"\"")
                .and_then(|v| v.strip_suffix(b"\""))
                .unwrap_or(v);
            return Some(Cow::Borrowed(v));
        }
    }
    None
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part<'a> {
    pub name: Cow<'a, [u8]>,
    pub filename: Option<Cow<'a, [u8]>>,
    pub content_type: Option<&'a [u8]>,
    pub data: &'a [u8],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MultipartError {
    NoDelimiter,
    Truncated,
    BadPart,
    TooManyParts,
    BadBoundary,
}

pub fn parse_multipart<'a>(
    _body: &'a [u8],
    _boundary: &[u8],
    _max_parts: usize,
) -> Result<Vec<Part<'a>>, MultipartError> {
    Err(MultipartError::NoDelimiter)
}

pub fn parse_cookies<'a>(header_value: &'a [u8], mut f: impl FnMut(&'a [u8], &'a [u8])) {
    for pair in header_value.split(|&b| b == b';') {
        if let Some(i) = pair.iter().position(|&b| b == b'=') {
            let v = pair[i + 1..].trim_ascii();
            let v = v
                .strip_prefix(b"\"")
                .and_then(|v| v.strip_suffix(b"\""))
                .unwrap_or(v);
            f(pair[..i].trim_ascii(), v);
        }
    }
}
