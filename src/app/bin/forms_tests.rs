use super::*;
use MultipartError::*;

fn pairs(input: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Pairs::new();
    parse_urlencoded(input, &mut out);
    out.iter().map(|(n, v)| (n.to_vec(), v.to_vec())).collect()
}

fn owned(list: &[(&str, &str)]) -> Vec<(Vec<u8>, Vec<u8>)> {
    list.iter()
        .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect()
}

fn decode(input: &[u8], plus_is_space: bool) -> Vec<u8> {
    let mut out = Vec::new();
    percent_decode(input, plus_is_space, &mut out);
    out
}

fn cookies(value: &[u8]) -> Vec<(&[u8], &[u8])> {
    let mut out = Vec::new();
    parse_cookies(value, |n, v| out.push((n, v)));
    out
}

fn p<'a>(value: &'a [u8], name: &str) -> Option<Cow<'a, [u8]>> {
    param(value, name.as_bytes())
}

fn part<'a>(
    name: &'a str,
    filename: Option<&'a str>,
    ct: Option<&'a str>,
    data: &'a [u8],
) -> Part<'a> {
    Part {
        name: Cow::Borrowed(name.as_bytes()),
        filename: filename.map(|f| Cow::Borrowed(f.as_bytes())),
        content_type: ct.map(str::as_bytes),
        data,
    }
}

// ---- urlencoded ----

#[test]
fn urlencoded_repeated_names_and_empty_values() {
    assert_eq!(
        pairs(b"a=1&a=2&b="),
        owned(&[("a", "1"), ("a", "2"), ("b", "")])
    );
}

#[test]
fn urlencoded_plus_and_escapes() {
    assert_eq!(pairs(b"q=a+b%20c"), owned(&[("q", "a b c")]));
    assert_eq!(pairs(b"a%2Bb=c%2bd"), owned(&[("a+b", "c+d")]));
    assert_eq!(pairs(b"k%3Dx=v%26y"), owned(&[("k=x", "v&y")]));
    assert_eq!(pairs(b"e=%C3%A9"), owned(&[("e", "é")]));
}

#[test]
fn urlencoded_invalid_escapes_kept() {
    assert_eq!(pairs(b"a=%zz"), owned(&[("a", "%zz")]));
    assert_eq!(
        pairs(b"a=%&b=%4&c=%ZZ1"),
        owned(&[("a", "%"), ("b", "%4"), ("c", "%ZZ1")])
    );
    assert_eq!(pairs(b"a=%%41"), owned(&[("a", "%A")]));
    // Invalid UTF-8 is decoded as bytes, for the caller to judge.
    assert_eq!(pairs(b"a=%ff"), vec![(b"a".to_vec(), vec![0xff])]);
}

#[test]
fn urlencoded_missing_equals_and_edge_pairs() {
    assert_eq!(pairs(b"a&b=1"), owned(&[("a", ""), ("b", "1")]));
    assert_eq!(pairs(b"=="), owned(&[("", "=")]));
    assert_eq!(pairs(b"=x"), owned(&[("", "x")]));
    assert_eq!(pairs(b"a=b=c"), owned(&[("a", "b=c")]));
    assert_eq!(pairs(b""), owned(&[]));
    assert_eq!(pairs(b"&&&"), owned(&[]));
    assert_eq!(pairs(b"a=1&&b=2&"), owned(&[("a", "1"), ("b", "2")]));
    // `;` is not a separator (CVE-2021-23336).
    assert_eq!(pairs(b"a=1;b=2"), owned(&[("a", "1;b=2")]));
}

#[test]
fn urlencoded_appends() {
    let mut out = Pairs::new();
    parse_urlencoded(b"a=1", &mut out);
    parse_urlencoded(b"b=2", &mut out);
    assert_eq!(out.len(), 2);
    assert_eq!(out.get(1), (&b"b"[..], &b"2"[..]));
}

#[test]
fn percent_decode_rules() {
    assert_eq!(decode(b"a+b%20", false), b"a+b ");
    assert_eq!(decode(b"a+b%20", true), b"a b ");
    assert_eq!(decode(b"%", true), b"%");
    assert_eq!(decode(b"%4", true), b"%4");
    assert_eq!(decode(b"%4g%41", true), b"%4gA");
    assert_eq!(decode(b"%2+", true), b"%2 ");
    assert_eq!(decode(b"%e2%82%AC", false), "€".as_bytes());
    assert_eq!(decode(b"%00", false), b"\0");
    assert_eq!(decode("é%".as_bytes(), false), "é%".as_bytes());
    let mut out = b"x".to_vec();
    percent_decode(b"y", false, &mut out);
    assert_eq!(out, b"xy");
}

// ---- Pairs ----

#[test]
fn pairs_sort_is_stable_and_groups() {
    let mut out = Pairs::new();
    parse_urlencoded(b"b=2&a=1&c=&a=3&b=0", &mut out);
    assert_eq!(out.first(b"a"), Some(&b"1"[..]));
    assert_eq!(out.first(b"z"), None);
    out.sort_by_name();
    let sorted: Vec<_> = out.iter().collect();
    let expect: Vec<(&[u8], &[u8])> = vec![
        (b"a", b"1"),
        (b"a", b"3"),
        (b"b", b"2"),
        (b"b", b"0"),
        (b"c", b""),
    ];
    assert_eq!(sorted, expect);
    let groups: Vec<(&[u8], Vec<&[u8]>)> = out.groups().map(|(n, v)| (n, v.collect())).collect();
    let expect: Vec<(&[u8], Vec<&[u8]>)> = vec![
        (b"a", vec![b"1", b"3"]),
        (b"b", vec![b"2", b"0"]),
        (b"c", vec![b""]),
    ];
    assert_eq!(groups, expect);
    assert_eq!(
        out.groups().map(|(_, v)| v.len()).collect::<Vec<_>>(),
        [2, 2, 1]
    );
}

#[test]
fn pairs_sort_keeps_order_of_empty_pairs() {
    // Empty pairs share arena offsets; arrival order must still hold.
    let mut out = Pairs::new();
    out.push(b"", b"");
    out.push(b"", b"y");
    out.push(b"", b"");
    out.push(b"", b"x");
    out.push(b"", b"");
    out.sort_by_name();
    let values: Vec<&[u8]> = out.iter().map(|(_, v)| v).collect();
    assert_eq!(values, [&b""[..], b"y", b"", b"x", b""]);
}

#[test]
fn pairs_groups_bytewise_order() {
    let mut out = Pairs::new();
    parse_urlencoded(b"b=1&B=2&%C3%A9=3&a=4&ab=5", &mut out);
    out.sort_by_name();
    let names: Vec<&[u8]> = out.groups().map(|(n, _)| n).collect();
    assert_eq!(names, [&b"B"[..], b"a", b"ab", b"b", "é".as_bytes()]);
    assert_eq!(Pairs::new().groups().count(), 0);
}

#[test]
fn pairs_clear_reuses_capacity() {
    let mut out = Pairs::new();
    assert!(out.is_empty());
    parse_urlencoded(b"alpha=1&beta=22&gamma=333", &mut out);
    let held = out.capacity_bytes();
    for _ in 0..3 {
        out.clear();
        assert!(out.is_empty());
        parse_urlencoded(b"gamma=333&alpha=1&beta=22", &mut out);
        out.sort_by_name();
        assert_eq!(out.len(), 3);
    }
    assert_eq!(out.capacity_bytes(), held);
}

// ---- media_type / param ----

#[test]
fn media_type_cuts_parameters() {
    assert_eq!(
        media_type(b"Multipart/Form-Data; boundary=x"),
        b"Multipart/Form-Data"
    );
    assert_eq!(media_type(b"  text/plain  "), b"text/plain");
    assert_eq!(media_type(b"text/plain;charset=utf-8"), b"text/plain");
    assert_eq!(media_type(b""), b"");
    assert_eq!(media_type(b";x=y"), b"");
}

#[test]
fn param_tokens_and_case() {
    let ct = b"multipart/form-data; boundary=----WebKitFormBoundaryx8Xa; Charset=UTF-8";
    assert_eq!(
        p(ct, "boundary").as_deref(),
        Some(&b"----WebKitFormBoundaryx8Xa"[..])
    );
    assert_eq!(
        p(ct, "BOUNDARY").as_deref(),
        Some(&b"----WebKitFormBoundaryx8Xa"[..])
    );
    assert_eq!(p(ct, "charset").as_deref(), Some(&b"UTF-8"[..]));
    assert_eq!(p(ct, "missing"), None);
    assert_eq!(p(b"text/plain", "charset"), None);
    assert_eq!(
        p(b"text/plain;charset=a;charset=b", "charset").as_deref(),
        Some(&b"a"[..])
    );
    assert_eq!(
        p(b"text/plain ;; charset=a ;", "charset").as_deref(),
        Some(&b"a"[..])
    );
    assert_eq!(
        p(b"text/plain; charset = a", "charset").as_deref(),
        Some(&b"a"[..])
    );
    // Lenient unquoted values: JavaMail and RFC 2046 boundaries.
    let java = b"multipart/mixed; boundary=----=_Part_0_1.2";
    assert_eq!(
        p(java, "boundary").as_deref(),
        Some(&b"----=_Part_0_1.2"[..])
    );
}

#[test]
fn param_quoted_strings() {
    let cd = br#"form-data; name="a;b=c"; filename="x.txt""#;
    assert_eq!(p(cd, "name").as_deref(), Some(&b"a;b=c"[..]));
    assert_eq!(p(cd, "filename").as_deref(), Some(&b"x.txt"[..]));
    let cd = br#"form-data; name="say \"hi\"; \\o/"; filename="""#;
    assert_eq!(p(cd, "name").as_deref(), Some(&br#"say "hi"; \o/"#[..]));
    assert!(matches!(p(cd, "name"), Some(Cow::Owned(_))));
    assert_eq!(p(cd, "filename").as_deref(), Some(&b""[..]));
    assert!(matches!(p(cd, "filename"), Some(Cow::Borrowed(_))));
    // Not an escape: kept, as browsers mean it (and werkzeug and Go read it).
    let cd = br#"form-data; name="f"; filename="C:\dir\a.txt""#;
    assert_eq!(p(cd, "filename").as_deref(), Some(&br"C:\dir\a.txt"[..]));
    let ct = br#"multipart/form-data; boundary="simple boundary""#;
    assert_eq!(p(ct, "boundary").as_deref(), Some(&b"simple boundary"[..]));
    // filename* (RFC 5987) is another parameter, not filename.
    let cd = b"form-data; name=f; filename*=UTF-8''%C3%A9.txt";
    assert_eq!(p(cd, "filename"), None);
    assert_eq!(p(cd, "name").as_deref(), Some(&b"f"[..]));
}

#[test]
fn param_malformed() {
    assert_eq!(p(br#"a; name="unterminated"#, "name"), None);
    assert_eq!(p(br#"a; name="x\""#, "name"), None);
    assert_eq!(p(br#"a; x="unterminated; name=f"#, "name"), None);
    assert_eq!(p(b"a; flag; name=f", "name"), None);
    assert_eq!(p(b"a; name=", "name"), None);
    assert_eq!(p(b"a; name=two words", "name"), None);
    assert_eq!(p(br#"a; name="x"y"#, "name"), None);
    assert_eq!(p(b"a; =x; name=f", "name"), None);
    assert_eq!(p(b"a; name=\"x\ny\"", "name"), None);
    // A malformed parameter after the one asked for does not matter.
    assert_eq!(
        p(br#"a; name=f; x="oops"#, "name").as_deref(),
        Some(&b"f"[..])
    );
}

// ---- multipart ----

/// RFC 7578 §4.5's example, with a close delimiter.
#[test]
fn multipart_rfc7578_example() {
    let body = b"--AaB03x\r\n\
        content-disposition: form-data; name=\"field1\"\r\n\
        content-type: text/plain;charset=UTF-8\r\n\
        content-transfer-encoding: quoted-printable\r\n\
        \r\n\
        Joe owes =E2=82=AC100.\r\n\
        --AaB03x--\r\n";
    let parts = parse_multipart(body, b"AaB03x", 10).unwrap();
    let ct = Some("text/plain;charset=UTF-8");
    assert_eq!(parts, [part("field1", None, ct, b"Joe owes =E2=82=AC100.")]);
}

/// RFC 7578 §4.2's example of a file part, in a body with two fields.
#[test]
fn multipart_rfc7578_file() {
    let body = b"--AaB03x\r\n\
        Content-Disposition: form-data; name=\"_charset_\"\r\n\r\n\
        iso-8859-1\r\n\
        --AaB03x\r\n\
        Content-Disposition: form-data; name=\"user\"; filename=\"file1.txt\"\r\n\
        Content-Type: text/plain\r\n\r\n\
        ...contents of file1.txt...\r\n\
        --AaB03x--";
    let parts = parse_multipart(body, b"AaB03x", 10).unwrap();
    let expect = [
        part("_charset_", None, None, b"iso-8859-1"),
        part(
            "user",
            Some("file1.txt"),
            Some("text/plain"),
            b"...contents of file1.txt...",
        ),
    ];
    assert_eq!(parts, expect);
}

/// What Chrome sends for a form with a text field, a PNG and an empty file input.
#[test]
fn multipart_chrome_body() {
    let b = "----WebKitFormBoundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    body.extend_from_slice(format!("--{b}\r\n").as_bytes());
    body.extend_from_slice(
        b"Content-Disposition: form-data; name=\"title\"\r\n\r\nHello %22 w\xc3\xb6rld\r\n",
    );
    body.extend_from_slice(format!("--{b}\r\n").as_bytes());
    body.extend_from_slice(
        b"Content-Disposition: form-data; name=\"photo\"; filename=\"a%22b.png\"\r\n",
    );
    body.extend_from_slice(b"Content-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\n\0\0\0\rIHDR\r\n");
    body.extend_from_slice(format!("--{b}\r\n").as_bytes());
    body.extend_from_slice(b"Content-Disposition: form-data; name=\"empty\"; filename=\"\"\r\n");
    body.extend_from_slice(b"Content-Type: application/octet-stream\r\n\r\n\r\n");
    body.extend_from_slice(format!("--{b}--\r\n").as_bytes());
    let ct = format!("multipart/form-data; boundary={b}");
    let boundary = param(ct.as_bytes(), b"boundary").unwrap();
    let parts = parse_multipart(&body, &boundary, 1000).unwrap();
    let expect = [
        part("title", None, None, "Hello %22 wörld".as_bytes()),
        part(
            "photo",
            Some("a%22b.png"),
            Some("image/png"),
            b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR",
        ),
        part("empty", Some(""), Some("application/octet-stream"), b""),
    ];
    assert_eq!(parts, expect);
}

/// Firefox (since 126: `----geckoformboundary<hex>`; before: 27 dashes and digits).
#[test]
fn multipart_firefox_body() {
    for b in [
        "----geckoformboundary6d3a5e1c9b0f2a4d",
        "---------------------------974767299852498929531610575",
    ] {
        let body = format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"q\"\r\n\r\nx y\r\n--{b}--\r\n"
        );
        let parts = parse_multipart(body.as_bytes(), b.as_bytes(), 1000).unwrap();
        assert_eq!(parts, [part("q", None, None, b"x y")]);
    }
}

/// `curl -F f=@a.txt -F n=1`.
#[test]
fn multipart_curl_body() {
    let body = b"--------------------------d74496d66958873e\r\n\
        Content-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\n\
        Content-Type: text/plain\r\n\
        \r\n\
        hello\n\
        \r\n\
        --------------------------d74496d66958873e\r\n\
        Content-Disposition: form-data; name=\"n\"\r\n\
        \r\n\
        1\r\n\
        --------------------------d74496d66958873e--\r\n";
    let ct = b"multipart/form-data; boundary=------------------------d74496d66958873e";
    let boundary = param(ct, b"boundary").unwrap();
    let parts = parse_multipart(body, &boundary, 1000).unwrap();
    let expect = [
        part("f", Some("a.txt"), Some("text/plain"), b"hello\n"),
        part("n", None, None, b"1"),
    ];
    assert_eq!(parts, expect);
}

#[test]
fn multipart_binary_content_with_near_misses() {
    let content: &[u8] = b"\r\n--\r\n\r\r\n\n-- bnd\r\n--bn\r\n--bndX\r\n--bnd-\r\n--bnd \t\r\
        \r\n--bnd-- x\r\n--bnd\n\r\n--bnd\r\r\n\xff\0--bnd--\r";
    let mut body = b"--bnd\r\nContent-Disposition: form-data; name=\"bin\"; filename=\"b\"\r\n\
        Content-Type: application/octet-stream\r\n\r\n"
        .to_vec();
    body.extend_from_slice(content);
    body.extend_from_slice(b"\r\n--bnd--");
    let parts = parse_multipart(&body, b"bnd", 10).unwrap();
    let ct = Some("application/octet-stream");
    assert_eq!(parts, [part("bin", Some("b"), ct, content)]);
}

#[test]
fn multipart_preamble_epilogue_and_padding() {
    // RFC 2046 §5.1.1's example, made form-data: a boundary with a space, transport padding.
    let body = b"This is the preamble.  It is to be ignored.\r\n\
        --simple boundary\r\nContent-Disposition: form-data; name=a\r\n\r\n\
        This is implicitly typed plain US-ASCII text.\r\nIt does NOT end with a linebreak.\r\n\
        --simple boundary \t \r\n\
        Content-type: text/plain; charset=us-ascii\r\ncontent-disposition: FORM-DATA; NAME=b\r\n\r\n\
        It DOES end with a linebreak.\r\n\r\n\
        --simple boundary--  \r\n\r\nThis is the epilogue.  It is also to be ignored.\r\n\
        --simple boundary\r\ngarbage";
    let parts = parse_multipart(body, b"simple boundary", 10).unwrap();
    let expect = [
        part(
            "a",
            None,
            None,
            b"This is implicitly typed plain US-ASCII text.\r\nIt does NOT end with a linebreak.",
        ),
        part(
            "b",
            None,
            Some("text/plain; charset=us-ascii"),
            b"It DOES end with a linebreak.\r\n",
        ),
    ];
    assert_eq!(parts, expect);
    // A preamble that starts like a delimiter but is not one.
    let body = b"--bb\r\n--b\r\nContent-Disposition: form-data; name=x\r\n\r\n1\r\n--b--";
    assert_eq!(
        parse_multipart(body, b"b", 10).unwrap(),
        [part("x", None, None, b"1")]
    );
}

#[test]
fn multipart_empty_parts_and_empty_form() {
    // An empty value, and a part whose headers end at the delimiter's CRLF (RFC 2046
    // `body-part := MIME-part-headers [CRLF *OCTET]`).
    let body = b"--b\r\nContent-Disposition: form-data; name=\"e\"\r\n\r\n\r\n\
        --b\r\nContent-Disposition: form-data; name=\"h\"\r\n\r\n--b--\r\n";
    let parts = parse_multipart(body, b"b", 10).unwrap();
    assert_eq!(
        parts,
        [part("e", None, None, b""), part("h", None, None, b"")]
    );
    // What browsers send for a form with nothing to submit.
    assert_eq!(parse_multipart(b"--b--\r\n", b"b", 10), Ok(vec![]));
    assert_eq!(parse_multipart(b"--b--", b"b", 0), Ok(vec![]));
}

#[test]
fn multipart_quoted_names() {
    let body = b"--b\r\nContent-Disposition: form-data; name=\"a \\\"q\\\"; b\"; filename=\"x\\\\y\"\r\n\r\nv\r\n--b--";
    let parts = parse_multipart(body, b"b", 10).unwrap();
    assert_eq!(parts, [part("a \"q\"; b", Some("x\\y"), None, b"v")]);
    assert!(matches!(parts[0].name, Cow::Owned(_)));
}

#[test]
fn multipart_truncated() {
    let head = b"--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue";
    assert_eq!(parse_multipart(head, b"b", 10), Err(Truncated));
    for tail in [
        &b"\r\n"[..],
        b"\r\n--b",
        b"\r\n--b\r\n",
        b"\r\n--b-",
        b"\r\n--b--x",
        b"\n--b--",
    ] {
        let body = [&head[..], tail].concat();
        assert_eq!(parse_multipart(&body, b"b", 10), Err(Truncated), "{tail:?}");
    }
    assert_eq!(parse_multipart(b"--b\r\n", b"b", 10), Err(Truncated));
    assert_eq!(parse_multipart(b"--b\r\n--b--", b"b", 10), Err(Truncated));
}

#[test]
fn multipart_no_delimiter() {
    for body in [
        &b""[..],
        b"--b",
        b"--bb\r\n",
        b"x--b\r\n",
        b"--b\n",
        b"--b \n",
        b"--c\r\n--b-",
    ] {
        assert_eq!(
            parse_multipart(body, b"b", 10),
            Err(NoDelimiter),
            "{body:?}"
        );
    }
}

#[test]
fn multipart_too_many_parts() {
    let one = b"--b\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n";
    let body = [&one[..], one, one, b"--b--"].concat();
    assert_eq!(parse_multipart(&body, b"b", 3).map(|p| p.len()), Ok(3));
    assert_eq!(parse_multipart(&body, b"b", 2), Err(TooManyParts));
    assert_eq!(parse_multipart(&body, b"b", 0), Err(TooManyParts));
}

#[test]
fn multipart_bad_parts() {
    let cases: &[&[u8]] = &[
        b"",                                                 // no headers at all
        b"Content-Type: text/plain\r\n",                     // no Content-Disposition
        b"Content-Disposition: attachment; name=a\r\n",      // not form-data
        b"Content-Disposition: form-data\r\n",               // no name
        b"Content-Disposition: form-data; filename=a\r\n",   // no name
        b"Content-Disposition: form-data; name=\"a\r\n",     // unterminated
        b"Content-Disposition: form-data; name=a\n",         // bare LF
        b"Content-Disposition: form-data; name=a\r\nX: y\n", // bare LF
        b"Content-Disposition: form-data; name=a\r\nno colon\r\n",
        b"Content-Disposition: form-data; name=a\r\n folded\r\n",
        b"Content-Disposition: form-data; name=a\r\nContent-Disposition: form-data; name=b\r\n",
        b"Content-Disposition: form-data; name=a\r\nContent-Type: a\r\nContent-Type: b\r\n",
    ];
    for head in cases {
        let body = [&b"--b\r\n"[..], head, b"\r\ndata\r\n--b--"].concat();
        assert_eq!(
            parse_multipart(&body, b"b", 10),
            Err(BadPart),
            "{:?}",
            String::from_utf8_lossy(head)
        );
    }
    // Headers that run into the next delimiter, never past it.
    let body = b"--b\r\nContent-Disposition: form-data; name=a\r\n--b\r\n\r\n--b--";
    assert_eq!(parse_multipart(body, b"b", 10), Err(BadPart));
    let body = b"--x:y\r\nContent-Disposition: form-data; name=a\r\n--x:y\r\n\r\n--x:y--";
    assert_eq!(parse_multipart(body, b"x:y", 10), Err(BadPart));
    // 32 fields are allowed, 33 are not.
    for (n, expect) in [(31, Ok(1)), (32, Err(BadPart))] {
        let extra = "X-A: b\r\n".repeat(n);
        let body =
            format!("--b\r\nContent-Disposition: form-data; name=a\r\n{extra}\r\nv\r\n--b--");
        assert_eq!(
            parse_multipart(body.as_bytes(), b"b", 10).map(|p| p.len()),
            expect
        );
    }
}

#[test]
fn multipart_bad_boundaries() {
    let body = b"--b\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--b--";
    let long = [b'x'; 71];
    for boundary in [
        &b""[..],
        b"a b ",
        b"a\"b",
        b"a\r\nb",
        b"\xc3\xa9",
        b"a;b",
        &long,
    ] {
        assert_eq!(
            parse_multipart(body, boundary, 10),
            Err(BadBoundary),
            "{boundary:?}"
        );
    }
    let b70 = "'()+_,-./:=? 0aZ".repeat(5)[..70].to_string();
    let body = format!("--{b70}\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--{b70}--");
    assert_eq!(
        parse_multipart(body.as_bytes(), b70.as_bytes(), 10).map(|p| p.len()),
        Ok(1)
    );
}

#[test]
fn multipart_is_linear_on_near_misses() {
    // A megabyte of near-misses, each one as long as it can be: a quadratic rescan would not
    // end in time.
    let boundary = [b'-'; 70];
    let mut body = b"--".to_vec();
    body.extend_from_slice(&boundary);
    body.extend_from_slice(b"\r\nContent-Disposition: form-data; name=a\r\n\r\n");
    let mut near = b"\r\n--".to_vec();
    near.extend_from_slice(&boundary[..69]);
    near.extend_from_slice(b"x");
    let len = body.len();
    while body.len() < len + (1 << 20) {
        body.extend_from_slice(&near);
    }
    let start = std::time::Instant::now();
    assert_eq!(parse_multipart(&body, &boundary, 10), Err(Truncated));
    let with_padding = [&body[..], b"\r\n--", &boundary, b"   \t x"].concat();
    assert_eq!(
        parse_multipart(&with_padding, &boundary, 10),
        Err(Truncated)
    );
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
}

// ---- cookies ----

#[test]
fn cookies_basic() {
    let expect: Vec<(&[u8], &[u8])> = vec![(b"a", b"1"), (b"b", b"2")];
    assert_eq!(cookies(b"a=1; b=\"2\"; c"), expect);
}

#[test]
fn cookies_spaces_empty_values_and_odd_pairs() {
    let got = cookies(b"  a = 1 ;b=;;  c=\"\" ; =x; d=x=y==; e=\"; f=\"q\"w");
    let expect: Vec<(&[u8], &[u8])> = vec![
        (b"a", b"1"),
        (b"b", b""),
        (b"c", b""),
        (b"d", b"x=y=="),
        (b"e", b"\""),
        (b"f", b"\"q\"w"),
    ];
    assert_eq!(got, expect);
    assert!(cookies(b"").is_empty());
    assert!(cookies(b" ; ;novalue").is_empty());
}
