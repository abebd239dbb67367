//! `--admin-token` and `--admin-token-file`: the bearer token that lets a request on the public
//! port change `/healthz`. A token on the command line is visible to every local user in `ps`,
//! so production setups give it through the environment or, better, a file (a systemd
//! credential, a mounted Kubernetes or Docker secret); the value is never printed, not even by
//! `--help`.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::config::{AdminToken, ADMIN_TOKEN_MAX};
use crate::error::Error;

#[derive(Debug, Clone, clap::Args)]
pub struct AdminArgs {
    /// Bearer token that allows changing /healthz on the public port (16+ characters of
    /// base64/URL-safe text). Seen by `ps` here: prefer PREFORK_ADMIN_TOKEN or
    /// --admin-token-file.
    #[arg(long, env = "PREFORK_ADMIN_TOKEN", hide_env_values = true, value_parser = secret,
          conflicts_with = "admin_token_file")]
    pub admin_token: Option<Secret>,

    /// Read the admin token from this file: its first line (e.g. $CREDENTIALS_DIRECTORY/token
    /// with systemd's LoadCredential=, or a mounted secret).
    #[arg(long, env = "PREFORK_ADMIN_TOKEN_FILE")]
    pub admin_token_file: Option<PathBuf>,
}

/// The token as given, checked later by [`AdminArgs::token`]: a value clap rejects is printed
/// back in its error message, and a mistyped secret is still a secret.
#[derive(Clone)]
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

fn secret(s: &str) -> Result<Secret, std::convert::Infallible> {
    Ok(Secret(s.to_string()))
}

impl AdminArgs {
    /// The token, from the option, the environment or the file.
    ///
    /// # Errors
    /// A token that is no valid one (a usage error), a file that cannot be read (a
    /// configuration error) or that holds no valid token.
    pub fn token(&self) -> Result<Option<AdminToken>, Error> {
        match (&self.admin_token, &self.admin_token_file) {
            (Some(Secret(token)), _) => AdminToken::new(token.as_bytes())
                .map(Some)
                .map_err(|why| Error::Usage(format!("--admin-token: {why}"))),
            (None, Some(path)) => read_token(path).map(Some),
            (None, None) => Ok(None),
        }
    }
}

/// The first line of `path`, without its line end, as a token.
fn read_token(path: &Path) -> Result<AdminToken, Error> {
    let fail = |why: String| Error::Config(format!("--admin-token-file {}: {why}", path.display()));
    let mut text = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(ADMIN_TOKEN_MAX as u64 + 2).read_to_end(&mut text))
        .map_err(|e| fail(format!("could not read it: {e}")))?;
    let line = text.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    AdminToken::new(line).map_err(|why| fail(why.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_file_gives_its_first_line() {
        let dir = std::env::temp_dir().join(format!("prefork-admin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("token");
        std::fs::write(&path, "0123456789abcdef-_\r\nsecond line\n").unwrap();
        let token = read_token(&path).unwrap();
        assert!(token.matches(b"0123456789abcdef-_"));
        std::fs::write(&path, "short\n").unwrap();
        assert!(matches!(read_token(&path), Err(Error::Config(_))));
        std::fs::write(&path, "has a space in it, sadly\n").unwrap();
        assert!(read_token(&path).is_err());
        assert!(read_token(&dir.join("missing")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
