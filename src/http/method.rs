//! Request methods.

/// The methods this server recognises (RFC 9110 §9 and PATCH, RFC 5789). Any other token is
/// 501 (RFC 9110 §9.1); a recognised method a resource does not take is 405.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Connect,
    Options,
    Trace,
    Patch,
}

impl Method {
    /// The method a token names. Method names are case-sensitive (RFC 9110 §9.1): `get` is
    /// not `GET`.
    #[inline]
    pub fn from_token(token: &[u8]) -> Option<Method> {
        Some(match token {
            b"GET" => Method::Get,
            b"HEAD" => Method::Head,
            b"POST" => Method::Post,
            b"PUT" => Method::Put,
            b"DELETE" => Method::Delete,
            b"CONNECT" => Method::Connect,
            b"OPTIONS" => Method::Options,
            b"TRACE" => Method::Trace,
            b"PATCH" => Method::Patch,
            _ => return None,
        })
    }

    /// The method's token, as a request line spells it.
    pub fn name(self) -> &'static [u8] {
        match self {
            Method::Get => b"GET",
            Method::Head => b"HEAD",
            Method::Post => b"POST",
            Method::Put => b"PUT",
            Method::Delete => b"DELETE",
            Method::Connect => b"CONNECT",
            Method::Options => b"OPTIONS",
            Method::Trace => b"TRACE",
            Method::Patch => b"PATCH",
        }
    }

    /// GET or HEAD: a request for a representation, whose answer a HEAD gets without the body.
    pub fn is_get_like(self) -> bool {
        matches!(self, Method::Get | Method::Head)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        for m in [
            Method::Get,
            Method::Head,
            Method::Post,
            Method::Put,
            Method::Delete,
            Method::Connect,
            Method::Options,
            Method::Trace,
            Method::Patch,
        ] {
            assert_eq!(Method::from_token(m.name()), Some(m));
        }
        assert_eq!(Method::from_token(b"get"), None);
    }
}
