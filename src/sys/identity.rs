//! Who the workers run as: `--user` and `--group` resolved by the master (as root, before any
//! fork), and the drop each worker makes right after its fork, in the order that cannot be
//! undone halfway: supplementary groups, then the group, then the user, then
//! `PR_SET_NO_NEW_PRIVS`.

use std::fmt;
use std::io;
use std::os::fd::AsFd;
use std::path::Path;

use nix::unistd::{self, Gid, Group, Uid, User};

/// The ids a worker drops to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// As given (a name, or a number with no passwd entry), for messages.
    pub user: String,
    pub uid: Uid,
    pub gid: Gid,
    /// Supplementary groups: the user's groups from the group database (as `initgroups`
    /// would set), always including `gid`.
    pub groups: Vec<Gid>,
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (uid {}, gid {})", self.user, self.uid, self.gid)
    }
}

/// Why `--user`/`--group` cannot be used.
#[derive(Debug, PartialEq, Eq)]
pub enum ResolveError {
    /// No such user or group, or a numeric user with no entry and no `--group`.
    Unknown(String),
    /// Another user was asked for, but the master is not root.
    NotRoot(String),
}

/// Resolves `--user` (a name or a uid) and `--group` (a name or a gid; default: the user's
/// primary group). `Ok(None)` when there is nothing to drop: no `--user`, or the ids asked for
/// are already the process's own (a non-root start with `--user` naming itself).
pub fn resolve(user: Option<&str>, group: Option<&str>) -> Result<Option<Identity>, ResolveError> {
    let Some(user) = user else {
        return Ok(None);
    };
    let entry = lookup_user(user)?;
    let (uid, name) = match &entry {
        Some(u) => (u.uid, u.name.clone()),
        None => (Uid::from_raw(parse_id(user)), user.to_string()),
    };
    let gid = match group {
        Some(g) => lookup_group(g)?,
        None => match &entry {
            Some(u) => u.gid,
            None => {
                return Err(ResolveError::Unknown(format!(
                    "--user {user}: no such user in the user database; a numeric uid without \
                     an entry needs --group too"
                )))
            }
        },
    };
    let mut groups = match &entry {
        Some(u) => {
            let cname = std::ffi::CString::new(u.name.as_bytes())
                .map_err(|_| ResolveError::Unknown(format!("--user {user}: a NUL in its name")))?;
            unistd::getgrouplist(&cname, gid).unwrap_or_else(|_| vec![gid])
        }
        None => vec![gid],
    };
    if !groups.contains(&gid) {
        groups.push(gid);
    }
    let me = Uid::effective();
    if !me.is_root() {
        if uid == me && gid == Gid::effective() {
            return Ok(None);
        }
        return Err(ResolveError::NotRoot(format!(
            "--user {user}: switching to another user needs the master to start as root (it \
             runs as uid {me}); start it as root, or leave --user out"
        )));
    }
    Ok(Some(Identity {
        user: name,
        uid,
        gid,
        groups,
    }))
}

fn parse_id(s: &str) -> u32 {
    s.parse().unwrap_or(u32::MAX)
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && s.parse::<u32>().is_ok()
}

/// The passwd entry for a name or a uid; `Ok(None)` for a uid with no entry (containers).
fn lookup_user(user: &str) -> Result<Option<User>, ResolveError> {
    let found = if is_number(user) {
        User::from_uid(Uid::from_raw(parse_id(user)))
    } else {
        User::from_name(user)
    };
    match found {
        Ok(Some(u)) => Ok(Some(u)),
        Ok(None) if is_number(user) => Ok(None),
        Ok(None) => Err(ResolveError::Unknown(format!(
            "--user {user}: no such user"
        ))),
        Err(e) => Err(ResolveError::Unknown(format!(
            "--user {user}: the user database could not be read: {e}"
        ))),
    }
}

/// A group by name or gid (a gid with no entry is taken as given).
fn lookup_group(group: &str) -> Result<Gid, ResolveError> {
    if is_number(group) {
        return Ok(Gid::from_raw(parse_id(group)));
    }
    match Group::from_name(group) {
        Ok(Some(g)) => Ok(g.gid),
        Ok(None) => Err(ResolveError::Unknown(format!(
            "--group {group}: no such group"
        ))),
        Err(e) => Err(ResolveError::Unknown(format!(
            "--group {group}: the group database could not be read: {e}"
        ))),
    }
}

impl Identity {
    /// Drops this process to the identity for good: groups, gid, uid (each after the one it
    /// needs root for), then checks that root cannot be taken back, then sets
    /// `PR_SET_NO_NEW_PRIVS`. The kernel clears the parent-death signal on a change of
    /// credentials, so set that after this.
    ///
    /// # Errors
    /// The failing step, with the ids in the message; the process must not serve then.
    pub fn drop_privileges(&self) -> io::Result<()> {
        let step = |what: &str, r: nix::Result<()>| {
            r.map_err(|e| io::Error::new(io::ErrorKind::PermissionDenied, format!("{what}: {e}")))
        };
        step("setgroups", unistd::setgroups(&self.groups))?;
        step("setgid", unistd::setgid(self.gid))?;
        step("setuid", unistd::setuid(self.uid))?;
        if !self.uid.is_root() && unistd::setuid(Uid::from_raw(0)).is_ok() {
            return Err(io::Error::other("root could be taken back after setuid"));
        }
        step("PR_SET_NO_NEW_PRIVS", nix::sys::prctl::set_no_new_privs())?;
        // A credential change made the process non-dumpable, which also hands its /proc
        // files to root: the worker could no longer count its own descriptors for /metrics.
        // It runs as the user now; letting that user's own tools see it is what they expect.
        step("PR_SET_DUMPABLE", nix::sys::prctl::set_dumpable(true))?;
        Ok(())
    }

    /// Makes the file at `path` (created if missing, as a log is) belong to this identity, so a
    /// worker that reopens it after a rotation can (the master keeps root and creates it).
    ///
    /// # Errors
    /// If it cannot be opened or its owner changed.
    pub fn hand_over(&self, path: &Path) -> io::Result<()> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        unistd::fchown(file.as_fd(), Some(self.uid), Some(self.gid))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_to_drop_without_a_user() {
        assert_eq!(resolve(None, None), Ok(None));
    }

    #[test]
    fn unknown_names_are_refused_with_the_name() {
        match resolve(Some("no-such-user-prefork"), None) {
            Err(ResolveError::Unknown(m)) => assert!(m.contains("no-such-user-prefork"), "{m}"),
            other => panic!("{other:?}"),
        }
        match resolve(Some("0"), Some("no-such-group-prefork")) {
            Err(ResolveError::Unknown(m)) => assert!(m.contains("--group"), "{m}"),
            other => panic!("{other:?}"),
        }
        // A uid with no entry needs a group.
        match resolve(Some("4000000000"), None) {
            Err(ResolveError::Unknown(m)) => assert!(m.contains("needs --group"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn naming_oneself_is_nothing_to_drop_and_another_user_needs_root() {
        let me = Uid::effective();
        let my_gid = Gid::effective();
        if !me.is_root() {
            assert_eq!(
                resolve(Some(&me.to_string()), Some(&my_gid.to_string())),
                Ok(None)
            );
            assert!(matches!(
                resolve(Some("0"), Some("0")),
                Err(ResolveError::NotRoot(_))
            ));
        } else {
            let id = resolve(Some("0"), Some("0")).unwrap().unwrap();
            assert!(id.uid.is_root() && id.groups.contains(&Gid::from_raw(0)));
            // A numeric uid with no entry, with a group: taken as given.
            let id = resolve(Some("4000000000"), Some("4000000001"))
                .unwrap()
                .unwrap();
            assert_eq!(id.uid.as_raw(), 4_000_000_000);
            assert_eq!(id.groups, vec![Gid::from_raw(4_000_000_001)]);
        }
    }
}
