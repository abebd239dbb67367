//! httpbin's request inspection against the real binary: `/get`, `/post` and its kin,
//! `/anything`, `/headers`, `/ip`, `/user-agent`, `/uuid`, `/hostname`, `/dump/request`, and
//! what every httpbin route shares (methods, CORS, HEAD).

use crate::common;

use common::bin::{exchange, get, raw};
use common::Server;
use serde_json::json;

fn server() -> Server {
    Server::start(&["--workers", "1"])
}

#[test]
fn get_echoes_args_headers_origin_and_url() {
    let s = server();
    let a = get(
        s.addr,
        "/get?a=1&a=2&b=x%20y&c",
        &["X-B3-Traceid: 5", "x-dup: 1", "X-Dup: 2", "User-Agent: t/1"],
    );
    assert_eq!(a.status, 200);
    assert_eq!(a.field("content-type"), Some("application/json"));
    assert_eq!(a.field("access-control-allow-origin"), Some("*"));
    let j = a.json();
    assert_eq!(j["args"], json!({"a": ["1", "2"], "b": "x y", "c": ""}));
    assert_eq!(j["headers"]["X-B3-Traceid"], "5");
    assert_eq!(
        j["headers"]["X-Dup"], "1,2",
        "repeated headers joined, as httpbin"
    );
    assert_eq!(j["headers"]["Host"], "bin.test");
    assert_eq!(j["method"], "GET");
    assert_eq!(j["origin"], "127.0.0.1");
    assert_eq!(j["url"], "http://bin.test/get?a=1&a=2&b=x%20y&c");
    // Behind a proxy: httpbin's origin is the whole X-Forwarded-For, the scheme its proto.
    let j = get(
        s.addr,
        "/get",
        &[
            "X-Forwarded-For: 203.0.113.7, 10.0.0.1",
            "X-Forwarded-Proto: https",
        ],
    )
    .json();
    assert_eq!(j["origin"], "203.0.113.7, 10.0.0.1");
    assert_eq!(j["url"], "https://bin.test/get");
}

#[test]
fn bodies_come_back_as_data_form_files_and_json() {
    let s = server();
    let post = |ct: &str, body: &[u8]| {
        let header = format!("Content-Type: {ct}");
        exchange(s.addr, &raw("POST", "/post", &[&header], body)).json()
    };
    let j = post("application/x-www-form-urlencoded", b"x=1&y=a+b&x=3");
    assert_eq!(j["form"], json!({"x": ["1", "3"], "y": "a b"}));
    assert_eq!((j["data"].as_str(), &j["json"]), (Some(""), &json!(null)));
    let j = post("application/json", br#"{"b": [1, 2.5], "a": {"c": null}}"#);
    assert_eq!(j["json"], json!({"a": {"c": null}, "b": [1, 2.5]}));
    assert_eq!(j["data"], r#"{"b": [1, 2.5], "a": {"c": null}}"#);
    // JSON is parsed whatever the Content-Type says, as httpbin does.
    assert_eq!(post("text/plain", b"[1, 2]")["json"], json!([1, 2]));
    assert_eq!(post("text/plain", "жизнь".as_bytes())["data"], "жизнь");
    assert_eq!(
        post("application/octet-stream", b"\x00\xff\xfe")["data"],
        "data:application/octet-stream;base64,AP/+"
    );
    let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nv\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"up\"; filename=\"a.bin\"\r\n\
Content-Type: image/png\r\n\r\n\x89PNG\x00\xff\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"t\"; filename=\"t.txt\"\r\n\r\nline\r\n--XyZ--\r\n";
    let j = post("multipart/form-data; boundary=XyZ", body);
    assert_eq!(j["form"], json!({"f": "v"}));
    assert_eq!(
        j["files"],
        json!({"t": "line", "up": "data:image/png;base64,iVBORwD/"})
    );
    // A multipart body that does not parse is a 400 that says why, not an empty form.
    let a = exchange(
        s.addr,
        &raw(
            "POST",
            "/post",
            &["Content-Type: multipart/form-data; boundary=XyZ"],
            b"junk",
        ),
    );
    assert_eq!(a.status, 400);
    assert!(a.json()["detail"].as_str().unwrap().contains("NoDelimiter"));
}

#[test]
fn a_large_echo_is_counted_then_sent_whole() {
    let s = server();
    let big: String = (0..40_000).map(|i| format!("{},", i % 10)).collect();
    let body = format!("[{}0]", big);
    let a = exchange(
        s.addr,
        &raw(
            "PUT",
            "/put",
            &["Content-Type: application/json"],
            body.as_bytes(),
        ),
    );
    assert_eq!(a.status, 200);
    let j = a.json();
    assert_eq!(j["json"].as_array().unwrap().len(), 40_001);
    assert_eq!(j["data"].as_str().unwrap().len(), body.len());
    assert_eq!(
        a.body.len(),
        a.field("content-length").unwrap().parse::<usize>().unwrap()
    );
    // Nested deep, pretty-printing would grow without bound: the value comes back on one line.
    let deep = format!("{}1{}", "[".repeat(100), "]".repeat(100));
    let a = exchange(s.addr, &raw("POST", "/anything", &[], deep.as_bytes()));
    assert_eq!(a.json()["json"].to_string(), deep);
}

#[test]
fn methods_cors_and_head() {
    let s = server();
    let a = exchange(s.addr, &raw("POST", "/get", &[], b"x"));
    assert_eq!(
        (a.status, a.field("allow")),
        (405, Some("GET, HEAD, OPTIONS"))
    );
    let a = exchange(s.addr, &raw("GET", "/post", &[], b""));
    assert_eq!((a.status, a.field("allow")), (405, Some("POST, OPTIONS")));
    for (method, path) in [("PUT", "/put"), ("PATCH", "/patch"), ("DELETE", "/delete")] {
        let j = exchange(s.addr, &raw(method, path, &[], b"")).json();
        assert_eq!(j["method"], method);
    }
    for method in ["GET", "POST", "PUT", "DELETE", "PATCH", "TRACE"] {
        let j = exchange(s.addr, &raw(method, "/anything/a/b?q=1", &[], b"")).json();
        assert_eq!(
            (j["method"].as_str(), j["url"].as_str()),
            (Some(method), Some("http://bin.test/anything/a/b?q=1"))
        );
    }
    // A CORS preflight, on any route.
    let a = exchange(
        s.addr,
        &raw(
            "OPTIONS",
            "/status/500",
            &[
                "Origin: https://app.test",
                "Access-Control-Request-Headers: X-Test",
            ],
            b"",
        ),
    );
    assert_eq!(a.status, 200);
    assert_eq!(
        a.field("access-control-allow-origin"),
        Some("https://app.test")
    );
    assert_eq!(a.field("access-control-allow-credentials"), Some("true"));
    assert_eq!(a.field("access-control-allow-headers"), Some("X-Test"));
    assert!(a
        .field("access-control-allow-methods")
        .unwrap()
        .contains("PATCH"));
    // HEAD: the head of the same echo (whose "method" says HEAD, one byte longer than GET),
    // and no body.
    let len =
        |a: &common::bin::Answer| a.field("content-length").unwrap().parse::<usize>().unwrap();
    let got = get(s.addr, "/get", &[]);
    let head = exchange(s.addr, &raw("HEAD", "/get", &[], b""));
    assert_eq!(head.status, 200);
    assert_eq!(len(&head), len(&got) + 1);
}

#[test]
fn small_inspection_routes() {
    let s = server();
    let j = get(s.addr, "/headers", &["X-Custom: yes"]).json();
    assert_eq!(j["headers"]["X-Custom"], "yes");
    assert_eq!(
        get(s.addr, "/ip", &[]).json(),
        json!({"origin": "127.0.0.1"})
    );
    assert_eq!(
        get(s.addr, "/user-agent", &["User-Agent: probe/2"]).json(),
        json!({"user-agent": "probe/2"})
    );
    let ids: Vec<String> = (0..3)
        .map(|_| {
            get(s.addr, "/uuid", &[]).json()["uuid"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    for id in &ids {
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4", "version 4: {id}");
    }
    assert!(ids[0] != ids[1] && ids[1] != ids[2]);
    assert!(get(s.addr, "/hostname", &[]).json()["hostname"].is_string());
    let request = raw(
        "POST",
        "/dump/request?x=1",
        &["X-Order: 1", "x-order: 2"],
        b"payload",
    );
    let a = exchange(s.addr, &request);
    assert_eq!(a.body, request, "the request exactly as it arrived");
}

#[test]
fn off_with_a_root_unless_asked_for() {
    let dir = common::tree::Tree::new();
    dir.file("get", b"a file named get");
    let root = dir.path().to_str().unwrap().to_string();
    let s = Server::start(&["--workers", "1", "--root", &root]);
    assert_eq!(get(s.addr, "/get", &[]).text(), "a file named get");
    assert_eq!(get(s.addr, "/uuid", &[]).status, 404);
    drop(s);
    let s = Server::start(&["--workers", "1", "--root", &root, "--httpbin", "on"]);
    assert_eq!(get(s.addr, "/get", &[]).status, 200);
    assert!(get(s.addr, "/get", &[]).json()["headers"].is_object());
    let s = Server::start(&["--workers", "1", "--httpbin", "off"]);
    assert_eq!(get(s.addr, "/get", &[]).status, 404);
}
