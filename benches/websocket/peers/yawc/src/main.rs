//! yawc (hyper 1 + tokio) echo peer for benches/websocket, the Rust peer with
//! permessage-deflate: WORKERS OS threads, each a tokio current_thread runtime with its own
//! SO_REUSEPORT listener (the shape of benches/load/peers/hyper). `GET /websocket/echo`
//! upgrades; every text or binary message is sent back as it came (fragments reassembled, text
//! checked as UTF-8); pings are answered and closes echoed by yawc. Echoes are queued with
//! `feed` and flushed when no further message is ready (one write for a burst), as yawc's own
//! benchmark server does. `GET /` answers 200 "ok" (readiness).
//!
//! MODE `deflate`: permessage-deflate accepted when offered, level 6, server and client no
//! context takeover, threshold 0 (every message compressed), one compressor/decompressor pool
//! per worker (as prefork-server keeps one codec per worker). MODE `plain`: no compression.
//! usage: peer-yawc PORT [WORKERS] [plain|deflate]   (WORKERS defaults to #cpus)
use bytes::Bytes;
use futures::{FutureExt, SinkExt, StreamExt};
use http_body_util::Full;
use hyper::{body::Incoming, server::conn::http1, service::service_fn, Request, Response};
use hyper_util::rt::TokioIo;
use socket2::{Domain, Socket, Type};
use std::net::SocketAddr;
use yawc::{CompressionLevel, DeflatePool, OpCode, Options, WebSocket};

async fn echo(fut: yawc::UpgradeFut) -> yawc::Result<()> {
    let mut ws = fut.await?;
    loop {
        let frame = match ws.next().now_or_never() {
            Some(Some(f)) => f,
            Some(None) => break,
            None => {
                // nothing ready: write out what the burst queued, then wait
                ws.flush().await?;
                match ws.next().await {
                    Some(f) => f,
                    None => break,
                }
            }
        };
        match frame.opcode() {
            OpCode::Text | OpCode::Binary => ws.feed(frame).await?,
            OpCode::Close => break,
            _ => {}
        }
    }
    let _ = ws.flush().await;
    Ok(())
}

fn options(deflate: bool, pool: &DeflatePool) -> Options {
    let o = Options::default()
        .with_limits(64 << 20, 128 << 20)
        .with_read_buffer_capacity(128 << 10)
        .with_backpressure_boundary(64 << 10)
        .with_utf8()
        .with_no_delay();
    if deflate {
        o.with_compression_level(CompressionLevel::new(6))
            .server_no_context_takeover()
            .client_no_context_takeover()
            .with_compression_threshold(0)
            .with_deflate_pool(pool.clone())
    } else {
        o.without_compression()
    }
}

async fn handle(
    mut req: Request<Incoming>,
    deflate: bool,
    pool: DeflatePool,
) -> yawc::Result<Response<Full<Bytes>>> {
    if req.uri().path() == "/websocket/echo" && req.headers().contains_key(hyper::header::UPGRADE) {
        let (resp, fut) = WebSocket::upgrade_with_options(&mut req, options(deflate, &pool))?;
        tokio::task::spawn_local(async move {
            let _ = echo(fut).await;
        });
        let (parts, _) = resp.into_parts();
        return Ok(Response::from_parts(parts, Full::new(Bytes::new())));
    }
    Ok(Response::new(Full::new(Bytes::from_static(b"ok"))))
}

fn listener(addr: SocketAddr) -> std::net::TcpListener {
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    s.set_reuse_address(true).unwrap();
    s.set_reuse_port(true).unwrap();
    s.set_nodelay(true).unwrap();
    s.bind(&addr.into()).expect("bind");
    s.listen(4096).expect("listen");
    s.set_nonblocking(true).unwrap();
    s.into()
}

fn worker(addr: SocketAddr, deflate: bool) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    // one compressor and one decompressor in use at a time on this thread
    let pool = DeflatePool::new(2);
    local.block_on(&rt, async move {
        let l = tokio::net::TcpListener::from_std(listener(addr)).unwrap();
        loop {
            let (stream, _) = match l.accept().await {
                Ok(x) => x,
                Err(_) => continue,
            };
            let _ = stream.set_nodelay(true);
            let pool = pool.clone();
            tokio::task::spawn_local(async move {
                let _ = http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(
                        TokioIo::new(stream),
                        service_fn(move |req| handle(req, deflate, pool.clone())),
                    )
                    .with_upgrades()
                    .await;
            });
        }
    });
}

fn main() {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(8080);
    let workers: usize = args.next().and_then(|w| w.parse().ok()).unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let mode = args.next().unwrap_or_else(|| "plain".into());
    let deflate = mode == "deflate";
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let hs: Vec<_> = (0..workers)
        .map(|_| std::thread::spawn(move || worker(addr, deflate)))
        .collect();
    eprintln!(
        "peer-yawc listening on {addr} with {workers} workers, mode {mode}, pid {}",
        std::process::id()
    );
    for h in hs {
        let _ = h.join();
    }
}
