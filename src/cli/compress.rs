//! `--compress`, `--compress-types`, `--compress-min-size`, `--compress-level-gzip`,
//! `--compress-level-brotli`, `--compress-level-zstd`: bodies compressed on the fly.

use crate::config::{CompressLevels, CompressOptions};
use crate::error::Error;

/// What is compressed by default: text, and the structured text types of the web (Caddy's
/// list, with XML and the web manifest); images, fonts and archives other than SVG are
/// compressed already.
pub(super) const DEFAULT_TYPES: &str = "text/*,application/json,application/javascript,\
application/xml,application/xhtml+xml,application/rss+xml,application/atom+xml,\
application/manifest+json,application/wasm,image/svg+xml";

#[derive(Debug, Clone, clap::Args)]
pub struct CompressArgs {
    /// Compress answers on the fly (gzip, brotli or zstd, as Accept-Encoding prefers) for the
    /// --compress-types above --compress-min-size: files without a precompressed sibling, and
    /// generated answers (httpbin JSON, listings, /metrics). Off by default: the CPU each
    /// answer costs stays what it was unless asked.
    #[arg(long, env = "PREFORK_COMPRESS")]
    pub compress: bool,

    /// With --compress: the media types compressed (comma-separated; type/* for a whole
    /// top-level type).
    #[arg(long, env = "PREFORK_COMPRESS_TYPES", value_delimiter = ',', default_value = DEFAULT_TYPES)]
    pub compress_types: Vec<String>,

    /// With --compress: bodies shorter than this many bytes are sent as they are (a body that
    /// fits one packet beside its head gains nothing on the wire).
    #[arg(long, env = "PREFORK_COMPRESS_MIN_SIZE", default_value_t = 1024)]
    pub compress_min_size: u64,

    /// With --compress: gzip's level, 1 (fastest) to 9 (smallest); 6 is zlib's default.
    #[arg(long, env = "PREFORK_COMPRESS_LEVEL_GZIP", default_value_t = 6,
          value_parser = clap::value_parser!(u32).range(1..=9))]
    pub compress_level_gzip: u32,

    /// With --compress: brotli's quality, 0 to 11; 10 and 11 cost 30 to 100 times the CPU of
    /// 5, and are meant for files compressed beforehand (.br siblings).
    #[arg(long, env = "PREFORK_COMPRESS_LEVEL_BROTLI", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(0..=11))]
    pub compress_level_brotli: u32,

    /// With --compress: zstd's level, 1 to 19; 3 is libzstd's default.
    #[arg(long, env = "PREFORK_COMPRESS_LEVEL_ZSTD", default_value_t = 3,
          value_parser = clap::value_parser!(i32).range(1..=19))]
    pub compress_level_zstd: i32,
}

impl CompressArgs {
    /// # Errors
    /// A type that is not `type/subtype` or `type/*`, or a level whose encoder would not fit
    /// the worker's memory budget.
    pub fn options(&self, memory_budget: u64) -> Result<Option<CompressOptions>, Error> {
        if !self.compress {
            return Ok(None);
        }
        let types: Vec<String> = self
            .compress_types
            .iter()
            .map(|t| t.trim().to_ascii_lowercase())
            .filter(|t| !t.is_empty())
            .collect();
        for t in &types {
            let ok = t.split_once('/').is_some_and(|(top, sub)| {
                let token = |s: &str| {
                    !s.is_empty()
                        && s.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
                };
                token(top) && (sub == "*" || token(sub))
            });
            if !ok {
                return Err(Error::Usage(format!(
                    "--compress-types {t:?}: expected a media type (text/html) or type/* (text/*)"
                )));
            }
        }
        let levels = CompressLevels {
            gzip: self.compress_level_gzip,
            brotli: self.compress_level_brotli,
            zstd: self.compress_level_zstd,
        };
        let need = crate::app::compress::largest_state(levels);
        if need > memory_budget {
            return Err(Error::Usage(format!(
                "the --compress levels need {} MiB per compressing answer, more than the \
                 --memory-budget of {} MiB: lower --compress-level-brotli or \
                 --compress-level-zstd, or raise the budget",
                need.div_ceil(1 << 20),
                memory_budget >> 20
            )));
        }
        Ok(Some(CompressOptions {
            types,
            min_size: self.compress_min_size,
            levels,
        }))
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::config_of;

    #[test]
    fn off_by_default_and_defaults_when_on() {
        assert_eq!(config_of(&[]).compress, None);
        let on = config_of(&["--compress"]).compress.expect("on");
        assert_eq!(on.min_size, 1024);
        assert_eq!(
            (on.levels.gzip, on.levels.brotli, on.levels.zstd),
            (6, 5, 3)
        );
        assert!(on.types.iter().any(|t| t == "text/*"));
        assert!(on.types.iter().any(|t| t == "image/svg+xml"));
    }

    #[test]
    fn bad_values_are_refused() {
        let parse = |args: &[&str]| {
            let args = std::iter::once("prefork-server").chain(args.iter().copied());
            <crate::cli::Cli as clap::Parser>::try_parse_from(args)
                .map_err(|e| e.to_string())
                .and_then(|cli| cli.into_config().map_err(|e| e.to_string()))
        };
        for bad in [
            &["--compress", "--compress-level-gzip", "0"][..],
            &["--compress", "--compress-level-gzip", "10"],
            &["--compress", "--compress-level-brotli", "12"],
            &["--compress", "--compress-level-zstd", "20"],
            &["--compress", "--compress-level-zstd", "-1"],
            &["--compress", "--compress-min-size", "-5"],
            &["--compress", "--compress-types", "html"],
            &["--compress", "--compress-types", "text/html;q=1"],
            &[
                "--compress",
                "--compress-level-brotli",
                "9",
                "--memory-budget",
                "16m",
            ],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert!(parse(&[
            "--compress",
            "--compress-types",
            " Text/HTML , application/*"
        ])
        .is_ok());
        assert!(parse(&["--compress", "--compress-level-brotli", "11"]).is_ok());
    }
}
