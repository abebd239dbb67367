//! fastwebsockets (hyper 1 + tokio) echo peer for benches/websocket: WORKERS OS threads, each
//! a tokio current_thread runtime with its own SO_REUSEPORT listener (the shape of
//! benches/load/peers/hyper). `GET /websocket/echo` upgrades; every text or binary message is
//! sent back as it came (fragments collected into one message); pings are answered and closes
//! echoed by fastwebsockets itself (auto pong, auto close). `GET /` answers 200 "ok" (readiness).
//! No permessage-deflate (fastwebsockets has none).
//!
//! MODE `batched` (the default) puts a write-coalescing layer under fastwebsockets
//! ([`Coalesce`]): echoes are gathered in a buffer and written with one syscall when the
//! connection has nothing more to read right now (or 64 KiB are waiting), instead of one
//! write(2) per message; large writes go straight through. MODE `plain` is fastwebsockets as it
//! comes (one write per echoed frame).
//! usage: peer-fastwebsockets PORT [WORKERS] [batched|plain]   (WORKERS defaults to #cpus)
use bytes::Bytes;
use fastwebsockets::{upgrade, FragmentCollector, OpCode, Role, WebSocket, WebSocketError};
use http_body_util::Full;
use hyper::{body::Incoming, server::conn::http1, service::service_fn, Request, Response};
use hyper_util::rt::TokioIo;
use socket2::{Domain, Socket, Type};
use std::io::IoSlice;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

static BATCHED: AtomicBool = AtomicBool::new(true);

/// Writes below this go to the buffer; at or above it (and with nothing buffered) straight out.
const DIRECT: usize = 16 * 1024;
/// Buffered bytes that make a write flush first.
const HIGH: usize = 64 * 1024;

/// A write-coalescing stream: small writes are buffered, and the buffer is written out when a
/// read finds nothing to read (the reader would wait anyway), on flush, or when it is full.
struct Coalesce<S> {
    inner: S,
    buf: Vec<u8>,
    pos: usize,
}

impl<S: AsyncWrite + Unpin> Coalesce<S> {
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        while self.pos < self.buf.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.buf[self.pos..]))?;
            if n == 0 {
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            self.pos += n;
        }
        self.buf.clear();
        self.pos = 0;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Coalesce<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        rb: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let me = self.get_mut();
        match Pin::new(&mut me.inner).poll_read(cx, rb) {
            Poll::Pending => {
                // nothing to read now: send what the echoes left in the buffer
                if let Poll::Ready(Err(e)) = me.poll_drain(cx) {
                    return Poll::Ready(Err(e));
                }
                Poll::Pending
            }
            r => r,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Coalesce<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let me = self.get_mut();
        if me.buf.len() - me.pos + data.len() > HIGH || data.len() >= DIRECT {
            ready!(me.poll_drain(cx))?;
        }
        if data.len() >= DIRECT {
            return Pin::new(&mut me.inner).poll_write(cx, data);
        }
        me.buf.extend_from_slice(data);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let me = self.get_mut();
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if me.buf.len() - me.pos + total > HIGH || total >= DIRECT {
            ready!(me.poll_drain(cx))?;
        }
        if total >= DIRECT {
            return Pin::new(&mut me.inner).poll_write_vectored(cx, bufs);
        }
        for b in bufs {
            me.buf.extend_from_slice(b);
        }
        Poll::Ready(Ok(total))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let me = self.get_mut();
        ready!(me.poll_drain(cx))?;
        Pin::new(&mut me.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let me = self.get_mut();
        ready!(me.poll_drain(cx))?;
        Pin::new(&mut me.inner).poll_shutdown(cx)
    }
}

async fn echo_loop<S>(mut ws: WebSocket<S>) -> Result<(), WebSocketError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // small frames copied into one buffer; large ones written with writev (header, payload)
    ws.set_writev(true);
    ws.set_writev_threshold(1024);
    ws.set_auto_close(true);
    ws.set_auto_pong(true);
    ws.set_max_message_size(64 << 20);
    let mut ws = FragmentCollector::new(ws);
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            OpCode::Close => break,
            OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
            _ => {}
        }
    }
    Ok(())
}

async fn echo(fut: upgrade::UpgradeFut) -> Result<(), WebSocketError> {
    let ws = fut.await?;
    if BATCHED.load(Ordering::Relaxed) {
        let io = Coalesce {
            inner: ws.into_inner(),
            buf: Vec::with_capacity(HIGH),
            pos: 0,
        };
        echo_loop(WebSocket::after_handshake(io, Role::Server)).await
    } else {
        echo_loop(ws).await
    }
}

async fn handle(mut req: Request<Incoming>) -> Result<Response<Full<Bytes>>, WebSocketError> {
    if req.uri().path() == "/websocket/echo" && upgrade::is_upgrade_request(&req) {
        let (resp, fut) = upgrade::upgrade(&mut req)?;
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

fn worker(addr: SocketAddr) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let l = tokio::net::TcpListener::from_std(listener(addr)).unwrap();
        loop {
            let (stream, _) = match l.accept().await {
                Ok(x) => x,
                Err(_) => continue,
            };
            let _ = stream.set_nodelay(true);
            tokio::task::spawn_local(async move {
                let _ = http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), service_fn(handle))
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
    let mode = args.next().unwrap_or_else(|| "batched".into());
    BATCHED.store(mode != "plain", Ordering::Relaxed);
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let hs: Vec<_> = (0..workers)
        .map(|_| std::thread::spawn(move || worker(addr)))
        .collect();
    eprintln!(
        "peer-fastwebsockets listening on {addr} with {workers} workers, mode {mode}, pid {}",
        std::process::id()
    );
    for h in hs {
        let _ = h.join();
    }
}
