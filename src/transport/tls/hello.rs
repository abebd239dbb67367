//! The name a ClientHello asks for (SNI, RFC 6066 §3), read from its first record before
//! rustls sees it: rustls's unbuffered server does not say which name a session was made for,
//! and the access log, `/inspect` and resumed sessions want it. rustls still parses and checks
//! the whole ClientHello; this only reads, within bounds, and gives up on anything unusual.

/// The host name in the ClientHello that `record` (a whole TLS record: header and fragment)
/// carries, if it carries one whole and it names a host.
pub fn server_name(record: &[u8]) -> Option<&str> {
    let mut r = Reader(record);
    // Record header: handshake (22), a version, the fragment's length.
    if r.u8()? != 22 {
        return None;
    }
    r.take(2)?;
    let fragment = r.vec16()?;
    let mut h = Reader(fragment);
    // Handshake header: client_hello (1), a 24-bit length.
    if h.u8()? != 1 {
        return None;
    }
    let len = usize::from(h.u8()?) << 16 | usize::from(h.u16()?);
    let mut hello = Reader(h.take(len)?);
    hello.take(2 + 32)?; // legacy_version, random
    hello.vec8()?; // legacy_session_id
    hello.vec16()?; // cipher_suites
    hello.vec8()?; // legacy_compression_methods
    let mut extensions = Reader(hello.vec16()?);
    while !extensions.0.is_empty() {
        let kind = extensions.u16()?;
        let body = extensions.vec16()?;
        if kind != 0 {
            continue;
        }
        let mut list = Reader(Reader(body).vec16()?);
        while !list.0.is_empty() {
            let name_type = list.u8()?;
            let name = list.vec16()?;
            if name_type == 0 {
                let name = std::str::from_utf8(name).ok()?;
                let usable = !name.is_empty()
                    && name.len() <= 253
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
                return usable.then_some(name);
            }
        }
        return None;
    }
    None
}

/// The length of the whole record at the start of `bytes` (header included), if its header
/// is there.
pub fn record_len(bytes: &[u8]) -> Option<usize> {
    let header = bytes.get(..5)?;
    Some(5 + usize::from(u16::from_be_bytes([header[3], header[4]])))
}

/// A cursor that fails (`None`) instead of reading past the end.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }

    fn vec8(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }

    fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ClientHello record with `extensions`.
    fn hello(extensions: &[u8]) -> Vec<u8> {
        let mut body = vec![3, 3];
        body.extend([7u8; 32]);
        body.push(0); // session id
        body.extend([0, 2, 0x13, 0x01]); // one suite
        body.extend([1, 0]); // null compression
        body.extend((extensions.len() as u16).to_be_bytes());
        body.extend(extensions);
        let mut handshake = vec![1, 0];
        handshake.extend((body.len() as u16).to_be_bytes());
        handshake.extend(body);
        let mut record = vec![22, 3, 1];
        record.extend((handshake.len() as u16).to_be_bytes());
        record.extend(handshake);
        record
    }

    fn sni(name: &[u8]) -> Vec<u8> {
        let mut entry = vec![0];
        entry.extend((name.len() as u16).to_be_bytes());
        entry.extend(name);
        let mut list = (entry.len() as u16).to_be_bytes().to_vec();
        list.extend(entry);
        let mut ext = vec![0, 0];
        ext.extend((list.len() as u16).to_be_bytes());
        ext.extend(list);
        ext
    }

    #[test]
    fn finds_the_name_after_other_extensions() {
        let mut ext = vec![0, 10, 0, 2, 0, 29]; // supported_groups, cut short but framed
        ext.extend(sni(b"a.example"));
        let record = hello(&ext);
        assert_eq!(record_len(&record), Some(record.len()));
        assert_eq!(server_name(&record), Some("a.example"));
    }

    #[test]
    fn no_name_or_a_bad_one_is_none() {
        assert_eq!(server_name(&hello(&[])), None);
        assert_eq!(server_name(&hello(&sni(b"bad name"))), None);
        assert_eq!(server_name(&hello(&sni(b""))), None);
        assert_eq!(server_name(b"GET / HTTP/1.1\r\n"), None);
        let whole = hello(&sni(b"a.example"));
        for cut in 0..whole.len() {
            assert_eq!(server_name(&whole[..cut]), None, "cut at {cut}");
        }
    }
}
