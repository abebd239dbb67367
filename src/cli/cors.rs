//! `--cors-origin`, `--cors-methods`, `--cors-headers`, `--cors-max-age`,
//! `--cors-credentials`, `--cors-expose-headers`: a CORS policy for every route.

use crate::config::CorsOptions;
use crate::error::Error;

#[derive(Debug, Clone, clap::Args)]
pub struct CorsArgs {
    /// Allow cross-origin requests from these origins (comma-separated, as browsers send them:
    /// https://app.example), or * for any, on every route and file: preflights are answered,
    /// answers carry Access-Control-Allow-Origin and Vary: Origin. Replaces the httpbin
    /// routes' own CORS (every origin, with credentials).
    #[arg(long, env = "PREFORK_CORS_ORIGIN", value_delimiter = ',')]
    pub cors_origin: Vec<String>,

    /// Methods a preflight may ask for (GET, HEAD and POST need none).
    #[arg(
        long,
        env = "PREFORK_CORS_METHODS",
        value_delimiter = ',',
        default_value = "GET,HEAD,POST,PUT,PATCH,DELETE"
    )]
    pub cors_methods: Vec<String>,

    /// Request headers a preflight may ask for (comma-separated), or * for any; none but the
    /// CORS-safelisted ones by default.
    #[arg(long, env = "PREFORK_CORS_HEADERS", value_delimiter = ',')]
    pub cors_headers: Vec<String>,

    /// How long a browser may cache a preflight's answer, in seconds (Access-Control-Max-Age).
    #[arg(long, env = "PREFORK_CORS_MAX_AGE")]
    pub cors_max_age: Option<u32>,

    /// Allow credentials (cookies, Authorization): Access-Control-Allow-Credentials: true, and
    /// the request's origin named back instead of *.
    #[arg(long, env = "PREFORK_CORS_CREDENTIALS")]
    pub cors_credentials: bool,

    /// Response headers a page's script may read (Access-Control-Expose-Headers).
    #[arg(long, env = "PREFORK_CORS_EXPOSE_HEADERS")]
    pub cors_expose_headers: Option<String>,
}

/// A token (a method or a header name): visible ASCII, no separators.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

impl CorsArgs {
    /// # Errors
    /// A companion option without `--cors-origin`, or a value that cannot be sent.
    pub fn options(&self) -> Result<Option<CorsOptions>, Error> {
        let trim = |v: &[String]| -> Vec<String> {
            v.iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        };
        let origins = trim(&self.cors_origin);
        if origins.is_empty() {
            if !self.cors_headers.is_empty()
                || self.cors_max_age.is_some()
                || self.cors_credentials
                || self.cors_expose_headers.is_some()
            {
                return Err(Error::Usage(
                    "--cors-headers, --cors-max-age, --cors-credentials and \
                     --cors-expose-headers need --cors-origin"
                        .into(),
                ));
            }
            return Ok(None);
        }
        for o in &origins {
            let ok = o == "*"
                || ((o.starts_with("http://") || o.starts_with("https://"))
                    && !o.ends_with('/')
                    && o.bytes().all(|b| b.is_ascii_graphic()));
            if !ok {
                return Err(Error::Usage(format!(
                    "--cors-origin {o:?}: an origin is scheme://host[:port], no path (or *)"
                )));
            }
        }
        let methods: Vec<String> = trim(&self.cors_methods)
            .into_iter()
            .map(|m| m.to_ascii_uppercase())
            .collect();
        let headers = trim(&self.cors_headers);
        for t in methods.iter().chain(headers.iter().filter(|h| *h != "*")) {
            if !is_token(t) {
                return Err(Error::Usage(format!(
                    "--cors-methods/--cors-headers: {t:?} is not a token"
                )));
            }
        }
        if let Some(e) = &self.cors_expose_headers {
            if e.split(',').any(|t| !is_token(t.trim()) && t.trim() != "*") {
                return Err(Error::Usage(format!(
                    "--cors-expose-headers {e:?}: a list of header names"
                )));
            }
        }
        Ok(Some(CorsOptions {
            methods_value: methods.join(", "),
            origins,
            methods,
            headers,
            max_age_value: self.cors_max_age.map(|a| a.to_string()),
            credentials: self.cors_credentials,
            expose_value: self.cors_expose_headers.clone(),
        }))
    }
}
