//! Response status codes.

/// The statuses this server sends: the ones it names itself, and any other code from 100 to
/// 599 (httpbin's `/status/{code}`, injected statuses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusCode {
    Ok,
    PartialContent,
    MovedPermanently,
    NotModified,
    BadRequest,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    RequestTimeout,
    PreconditionFailed,
    PayloadTooLarge,
    RangeNotSatisfiable,
    UriTooLong,
    HeadTooLarge,
    NotImplemented,
    ServiceUnavailable,
    VersionNotSupported,
    /// Any other code from 100 to 599 (see [`StatusCode::from_code`]).
    Code(u16),
}

impl StatusCode {
    /// The status for a numeric code from 100 to 599; `None` outside that range.
    pub fn from_code(code: u16) -> Option<StatusCode> {
        (100..=599)
            .contains(&code)
            .then_some(StatusCode::Code(code))
    }

    /// The numeric code.
    #[inline]
    pub fn code(self) -> u16 {
        match self {
            StatusCode::Ok => 200,
            StatusCode::PartialContent => 206,
            StatusCode::MovedPermanently => 301,
            StatusCode::NotModified => 304,
            StatusCode::BadRequest => 400,
            StatusCode::Forbidden => 403,
            StatusCode::NotFound => 404,
            StatusCode::MethodNotAllowed => 405,
            StatusCode::RequestTimeout => 408,
            StatusCode::PreconditionFailed => 412,
            StatusCode::PayloadTooLarge => 413,
            StatusCode::RangeNotSatisfiable => 416,
            StatusCode::UriTooLong => 414,
            StatusCode::HeadTooLarge => 431,
            StatusCode::NotImplemented => 501,
            StatusCode::ServiceUnavailable => 503,
            StatusCode::VersionNotSupported => 505,
            StatusCode::Code(code) => code,
        }
    }

    /// Whether a response with this status may have a body: none after a 1xx, 204 or 304
    /// (RFC 9110 §6.4.1), and then no length either (a 304's would have to be the 200's).
    pub fn allows_body(self) -> bool {
        !matches!(self.code(), 100..=199 | 204 | 304)
    }

    /// The short text body of an error status.
    pub fn reason_body(self) -> &'static [u8] {
        match self {
            StatusCode::Ok => b"OK\n",
            StatusCode::PartialContent => b"Partial Content\n",
            StatusCode::MovedPermanently => b"Moved Permanently\n",
            StatusCode::NotModified => b"",
            StatusCode::BadRequest => b"Bad Request\n",
            StatusCode::Forbidden => b"Forbidden\n",
            StatusCode::NotFound => b"Not Found\n",
            StatusCode::MethodNotAllowed => b"Method Not Allowed\n",
            StatusCode::RequestTimeout => b"Request Timeout\n",
            StatusCode::PreconditionFailed => b"Precondition Failed\n",
            StatusCode::PayloadTooLarge => b"Content Too Large\n",
            StatusCode::RangeNotSatisfiable => b"Range Not Satisfiable\n",
            StatusCode::UriTooLong => b"URI Too Long\n",
            StatusCode::HeadTooLarge => b"Request Header Fields Too Large\n",
            StatusCode::NotImplemented => b"Not Implemented\n",
            StatusCode::ServiceUnavailable => b"Service Unavailable\n",
            StatusCode::VersionNotSupported => b"HTTP Version Not Supported\n",
            StatusCode::Code(_) => b"",
        }
    }
}

/// The reason phrase of a registered status code (the IANA HTTP Status Code Registry), empty
/// for an unregistered one: the phrase is optional on the wire (RFC 9112 §4).
pub fn reason_phrase(code: u16) -> &'static [u8] {
    match code {
        100 => b"Continue",
        101 => b"Switching Protocols",
        102 => b"Processing",
        103 => b"Early Hints",
        200 => b"OK",
        201 => b"Created",
        202 => b"Accepted",
        203 => b"Non-Authoritative Information",
        204 => b"No Content",
        205 => b"Reset Content",
        206 => b"Partial Content",
        207 => b"Multi-Status",
        208 => b"Already Reported",
        226 => b"IM Used",
        300 => b"Multiple Choices",
        301 => b"Moved Permanently",
        302 => b"Found",
        303 => b"See Other",
        304 => b"Not Modified",
        305 => b"Use Proxy",
        307 => b"Temporary Redirect",
        308 => b"Permanent Redirect",
        400 => b"Bad Request",
        401 => b"Unauthorized",
        402 => b"Payment Required",
        403 => b"Forbidden",
        404 => b"Not Found",
        405 => b"Method Not Allowed",
        406 => b"Not Acceptable",
        407 => b"Proxy Authentication Required",
        408 => b"Request Timeout",
        409 => b"Conflict",
        410 => b"Gone",
        411 => b"Length Required",
        412 => b"Precondition Failed",
        413 => b"Content Too Large",
        414 => b"URI Too Long",
        415 => b"Unsupported Media Type",
        416 => b"Range Not Satisfiable",
        417 => b"Expectation Failed",
        418 => b"I'm a teapot",
        421 => b"Misdirected Request",
        422 => b"Unprocessable Content",
        423 => b"Locked",
        424 => b"Failed Dependency",
        425 => b"Too Early",
        426 => b"Upgrade Required",
        428 => b"Precondition Required",
        429 => b"Too Many Requests",
        431 => b"Request Header Fields Too Large",
        451 => b"Unavailable For Legal Reasons",
        500 => b"Internal Server Error",
        501 => b"Not Implemented",
        502 => b"Bad Gateway",
        503 => b"Service Unavailable",
        504 => b"Gateway Timeout",
        505 => b"HTTP Version Not Supported",
        506 => b"Variant Also Negotiates",
        507 => b"Insufficient Storage",
        508 => b"Loop Detected",
        510 => b"Not Extended",
        511 => b"Network Authentication Required",
        _ => b"",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert_eq!(StatusCode::from_code(599).unwrap().code(), 599);
        assert_eq!(StatusCode::PayloadTooLarge.code(), 413);
        assert_eq!(StatusCode::from_code(99), None);
        assert_eq!(StatusCode::from_code(600), None);
        assert_eq!(reason_phrase(418), b"I'm a teapot");
        assert_eq!(reason_phrase(599), b"");
        assert!(!StatusCode::NotModified.allows_body());
        assert!(!StatusCode::Code(101).allows_body());
        assert!(StatusCode::NotFound.allows_body());
    }
}
