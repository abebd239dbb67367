//! ns per request for the HTTP protocol layer alone (no sockets): `cargo bench --bench parse`.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use prefork_server::buffer::Buf;
use prefork_server::http::Handler;
use prefork_server::output::Output;
use prefork_server::proto::h1::Http1;
use prefork_server::proto::{Env, Next};
use prefork_server::testing::TestSite;

fn run_once(
    http: &mut Http1,
    input: &mut Buf,
    output: &mut Output,
    (ctx, app): (&Env<'_>, &mut dyn Handler),
    raw: &[u8],
) {
    input.extend_from_slice(raw);
    let next = http.on_data(input, output, ctx, app);
    debug_assert_eq!(next, Next::NeedInput);
    black_box(output.next_write());
    let freed = output.advance(output.len());
    ctx.budget
        .release(freed, prefork_server::memory::Use::Output);
}

fn bench(c: &mut Criterion) {
    let site = TestSite::new(Default::default());
    let ctx = site.env(1 << 20);
    let mut app = site.app();
    let get = b"GET / HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n"
        .to_vec();
    let pipelined = get.repeat(16);
    let mut post = b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1024\r\n\r\n".to_vec();
    post.extend(std::iter::repeat_n(b'x', 1024));
    let mut chunked =
        b"POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..4 {
        chunked.extend_from_slice(b"100\r\n");
        chunked.extend(std::iter::repeat_n(b'y', 256));
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");

    let cases: [(&str, &[u8], u64); 4] = [
        ("get", &get, 1),
        ("pipelined_16_get", &pipelined, 16),
        ("post_1kib", &post, 1),
        ("chunked_post_1kib", &chunked, 1),
    ];
    let mut group = c.benchmark_group("http");
    for (name, raw, requests) in cases {
        group.throughput(Throughput::Elements(requests));
        let mut http = Http1::new();
        let mut input = Buf::new();
        let mut output = Output::new();
        output.buffer().extend_from_slice(&[0; 16 * 1024]);
        output.buffer().consume(16 * 1024);
        group.bench_function(name, |b| {
            b.iter(|| run_once(&mut http, &mut input, &mut output, (&ctx, &mut *app), raw));
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
