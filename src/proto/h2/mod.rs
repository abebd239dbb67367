//! HTTP/2 (RFC 9113), sans-IO like the other protocols. So far only its header compression,
//! [`hpack`]; the connection that frames streams around it is issue 23.
// Until the HTTP/2 connection uses it (issue 23).
#![allow(dead_code)]

pub mod hpack;
