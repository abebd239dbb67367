//! The PROXY protocol (`--proxy-protocol`): the header a load balancer puts in front of a
//! connection to name its real client, parsed sans-IO ([`header`], [`v1`], [`v2`]).

pub mod header;
mod v1;
pub mod v2;

pub use self::header::{parse, Accept, Addresses, Command, Header, Malformed, Version};

#[cfg(test)]
mod tests;
