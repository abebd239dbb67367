//! `--user` and `--group`: the identity the workers serve as, when the master starts as root.

use crate::error::Error;
use crate::sys::identity::{self, Identity, ResolveError};

#[derive(Debug, Clone, clap::Args)]
pub struct UserArgs {
    /// Run the workers as this user (a name or a uid): the master binds, raises limits and
    /// opens logs as root, then each worker drops to it (setgroups, setgid, setuid,
    /// PR_SET_NO_NEW_PRIVS) before it serves; files under --root are read as it. Needs a root
    /// start, unless it names the user already running. Not needed under systemd's
    /// DynamicUser=.
    #[arg(long, env = "PREFORK_USER")]
    pub user: Option<String>,

    /// The workers' group (a name or a gid); default: --user's primary group.
    #[arg(long, env = "PREFORK_GROUP", requires = "user")]
    pub group: Option<String>,
}

impl UserArgs {
    /// Resolves the names now, in the master, before any fork (a worker never reads the user
    /// database).
    pub fn identity(&self) -> Result<Option<Identity>, Error> {
        identity::resolve(self.user.as_deref(), self.group.as_deref()).map_err(|e| match e {
            ResolveError::Unknown(m) => Error::Config(m),
            ResolveError::NotRoot(m) => Error::Privileges(m),
        })
    }
}
