//! `--cache-rule`'s patterns: which files a `Cache-Control` value is for.

/// A `--cache-rule` pattern: a path relative to the root with at most one `*`, which matches
/// any run of bytes (slashes too: `assets/*` is everything under `assets/`).
#[derive(Debug)]
pub(super) struct CachePattern {
    before: Box<[u8]>,
    /// `None`: no `*`, the whole path must equal `before`.
    after: Option<Box<[u8]>>,
}

impl CachePattern {
    pub(super) fn new(pattern: &str) -> CachePattern {
        match pattern.split_once('*') {
            Some((before, after)) => CachePattern {
                before: before.as_bytes().into(),
                after: Some(after.as_bytes().into()),
            },
            None => CachePattern {
                before: pattern.as_bytes().into(),
                after: None,
            },
        }
    }

    pub(super) fn matches(&self, rel: &[u8]) -> bool {
        match &self.after {
            None => rel == &self.before[..],
            Some(after) => {
                rel.len() >= self.before.len() + after.len()
                    && rel.starts_with(&self.before)
                    && rel.ends_with(after)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_star_matches_any_run_of_bytes() {
        let p = CachePattern::new("assets/*.js");
        assert!(p.matches(b"assets/app.js") && p.matches(b"assets/a/b.js"));
        assert!(!p.matches(b"assets/app.css") && !p.matches(b"app.js") && !p.matches(b"assets.js"));
        assert!(CachePattern::new("*").matches(b"anything"));
        let exact = CachePattern::new("index.html");
        assert!(exact.matches(b"index.html") && !exact.matches(b"a/index.html"));
    }
}
