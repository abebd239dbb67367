//! `--fallback` and `--error-page`: files under `--root` that answer for a missing path, and
//! for an error's status.

use std::path::{Component, Path};

use crate::error::Error;

/// The statuses `--error-page` may replace: those the file server itself answers with.
pub(super) const ERROR_PAGE_STATUSES: [u16; 4] = [403, 404, 500, 503];

/// `CODE=FILE`.
pub(super) fn parse_error_page(s: &str) -> Result<(u16, String), String> {
    let (code, file) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected CODE=FILE, e.g. 404=404.html"))?;
    let code: u16 = code
        .trim()
        .parse()
        .map_err(|_| format!("{s:?}: the status is not a number"))?;
    if !ERROR_PAGE_STATUSES.contains(&code) {
        return Err(format!(
            "{s:?}: error pages replace 403, 404, 500 and 503 (what the file server answers)"
        ));
    }
    Ok((code, file.trim().to_string()))
}

/// `PATTERN=VALUE` for `--cache-rule`: the pattern has at most one `*`, and the value no
/// control character.
pub(super) fn parse_cache_rule(s: &str) -> Result<(String, String), String> {
    let (pattern, value) = s.split_once('=').ok_or_else(|| {
        format!("{s:?}: expected PATTERN=VALUE, e.g. '*.js=public, max-age=31536000, immutable'")
    })?;
    let pattern = pattern.trim().trim_start_matches('/');
    if pattern.is_empty() || pattern.matches('*').count() > 1 {
        return Err(format!(
            "{s:?}: a pattern is a path with at most one * (*.js, assets/*)"
        ));
    }
    let value = value.trim();
    if value.is_empty() || value.bytes().any(|b| b < 0x20 && b != b'\t' || b == 0x7f) {
        return Err(format!(
            "{s:?}: an empty value, or one with a control character"
        ));
    }
    Ok((pattern.to_string(), value.to_string()))
}

/// A file named relative to `root`: it must stay beneath it and exist as a regular file now
/// (it is looked up again, like any file, when it is served).
pub(super) fn check_in_root(root: &Path, rel: &str, option: &str) -> Result<String, Error> {
    let rel = rel.trim_start_matches('/');
    let stays = Path::new(rel)
        .components()
        .all(|c| matches!(c, Component::Normal(_)));
    if rel.is_empty() || !stays {
        return Err(Error::Usage(format!(
            "{option} {rel:?}: a path relative to --root, without `..`"
        )));
    }
    if !root.join(rel).is_file() {
        return Err(Error::Config(format!(
            "{option} {rel}: no such file under --root {}",
            root.display()
        )));
    }
    Ok(rel.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_rules_parse() {
        assert_eq!(
            parse_cache_rule("*.js=public, max-age=31536000, immutable"),
            Ok(("*.js".into(), "public, max-age=31536000, immutable".into()))
        );
        assert_eq!(
            parse_cache_rule("/assets/*=no-cache"),
            Ok(("assets/*".into(), "no-cache".into()))
        );
        for bad in ["*.js", "=x", "a*b*=x", "*.js=", "*.js=a\u{1}b"] {
            assert!(parse_cache_rule(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn error_pages_parse() {
        assert_eq!(
            parse_error_page("404=404.html"),
            Ok((404, "404.html".into()))
        );
        assert_eq!(
            parse_error_page(" 503 = down.html"),
            Ok((503, "down.html".into()))
        );
        for bad in ["404", "200=ok.html", "x=a.html", "302=a.html"] {
            assert!(parse_error_page(bad).is_err(), "{bad}");
        }
    }
}
