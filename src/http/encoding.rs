//! Content negotiation of content codings (RFC 9110 §12.5.3): which of `br`, `zstd` and `gzip`
//! a client accepts, by q-value, against what the server can send: the precompressed siblings
//! a file has on disk, or (`--compress`) any of the three made on the fly.

use super::fields::Named;

/// A content coding a precompressed sibling, or a body compressed on the fly, can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Br,
    Zstd,
    Gzip,
}

impl Coding {
    /// In order of preference when q-values tie: the smaller encodings first.
    pub const ALL: [Coding; 3] = [Coding::Br, Coding::Zstd, Coding::Gzip];

    /// The sibling's suffix on disk.
    pub fn suffix(self) -> &'static [u8] {
        match self {
            Coding::Br => b".br",
            Coding::Zstd => b".zst",
            Coding::Gzip => b".gz",
        }
    }

    /// Its place in [`Coding::ALL`] (and in every array indexed like it).
    pub fn index(self) -> usize {
        match self {
            Coding::Br => 0,
            Coding::Zstd => 1,
            Coding::Gzip => 2,
        }
    }

    /// The `Content-Encoding` value.
    pub fn name(self) -> &'static [u8] {
        match self {
            Coding::Br => b"br",
            Coding::Zstd => b"zstd",
            Coding::Gzip => b"gzip",
        }
    }
}

/// The q-values (in thousandths) a request gives each coding and identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    codings: [u16; 3],
    identity: u16,
}

impl Accepted {
    /// From the request's `Accept-Encoding` field lines, if any. Without the field, only
    /// identity is acceptable for our purpose (RFC 9110 §12.5.3 allows any coding then, but a
    /// client that says nothing is not sent a compressed body it may not expect).
    pub fn of(fields: Option<Named<'_>>) -> Accepted {
        let mut codings: [Option<u16>; 3] = [None; 3];
        let mut identity: Option<u16> = None;
        let mut any: Option<u16> = None;
        let Some(fields) = fields else {
            return Accepted {
                codings: [0; 3],
                identity: 1000,
            };
        };
        for value in fields.values() {
            for element in value.split(|&b| b == b',') {
                let mut parts = element.split(|&b| b == b';');
                let name = parts.next().unwrap_or_default().trim_ascii();
                if name.is_empty() {
                    continue;
                }
                let mut q = Some(1000);
                for param in parts {
                    let param = param.trim_ascii();
                    if let Some(v) = param
                        .strip_prefix(b"q=")
                        .or_else(|| param.strip_prefix(b"Q="))
                    {
                        q = qvalue(v.trim_ascii());
                    }
                }
                let Some(q) = q else {
                    continue; // an invalid weight: the element is ignored
                };
                let slot = if name.eq_ignore_ascii_case(b"br") {
                    &mut codings[0]
                } else if name.eq_ignore_ascii_case(b"zstd") {
                    &mut codings[1]
                } else if name.eq_ignore_ascii_case(b"gzip") || name.eq_ignore_ascii_case(b"x-gzip")
                {
                    &mut codings[2]
                } else if name.eq_ignore_ascii_case(b"identity") {
                    &mut identity
                } else if name == b"*" {
                    &mut any
                } else {
                    continue;
                };
                *slot = Some(slot.map_or(q, |prev: u16| prev.max(q)));
            }
        }
        Accepted {
            codings: codings.map(|q| q.or(any).unwrap_or(0)),
            // identity is acceptable unless excluded by name or by `*;q=0` (§12.5.3); unnamed,
            // it is the least preferred of what is acceptable (`gzip;q=0.8` asks for gzip, as
            // nginx and Apache read it), so it weighs the least weight there is.
            identity: identity.or(any).unwrap_or(1),
        }
    }

    /// The coding to send among those `available` (in `Coding::ALL` order), or `None` for
    /// identity: the highest q-value above zero, identity winning only if it is preferred.
    /// When nothing is acceptable (`identity;q=0` and no coding we have), `None` too: RFC 9110
    /// §12.5.3 lets the server send identity rather than 406, and nginx does the same.
    pub fn choose(&self, available: [bool; 3]) -> Option<Coding> {
        let mut best: Option<(u16, Coding)> = None;
        for (i, coding) in Coding::ALL.into_iter().enumerate() {
            let q = self.codings[i];
            if available[i] && q > 0 && best.is_none_or(|(b, _)| q > b) {
                best = Some((q, coding));
            }
        }
        best.filter(|&(q, _)| q >= self.identity)
            .map(|(_, coding)| coding)
    }
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`, in thousandths.
fn qvalue(v: &[u8]) -> Option<u16> {
    let (int, frac) = match v.iter().position(|&b| b == b'.') {
        Some(dot) => (&v[..dot], &v[dot + 1..]),
        None => (v, &b""[..]),
    };
    if frac.len() > 3 || !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let thousandths = frac
        .iter()
        .chain(std::iter::repeat(&b'0'))
        .take(3)
        .fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'));
    match int {
        b"0" => Some(thousandths),
        b"1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepted(value: Option<&str>) -> Accepted {
        let head = match value {
            Some(v) => format!("GET / HTTP/1.1\r\nAccept-Encoding: {v}\r\n\r\n"),
            None => "GET / HTTP/1.1\r\n\r\n".to_string(),
        };
        let head: &'static [u8] = Box::leak(head.into_bytes().into_boxed_slice());
        Accepted::of(crate::http::FieldLines::Head(head).named(b"accept-encoding"))
    }

    const ALL: [bool; 3] = [true, true, true];

    #[test]
    fn choices() {
        use Coding::*;
        assert_eq!(accepted(None).choose(ALL), None);
        assert_eq!(accepted(Some("gzip, br")).choose(ALL), Some(Br));
        assert_eq!(
            accepted(Some("gzip, br")).choose([false, true, true]),
            Some(Gzip)
        );
        assert_eq!(
            accepted(Some("gzip;q=1.0, br;q=0.5")).choose(ALL),
            Some(Gzip)
        );
        assert_eq!(accepted(Some("zstd, gzip;q=0.9")).choose(ALL), Some(Zstd));
        assert_eq!(accepted(Some("*")).choose(ALL), Some(Br));
        assert_eq!(accepted(Some("*;q=0.5, gzip")).choose(ALL), Some(Gzip));
        assert_eq!(accepted(Some("br;q=0")).choose(ALL), None);
        assert_eq!(accepted(Some("identity")).choose(ALL), None);
        assert_eq!(accepted(Some("gzip;q=0.5, identity")).choose(ALL), None);
        assert_eq!(
            accepted(Some("gzip;q=0.5, identity;q=0.5")).choose(ALL),
            Some(Gzip)
        );
        assert_eq!(accepted(Some("x-gzip")).choose(ALL), Some(Gzip));
        assert_eq!(
            accepted(Some("gzip;q=2")).choose(ALL),
            None,
            "an invalid weight"
        );
        assert_eq!(accepted(Some("deflate, compress")).choose(ALL), None);
    }

    #[test]
    fn odd_fields() {
        use Coding::*;
        // Nothing acceptable: identity excluded by name or by `*;q=0`, and no coding left.
        assert_eq!(accepted(Some("identity;q=0")).choose(ALL), None);
        assert_eq!(accepted(Some("*;q=0")).choose(ALL), None);
        assert_eq!(accepted(Some("identity;q=0, deflate")).choose(ALL), None);
        // Identity excluded: any coding we have wins, at any weight.
        assert_eq!(
            accepted(Some("identity;q=0, gzip;q=0.001")).choose(ALL),
            Some(Gzip)
        );
        // `*;q=0` with identity allowed by name: identity.
        assert_eq!(accepted(Some("*;q=0, identity")).choose(ALL), None);
        // `*;q=0` does not take back what a coding's own element gave.
        assert_eq!(accepted(Some("*;q=0, zstd")).choose(ALL), Some(Zstd));
        assert_eq!(accepted(Some("*, br;q=0")).choose(ALL), Some(Zstd));
        // Ties go to the smaller encoding: br, then zstd, then gzip.
        assert_eq!(accepted(Some("gzip, zstd")).choose(ALL), Some(Zstd));
        assert_eq!(
            accepted(Some("gzip;q=0.8, br;q=0.8, zstd;q=0.8")).choose(ALL),
            Some(Br)
        );
        // Names and `q` in any case, spaces around, empty elements, several field lines.
        assert_eq!(accepted(Some("GZIP ; Q=1 ,, ")).choose(ALL), Some(Gzip));
        assert_eq!(accepted(Some(" , Br")).choose(ALL), Some(Br));
        // A duplicate keeps its highest weight.
        assert_eq!(
            accepted(Some("gzip;q=0.1, br;q=0.5, gzip;q=0.9")).choose(ALL),
            Some(Gzip)
        );
        // Invalid weights drop their element only.
        for bad in [
            "br;q=",
            "br;q=x",
            "br;q=1.1",
            "br;q=-1",
            "br;q=0.5.5",
            "br;q=0.1234",
        ] {
            let field = format!("{bad}, gzip;q=0.2");
            assert_eq!(accepted(Some(&field)).choose(ALL), Some(Gzip), "{bad}");
        }
        // Other parameters are ignored.
        assert_eq!(
            accepted(Some("gzip;level=9;q=0.3, br;q=0.2")).choose(ALL),
            Some(Gzip)
        );
        // An empty field: the client wants no coding.
        assert_eq!(accepted(Some("")).choose(ALL), None);
        assert_eq!(Coding::ALL.map(Coding::index), [0, 1, 2]);
    }

    #[test]
    fn qvalues() {
        assert_eq!(qvalue(b"0"), Some(0));
        assert_eq!(qvalue(b"0.5"), Some(500));
        assert_eq!(qvalue(b"0.001"), Some(1));
        assert_eq!(qvalue(b"1"), Some(1000));
        assert_eq!(qvalue(b"1.000"), Some(1000));
        assert_eq!(qvalue(b"1.5"), None);
        assert_eq!(qvalue(b"0.0001"), None);
        assert_eq!(qvalue(b".5"), None);
    }
}
