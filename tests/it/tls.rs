//! HTTPS against the real binary: TLS 1.3 and 1.2 (1.1 refused), ALPN, SNI, mutual TLS,
//! resumption across workers, what a TLS port says to plaintext HTTP, hostile handshakes,
//! files, `/inspect`, the access log and `/metrics`, with certificates made by the test.

use crate::common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::tls::{self, Ca, ClientOptions};
use common::{get, is_closed_by_peer, wait_until, Server};

use tls::{pki, start_https as start};

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The sum of a counter over every worker, from the plain port's `/metrics`.
fn metric(addr: SocketAddr, name: &str, label: &str) -> u64 {
    let text = get(addr, "/metrics").body_str().to_string();
    text.lines()
        .filter(|l| l.starts_with(name) && l.contains(label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

fn json(resp: &common::Response) -> serde_json::Value {
    serde_json::from_slice(&resp.body).expect("a JSON body")
}

#[test]
fn https_beside_plain_http_tls13_and_tls12_keep_alive_alpn_and_inspect() {
    let dir = tls::test_dir("basics");
    let (ca, cert, key) = pki(&dir);
    let log = dir.join("access.log");
    let server = start(&cert, &key, &["--access-log", path(&log)]);
    let https = server.https_addr();
    assert_eq!(get(server.addr, "/").status, 200, "plain HTTP on --port");

    let both = ClientOptions {
        alpn: vec![b"h2", b"http/1.1"],
        ..Default::default()
    };
    let s = tls::connect(https, &tls::client_config(&ca.pem, &both), "localhost").unwrap();
    assert_eq!(s.conn.alpn_protocol(), Some(&b"h2"[..]), "h2 is preferred");
    drop(s);
    let offers = ClientOptions {
        alpn: vec![b"http/1.1"],
        ..Default::default()
    };
    let mut s = tls::connect(https, &tls::client_config(&ca.pem, &offers), "localhost").unwrap();
    assert_eq!(s.conn.alpn_protocol(), Some(&b"http/1.1"[..]));
    assert_eq!(
        s.conn.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_3)
    );
    for _ in 0..3 {
        let resp = tls::get(&mut s, "/");
        assert_eq!(resp.status, 200);
        assert_eq!(resp.body_str(), "Hello, World!");
    }
    let inspect = json(&tls::get(&mut s, "/inspect"));
    let t = &inspect["tls"];
    assert_eq!(t["version"], "TLSv1.3");
    assert_eq!(t["sni"], "localhost");
    assert_eq!(t["alpn"], "http/1.1");
    assert_eq!(t["resumed"], false);
    assert_eq!(t["client_certificate"], serde_json::Value::Null);
    assert!(t["cipher"].as_str().unwrap().starts_with("TLS13_"), "{t}");
    let get_json = json(&tls::get(&mut s, "/get"));
    assert!(
        get_json["url"].as_str().unwrap().starts_with("https://"),
        "httpbin's url says https: {get_json}"
    );
    drop(s);

    let tls12 = ClientOptions {
        tls12_only: true,
        ..Default::default()
    };
    let mut s = tls::connect(https, &tls::client_config(&ca.pem, &tls12), "localhost").unwrap();
    let inspect = json(&tls::get(&mut s, "/inspect"));
    assert_eq!(inspect["tls"]["version"], "TLSv1.2");
    assert!(
        inspect["tls"]["cipher"]
            .as_str()
            .unwrap()
            .starts_with("TLS_ECDHE_"),
        "ECDHE suites only: {inspect}"
    );
    assert_eq!(
        json(&get(server.addr, "/inspect"))["tls"],
        serde_json::Value::Null
    );
    drop(s);

    let counted = wait_until(Duration::from_secs(5), || {
        let full = metric(
            server.addr,
            "prefork_tls_handshakes_total",
            "outcome=\"full\"",
        );
        (full >= 2).then_some(full)
    });
    assert!(counted.is_some(), "handshakes counted");
    assert!(metric(server.addr, "prefork_tls_sessions_total", "TLSv1.2") >= 1);
    assert!(metric(server.addr, "prefork_tls_sessions_total", "TLSv1.3") >= 1);
    drop(server); // flushes the access log
    let log = wait_until(Duration::from_secs(5), || {
        std::fs::read_to_string(&log)
            .ok()
            .filter(|l| l.contains("TLSv1.2"))
    })
    .expect("access log lines over TLS");
    let line = log
        .lines()
        .find(|l| l.contains("GET /inspect") && l.contains("TLSv1.3"))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(line.ends_with(" sni=localhost\""), "{line}");
    assert!(line.contains("\" \"TLSv1.3 TLS13_"), "{line}");
    // The plaintext request's line is the combined format as it was: nothing after the agent.
    let plain = log
        .lines()
        .filter(|l| l.contains("\"GET / HTTP/1.1\" 200") && !l.contains("TLSv"))
        .count();
    assert_eq!(plain, 1, "one plaintext GET /, unchanged:\n{log}");
}

#[test]
fn tls_on_the_main_port_and_plain_http_gets_nginx_s_400() {
    let dir = tls::test_dir("main-port");
    let (ca, cert, key) = pki(&dir);
    let server = Server::start(&["--tls-cert", path(&cert), "--tls-key", path(&key)]);
    let config = tls::client_config(&ca.pem, &Default::default());
    let mut s = tls::connect(server.addr, &config, "localhost").unwrap();
    assert_eq!(tls::get(&mut s, "/").status, 200);
    // Plaintext HTTP to a TLS port: answered in the clear, as nginx does, then closed.
    let resp = get(server.addr, "/");
    assert_eq!(resp.status, 400);
    assert_eq!(
        resp.body_str(),
        "The plain HTTP request was sent to an HTTPS port\n"
    );
    assert_eq!(resp.header("connection"), Some("close"));
    // The session ends with close_notify when the server closes it.
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    assert!(tls::closes_cleanly(&mut s), "close_notify before the FIN");
}

/// A ClientHello that offers TLS 1.1 at most (no supported_versions extension), with one
/// ECDHE suite: what a client too old for this server sends.
fn tls11_client_hello() -> Vec<u8> {
    let mut body = vec![3, 2]; // TLS 1.1
    body.extend([0x42u8; 32]);
    body.push(0);
    body.extend([0, 2, 0xc0, 0x13]); // TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA
    body.extend([1, 0]);
    let ext: &[u8] = &[
        0, 10, 0, 4, 0, 2, 0, 29, // supported_groups: x25519
        0, 11, 0, 2, 1, 0, // ec_point_formats
    ];
    body.extend((ext.len() as u16).to_be_bytes());
    body.extend(ext);
    let mut hs = vec![1, 0];
    hs.extend((body.len() as u16).to_be_bytes());
    hs.extend(body);
    let mut record = vec![22, 3, 1];
    record.extend((hs.len() as u16).to_be_bytes());
    record.extend(hs);
    record
}

/// What the server sent before it closed (bounded).
fn read_to_close(s: &mut TcpStream) -> Vec<u8> {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}

#[test]
fn tls11_is_refused_with_an_alert() {
    let dir = tls::test_dir("tls11");
    let (_ca, cert, key) = pki(&dir);
    let server = start(&cert, &key, &[]);
    let mut s = TcpStream::connect(server.https_addr()).unwrap();
    s.write_all(&tls11_client_hello()).unwrap();
    let answer = read_to_close(&mut s);
    assert_eq!(answer.first(), Some(&21), "an alert record: {answer:?}");
    assert_eq!(answer.len(), 7, "one alert, then the close: {answer:?}");
    assert_eq!(answer[5], 2, "fatal");
    assert!(
        [40, 70].contains(&answer[6]),
        "handshake_failure or protocol_version: {answer:?}"
    );
    assert!(
        metric(
            server.addr,
            "prefork_tls_handshakes_total",
            "outcome=\"failed\""
        ) >= 1
    );
}

#[test]
fn sni_picks_the_certificate_and_the_first_is_the_default() {
    let dir = tls::test_dir("sni");
    let ca = Ca::new("Test CA");
    let (a_cert, a_key) = tls::write_pair(&dir, "a", &ca.server(&["a.test"]));
    let (b_cert, b_key) = tls::write_pair(&dir, "b", &ca.server(&["b.test", "*.b.test"]));
    let server = Server::start(&[
        "--tls-port",
        "0",
        "--tls-cert",
        path(&a_cert),
        "--tls-key",
        path(&a_key),
        "--tls-cert",
        path(&b_cert),
        "--tls-key",
        path(&b_key),
    ]);
    let https = server.https_addr();
    let config = tls::client_config(&ca.pem, &Default::default());
    for name in ["a.test", "b.test", "www.b.test"] {
        // The client checks the certificate against the name: a connection is the proof.
        let mut s = tls::connect(https, &config, name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(json(&tls::get(&mut s, "/inspect"))["tls"]["sni"], name);
    }
    let Err(err) = tls::connect(https, &config, "c.test") else {
        panic!("an unknown name gets the first certificate, a.test's");
    };
    let err = err.to_string();
    assert!(
        err.contains("not valid for name") && err.contains("a.test"),
        "{err}"
    );
}

#[test]
fn mutual_tls_required_and_optional() {
    let dir = tls::test_dir("mtls");
    let (ca, cert, key) = pki(&dir);
    let client_ca = Ca::new("Client CA");
    let ca_file = dir.join("clients.pem");
    std::fs::write(&ca_file, &client_ca.pem).unwrap();
    let good = client_ca.client("alice");
    let stranger = Ca::new("Other CA").client("mallory");
    let with = |certificate| ClientOptions {
        certificate,
        ..Default::default()
    };

    let required = start(&cert, &key, &["--tls-client-ca", path(&ca_file)]);
    let https = required.https_addr();
    let mut s = tls::connect(
        https,
        &tls::client_config(&ca.pem, &with(Some(&good))),
        "localhost",
    )
    .unwrap();
    let inspect = json(&tls::get(&mut s, "/inspect"));
    let presented = &inspect["tls"]["client_certificate"];
    assert_eq!(presented["subject"], "CN=alice, O=Tests");
    assert_eq!(presented["issuer"], "CN=Client CA");
    assert_eq!(presented["sha256"].as_str().unwrap().len(), 64);
    // Without a certificate, or with one the CA did not sign: no session. (A TLS 1.3 client
    // learns it on its first read, after its own handshake is done.)
    for certificate in [None, Some(&stranger)] {
        let config = tls::client_config(&ca.pem, &with(certificate));
        let refused = tls::connect(https, &config, "localhost").and_then(|mut s| {
            s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")?;
            let mut buf = [0u8; 64];
            s.read(&mut buf)
        });
        assert!(refused.is_err(), "refused: {refused:?}");
    }

    let optional = start(
        &cert,
        &key,
        &[
            "--tls-client-ca",
            path(&ca_file),
            "--tls-client-auth",
            "optional",
        ],
    );
    let https = optional.https_addr();
    let mut s = tls::connect(
        https,
        &tls::client_config(&ca.pem, &with(None)),
        "localhost",
    )
    .unwrap();
    let inspect = json(&tls::get(&mut s, "/inspect"));
    assert_eq!(
        inspect["tls"]["client_certificate"],
        serde_json::Value::Null
    );
    let mut s = tls::connect(
        https,
        &tls::client_config(&ca.pem, &with(Some(&good))),
        "localhost",
    )
    .unwrap();
    let inspect = json(&tls::get(&mut s, "/inspect"));
    assert_eq!(
        inspect["tls"]["client_certificate"]["subject"],
        "CN=alice, O=Tests"
    );
}

/// 100 reconnections of one client to 4 workers: each after the first resumes its session
/// (tickets sealed with the key the master shares), whichever worker takes it.
#[test]
fn sessions_resume_across_workers() {
    let dir = tls::test_dir("resume");
    let (ca, cert, key) = pki(&dir);
    let server = start(&cert, &key, &["--workers", "4"]);
    let https = server.https_addr();
    for (name, options) in [
        ("TLS 1.3", ClientOptions::default()),
        (
            "TLS 1.2",
            ClientOptions {
                tls12_only: true,
                ..Default::default()
            },
        ),
    ] {
        let config = tls::client_config(&ca.pem, &options);
        let mut resumed = 0;
        let mut pids = std::collections::HashSet::new();
        for _ in 0..100 {
            let mut s = tls::connect(https, &config, "localhost").unwrap();
            let inspect = json(&tls::get(&mut s, "/inspect"));
            resumed += u32::from(inspect["tls"]["resumed"] == true);
            pids.insert(inspect["worker"]["pid"].as_u64().unwrap());
        }
        eprintln!(
            "{name}: {resumed} of 100 connections resumed, over {} workers",
            pids.len()
        );
        assert!(
            pids.len() > 1,
            "{name}: connections reached several workers"
        );
        assert!(resumed >= 95, "{name}: only {resumed} of 100 resumed");
    }
    assert!(
        metric(
            server.addr,
            "prefork_tls_handshakes_total",
            "outcome=\"resumed\""
        ) >= 190
    );
}

/// The bytes of a real ClientHello (rustls's) for `localhost`.
fn client_hello(ca: &Ca) -> Vec<u8> {
    let config = tls::client_config(&ca.pem, &Default::default());
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut conn = rustls::ClientConnection::new(config, name).unwrap();
    let mut hello = Vec::new();
    conn.write_tls(&mut hello).unwrap();
    hello
}

#[test]
fn hostile_handshakes_get_an_alert_or_a_close_and_others_are_served() {
    let dir = tls::test_dir("hostile");
    let (ca, cert, key) = pki(&dir);
    let server = start(&cert, &key, &["--workers", "1", "--header-timeout", "1s"]);
    let https = server.https_addr();
    let config = tls::client_config(&ca.pem, &Default::default());
    let hello = client_hello(&ca);

    // A ClientHello a byte at a time is slow, not wrong: the ServerHello comes.
    let mut slow = TcpStream::connect(https).unwrap();
    slow.set_nodelay(true).unwrap();
    for b in &hello {
        slow.write_all(std::slice::from_ref(b)).unwrap();
        std::thread::sleep(Duration::from_micros(200));
    }
    let mut first = [0u8; 5];
    slow.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    slow.read_exact(&mut first).unwrap();
    assert_eq!(first[0], 22, "a handshake record (ServerHello)");

    // A record that claims to be larger than any allowed: an alert, then the close.
    let mut huge = TcpStream::connect(https).unwrap();
    huge.write_all(&[22, 3, 1, 0xff, 0xff, 1, 2, 3]).unwrap();
    let answer = read_to_close(&mut huge);
    assert_eq!(answer.first(), Some(&21), "an alert: {answer:?}");

    // Garbage that is no TLS record at all.
    let mut garbage = TcpStream::connect(https).unwrap();
    garbage.write_all(&[0x99; 300]).unwrap();
    let answer = read_to_close(&mut garbage);
    assert!(answer.is_empty() || answer[0] == 21, "{answer:?}");

    // Half a ClientHello, then nothing: closed at the header timeout, and counted.
    let mut half = TcpStream::connect(https).unwrap();
    half.write_all(&hello[..hello.len() / 2]).unwrap();
    let started = Instant::now();
    // Meanwhile everyone else is served.
    let mut s = tls::connect(https, &config, "localhost").unwrap();
    assert_eq!(tls::get(&mut s, "/").status, 200);
    assert!(is_closed_by_peer(&mut half, Duration::from_secs(5)));
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900),
        "closed after {waited:?}"
    );
    assert_eq!(tls::get(&mut s, "/").status, 200);
    let timeouts = metric(
        server.addr,
        "prefork_tls_handshakes_total",
        "outcome=\"timeout\"",
    );
    assert!(timeouts >= 1, "handshake timeouts counted: {timeouts}");
    assert!(
        metric(
            server.addr,
            "prefork_tls_handshakes_total",
            "outcome=\"failed\""
        ) >= 1
    );
}

#[test]
fn files_over_tls_are_read_and_encrypted_a_record_at_a_time() {
    let dir = tls::test_dir("files");
    let (ca, cert, key) = pki(&dir);
    let root = dir.join("www");
    std::fs::create_dir_all(&root).unwrap();
    let data: Vec<u8> = (0..3 * 1024 * 1024 + 17)
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    std::fs::write(root.join("big.bin"), &data).unwrap();
    let server = start(&cert, &key, &["--root", path(&root)]);
    let config = tls::client_config(&ca.pem, &Default::default());
    let mut s = tls::connect(server.https_addr(), &config, "localhost").unwrap();
    let resp = tls::get(&mut s, "/big.bin");
    assert_eq!(resp.status, 200);
    assert!(resp.body == data, "the whole file, byte for byte");
    let request = "GET /big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=1000000-1000099\r\n\r\n";
    s.write_all(request.as_bytes()).unwrap();
    let resp = common::read_response(&mut s, &mut Vec::new(), false);
    assert_eq!(resp.status, 206);
    assert_eq!(resp.body, &data[1_000_000..1_000_100]);
}

#[test]
fn echo_speaks_over_tls_too() {
    let dir = tls::test_dir("echo");
    let (ca, cert, key) = pki(&dir);
    let server = Server::start(&[
        "--protocol",
        "echo",
        "--tls-cert",
        path(&cert),
        "--tls-key",
        path(&key),
    ]);
    let config = tls::client_config(&ca.pem, &Default::default());
    let mut s = tls::connect(server.addr, &config, "localhost").unwrap();
    let message = vec![b'x'; 100_000];
    s.write_all(&message).unwrap();
    let mut back = vec![0u8; message.len()];
    s.read_exact(&mut back).unwrap();
    assert!(back == message);
}

#[test]
fn a_proxy_v2_header_before_the_handshake_names_the_client() {
    let dir = tls::test_dir("proxy");
    let (ca, cert, key) = pki(&dir);
    let server = start(
        &cert,
        &key,
        &[
            "--proxy-protocol",
            "v2",
            "--trusted-proxies",
            "127.0.0.1/32",
        ],
    );
    let config = tls::client_config(&ca.pem, &Default::default());
    let tcp = TcpStream::connect(server.https_addr()).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // PROXY v2: TCP over IPv4, 203.0.113.9:4321 → 192.0.2.1:443.
    let mut header = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    header.extend([
        0x21, 0x11, 0, 12, 203, 0, 113, 9, 192, 0, 2, 1, 0x10, 0xe1, 1, 0xbb,
    ]);
    (&tcp).write_all(&header).unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(config, name).unwrap();
    let mut s = rustls::StreamOwned::new(conn, tcp);
    let inspect = json(&tls::get(&mut s, "/inspect"));
    assert_eq!(inspect["proxy"]["client"], "203.0.113.9:4321");
    assert_eq!(inspect["tls"]["version"], "TLSv1.3");
    let origin = json(&tls::get(&mut s, "/ip"));
    assert_eq!(origin["origin"], "203.0.113.9");
    // Without the header the connection is closed without a word.
    let mut bare = TcpStream::connect(server.https_addr()).unwrap();
    bare.write_all(&client_hello(&ca)).unwrap();
    assert!(read_to_close(&mut bare).is_empty());
}

/// `--check` finds what would stop the start, with exit code 2 and a line naming the file.
#[test]
fn check_refuses_certificates_that_cannot_serve() {
    let dir = tls::test_dir("check");
    let ca = Ca::new("Test CA");
    let good = tls::write_pair(&dir, "good", &ca.server(&["localhost"]));
    let other = tls::write_pair(&dir, "other", &ca.server(&["localhost"]));
    let mut expired = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    expired.not_before = rcgen::date_time_ymd(2020, 1, 1);
    expired.not_after = rcgen::date_time_ymd(2021, 1, 1);
    let expired = tls::write_pair(&dir, "expired", &ca.sign(expired));
    let nameless = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    let nameless = tls::write_pair(&dir, "nameless", &ca.sign(nameless));
    let garbage = dir.join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").unwrap();
    let check = |cert: &Path, key: &Path| {
        let out = Command::new(common::BIN)
            .args(["--check", "--bind", "127.0.0.1", "--port", "0"])
            .args(["--tls-cert", path(cert), "--tls-key", path(key)])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, said) = check(&good.0, &good.1);
    assert_eq!(code, Some(0), "{said}");
    for ((cert, key), why) in [
        ((&good.0, &other.1), "the key is not the certificate's"),
        ((&expired.0, &expired.1), "expired"),
        ((&nameless.0, &nameless.1), "no subjectAltName"),
        ((&garbage, &good.1), "holds no certificate"),
        ((&dir.join("missing.pem"), &good.1), "cannot read"),
    ] {
        let (code, said) = check(cert, key);
        assert_eq!(code, Some(2), "{why}: {said}");
        assert!(said.contains(why), "{why}: {said}");
        assert!(
            said.contains(".pem") || said.contains(".key"),
            "names the file: {said}"
        );
    }
}

/// SIGHUP reads the certificate files again: good ones are served by the new workers; bad
/// ones are refused with a log line, and the workers running keep serving the old ones.
#[test]
fn reload_reads_certificates_again_and_refuses_bad_ones() {
    let dir = tls::test_dir("reload");
    let (ca, cert, key) = pki(&dir);
    let server = start(&cert, &key, &["--workers", "2"]);
    let https = server.https_addr();
    let config = tls::client_config(&ca.pem, &Default::default());
    let serial = |s: &tls::TlsStream| s.conn.peer_certificates().unwrap()[0].to_vec();
    let before = serial(&tls::connect(https, &config, "localhost").unwrap());

    // A new certificate for the same names.
    tls::write_pair(&dir, "server", &ca.server(&["localhost", "127.0.0.1"]));
    server.signal(nix::sys::signal::Signal::SIGHUP);
    let changed = wait_until(Duration::from_secs(10), || {
        let now = serial(&tls::connect(https, &config, "localhost").ok()?);
        (now != before).then_some(now)
    })
    .unwrap_or_else(|| panic!("the new certificate is served:\n{}", server.log_text()));

    // A broken one: refused, and the running workers keep the last good one.
    std::fs::write(
        &key,
        "-----BEGIN PRIVATE KEY-----\nbroken\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let workers = server.workers();
    server.signal(nix::sys::signal::Signal::SIGHUP);
    server
        .wait_for_log("reload refused", Duration::from_secs(10))
        .unwrap_or_else(|| panic!("a clear line:\n{}", server.log_text()));
    assert_eq!(server.workers(), workers, "no new generation");
    for _ in 0..10 {
        let s = tls::connect(https, &config, "localhost").unwrap();
        assert_eq!(serial(&s), changed);
    }
}

/// Responses written over time, request controls and `/raw` go through TLS like the rest.
#[test]
fn responses_over_time_controls_and_raw_over_tls() {
    let dir = tls::test_dir("over-time");
    let (ca, cert, key) = pki(&dir);
    let server = start(&cert, &key, &["--workers", "1"]);
    let config = tls::client_config(&ca.pem, &Default::default());
    let mut s = tls::connect(server.https_addr(), &config, "localhost").unwrap();
    // Chunked, written by a producer step by step.
    s.write_all(b"GET /stream/3 HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.ends_with(b"0\r\n\r\n") {
        let n = s.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "closed mid-stream: {}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got);
    assert!(text.contains("Transfer-Encoding: chunked"), "{text}");
    assert_eq!(text.matches("\"id\": ").count(), 3, "{text}");
    // Paced by the worker's timers.
    let started = Instant::now();
    let drip = tls::get(&mut s, "/drip?duration=0.3&numbytes=3&delay=0");
    assert_eq!((drip.status, drip.body.len()), (200, 3));
    assert!(started.elapsed() >= Duration::from_millis(250));
    // A request control, and /raw's bytes as they came (decrypted).
    assert_eq!(tls::get(&mut s, "/get?status=418").status, 418);
    let raw = tls::get(&mut s, "/raw");
    assert!(raw
        .body_str()
        .starts_with("GET /raw HTTP/1.1\r\nHost: localhost\r\n"));
    assert_eq!(
        tls::get(&mut s, "/").status,
        200,
        "and the connection goes on"
    );
}

/// `--check` tries `--tls-port` like `--port`, and, like it, not with `--port 0` (a unit's
/// check while the running server holds both ports).
#[test]
fn check_tries_the_tls_port_unless_told_not_to() {
    let dir = tls::test_dir("check-port");
    let (_ca, cert, key) = pki(&dir);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let check = |main_port: &str| {
        Command::new(common::BIN)
            .args(["--check", "--bind", "127.0.0.1", "--port", main_port])
            .args([
                "--tls-port",
                &port,
                "--tls-cert",
                path(&cert),
                "--tls-key",
                path(&key),
            ])
            .output()
            .unwrap()
            .status
            .code()
    };
    assert_eq!(
        check("0"),
        Some(0),
        "--port 0: the real ports are not tried"
    );
    let free = common::free_port().to_string();
    assert_eq!(check(&free), Some(75), "the TLS port is in use");
}
