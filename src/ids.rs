//! Names for a worker and for a connection, as logs, `/whoami`, `/inspect` and the JSON access
//! log write them.

/// A worker's identity, as `/whoami` tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerId {
    pub pid: u32,
    /// The worker's slot, `0..--workers`.
    pub slot: u32,
    /// How many workers this slot has had, this one included.
    pub generation: u64,
}

/// A connection's id, as `/inspect` and the JSON access log write it: `<worker pid>-<token>`.
///
/// Derived, not stored (a `Connection` must not grow): the token is the connection's slab
/// key, `generation << 32 | index`, unique among one worker's connections for the worker's
/// life because a slot's generation moves on at every close; the pid sets the workers apart.
/// So an id names one connection on this host, until pids wrap around.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionId {
    pub pid: u32,
    pub token: u64,
}

impl std::fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.pid, self.token)
    }
}
