//! Sockets: reuseport listeners, `accept4`, and reads/writes sorted into [`IoOutcome`].

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::sys::socket::MsgFlags;
use socket2::{Domain, Protocol, SockRef, Socket, Type};

/// One read or write, sorted at the boundary (nginx's `ngx_recv`/`ngx_send` four outcomes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoOutcome {
    /// `n > 0` bytes moved.
    Done(usize),
    /// The peer finished sending (read returned 0).
    Eof,
    /// Not ready now: wait for the next edge.
    WouldBlock,
    /// The peer is gone (reset, broken pipe, …): close quietly.
    Closed,
    /// Anything else: close and warn.
    Failed(Errno),
}

/// Errnos that mean the other end went away; worth a debug line, not a warning.
fn is_peer_gone(e: Errno) -> bool {
    matches!(
        e,
        Errno::ECONNRESET
            | Errno::EPIPE
            | Errno::ENOTCONN
            | Errno::ETIMEDOUT
            | Errno::ECONNREFUSED
            | Errno::ECONNABORTED
            | Errno::ENETDOWN
            | Errno::ENETUNREACH
            | Errno::EHOSTDOWN
            | Errno::EHOSTUNREACH
    )
}

/// Sorts an errno from a socket call (not EINTR, which callers retry).
pub fn sort_errno(e: Errno) -> IoOutcome {
    match e {
        Errno::EAGAIN => IoOutcome::WouldBlock,
        e if is_peer_gone(e) => IoOutcome::Closed,
        e => IoOutcome::Failed(e),
    }
}

/// One `send(2)` with MSG_NOSIGNAL and `extra` flags, retrying EINTR.
pub fn send_flags(fd: BorrowedFd<'_>, buf: &[u8], extra: MsgFlags) -> IoOutcome {
    sorted(IoOutcome::WouldBlock, || {
        nix::sys::socket::send(fd.as_raw_fd(), buf, MsgFlags::MSG_NOSIGNAL | extra)
    })
}

/// Runs one read- or write-like call, retrying it on EINTR, and sorts its result; `zero` is what
/// a return of 0 means for that call.
fn sorted(zero: IoOutcome, mut call: impl FnMut() -> nix::Result<usize>) -> IoOutcome {
    loop {
        return match call() {
            Ok(0) => zero,
            Ok(n) => IoOutcome::Done(n),
            Err(Errno::EINTR) => continue,
            Err(e) => sort_errno(e),
        };
    }
}

/// One `recv(2)` from a connected socket into `buf`, retrying EINTR.
///
/// `recv`, not `read`, as nginx's `ngx_unix_recv`: it enters the socket layer directly instead
/// of going through the VFS's file checks first, 20-50 ns less per call here
/// (`cargo bench --bench socket_calls`).
pub fn recv_some(fd: BorrowedFd<'_>, buf: &mut [u8]) -> IoOutcome {
    sorted(IoOutcome::Eof, || {
        nix::sys::socket::recv(fd.as_raw_fd(), buf, MsgFlags::empty())
    })
}

/// One `recv(2)` with `MSG_PEEK`, retrying EINTR: what is waiting, left in the socket. `Eof`
/// when nothing is and the peer has finished (a TLS session waiting for memory sees its
/// client go away this way, without taking what it cannot buffer yet).
pub fn peek_some(fd: BorrowedFd<'_>, buf: &mut [u8]) -> IoOutcome {
    sorted(IoOutcome::Eof, || {
        nix::sys::socket::recv(fd.as_raw_fd(), buf, MsgFlags::MSG_PEEK)
    })
}

/// One `send(2)` of `buf` (non-empty) on a connected socket, retrying EINTR. `MSG_NOSIGNAL`
/// makes a reset peer an EPIPE here rather than a SIGPIPE, whatever the signal disposition.
/// send(2) returns 0 only for an empty buffer, which callers never pass.
pub fn send_some(fd: BorrowedFd<'_>, buf: &[u8]) -> IoOutcome {
    sorted(IoOutcome::WouldBlock, || {
        nix::sys::socket::send(fd.as_raw_fd(), buf, MsgFlags::MSG_NOSIGNAL)
    })
}

/// One `sendmsg(2)` of `parts` in order (together non-empty), retrying EINTR, with
/// `MSG_NOSIGNAL`: a response head and the large body behind it leave in one call.
pub fn send_vectored(fd: BorrowedFd<'_>, parts: &[&[u8]]) -> IoOutcome {
    let iov: [std::io::IoSlice<'_>; 2] = [
        std::io::IoSlice::new(parts.first().copied().unwrap_or_default()),
        std::io::IoSlice::new(parts.get(1).copied().unwrap_or_default()),
    ];
    let count = parts.len().min(iov.len());
    sorted(IoOutcome::WouldBlock, || {
        nix::sys::socket::sendmsg::<()>(
            fd.as_raw_fd(),
            &iov[..count],
            &[],
            MsgFlags::MSG_NOSIGNAL,
            None,
        )
    })
}

/// Sends `message` with a copy of `passed` attached (SCM_RIGHTS) on a Unix socket: the other
/// process receives its own descriptor for the same open socket. False if it could not be sent.
pub fn send_with_fd(fd: BorrowedFd<'_>, message: u8, passed: BorrowedFd<'_>) -> bool {
    use nix::sys::socket::{sendmsg, ControlMessage};
    let raw = [passed.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&raw)];
    let iov = [std::io::IoSlice::new(std::slice::from_ref(&message))];
    loop {
        match sendmsg::<()>(fd.as_raw_fd(), &iov, &cmsg, MsgFlags::MSG_NOSIGNAL, None) {
            Ok(1) => return true,
            Err(Errno::EINTR) => continue,
            _ => return false,
        }
    }
}

/// One `recvmsg(2)` into `buf` that also takes the descriptors sent with the bytes (at most
/// four per call; they arrive close-on-exec), retrying EINTR.
pub fn recv_with_fds(fd: BorrowedFd<'_>, buf: &mut [u8], fds: &mut Vec<OwnedFd>) -> IoOutcome {
    use nix::sys::socket::{recvmsg, ControlMessageOwned};
    let mut space = nix::cmsg_space!([RawFd; 4]);
    let mut iov = [std::io::IoSliceMut::new(buf)];
    loop {
        let received = recvmsg::<()>(
            fd.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        );
        let msg = match received {
            Ok(msg) => msg,
            Err(Errno::EINTR) => continue,
            Err(Errno::EAGAIN) => return IoOutcome::WouldBlock,
            Err(e) if is_peer_gone(e) => return IoOutcome::Closed,
            Err(e) => return IoOutcome::Failed(e),
        };
        if let Ok(cmsgs) = msg.cmsgs() {
            for cmsg in cmsgs {
                if let ControlMessageOwned::ScmRights(raws) = cmsg {
                    // SAFETY: the kernel just installed these descriptors in this process
                    // for this message (SCM_RIGHTS); nothing else knows or owns them.
                    fds.extend(
                        raws.into_iter()
                            .map(|raw| unsafe { OwnedFd::from_raw_fd(raw) }),
                    );
                }
            }
        }
        return match msg.bytes {
            0 => IoOutcome::Eof,
            n => IoOutcome::Done(n),
        };
    }
}

/// One `read(2)` into `buf`, retrying EINTR (for descriptors that may not be sockets).
pub fn read_some(fd: BorrowedFd<'_>, buf: &mut [u8]) -> IoOutcome {
    sorted(IoOutcome::Eof, || nix::unistd::read(fd, buf))
}

/// One `write(2)` from `buf` (non-empty), retrying EINTR (for descriptors that may not be
/// sockets: the access log's stdout). SIGPIPE is ignored process-wide by the Rust runtime, so a
/// reset peer shows up as EPIPE here. write(2) returns 0 only for an empty buffer, which callers
/// never pass.
pub fn write_some(fd: BorrowedFd<'_>, buf: &[u8]) -> IoOutcome {
    sorted(IoOutcome::WouldBlock, || nix::unistd::write(fd, buf))
}

/// Binds one listening socket with SO_REUSEADDR and SO_REUSEPORT, nonblocking and close-on-exec
/// from the `socket(2)` call itself.
pub fn bind_reuseport(addr: SocketAddr, backlog: i32) -> io::Result<OwnedFd> {
    let ty = Type::STREAM.nonblocking().cloexec();
    let socket = Socket::new(Domain::for_address(addr), ty, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    Ok(socket.into())
}

/// Fails with EADDRINUSE if anyone already listens on `addr`.
///
/// SO_REUSEPORT lets any process of the same user join a port silently, so a second instance
/// started by mistake would share traffic with the first. A plain bind, without the option,
/// refuses to share; it is closed again at once.
pub fn ensure_port_free(addr: SocketAddr) -> io::Result<()> {
    TcpListener::bind(addr).map(drop)
}

/// The address a bound socket actually got (the real port after binding port 0).
pub fn local_addr(fd: &OwnedFd) -> io::Result<SocketAddr> {
    SockRef::from(fd)
        .local_addr()?
        .as_socket()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not an inet socket"))
}

/// `accept4(2)` with NONBLOCK|CLOEXEC, so the new fd needs no further syscalls to be usable,
/// and the peer's address, which the same call fills in (no `getpeername` later). EINTR is
/// retried; every other errno is returned for the caller to sort.
pub fn accept(listener: BorrowedFd<'_>) -> Result<(OwnedFd, Option<SocketAddr>), Errno> {
    let flags = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    loop {
        // SAFETY: an all-zero sockaddr_storage is a valid value (plain integers and arrays).
        let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        // SAFETY: `storage` is a sockaddr_storage, large enough for any address, and `len`
        // says so; the kernel writes at most `len` bytes there and the real length back. The
        // listener fd is valid for the duration of the borrow.
        let fd = unsafe {
            libc::accept4(
                listener.as_raw_fd(),
                (&raw mut storage).cast::<libc::sockaddr>(),
                &mut len,
                flags,
            )
        };
        if fd >= 0 {
            // SAFETY: accept4 just returned this fd; nothing else owns it.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            // SAFETY: the kernel filled `storage` with an address of `len` bytes (at most its
            // size), which is what SockAddr::new requires.
            let peer = unsafe { socket2::SockAddr::new(storage, len) }.as_socket();
            return Ok((fd, peer));
        }
        match Errno::last() {
            Errno::EINTR => continue,
            e => return Err(e),
        }
    }
}

/// Takes ownership of a listening socket handed to this process at exec (by systemd's
/// `LISTEN_FDS`, or by an upgrading master), after checking that it is one; makes it
/// nonblocking and close-on-exec like the sockets we bind ourselves.
///
/// # Errors
/// If `raw` is not an open, listening TCP socket.
pub fn adopt_listener(raw: RawFd) -> io::Result<OwnedFd> {
    // Check before taking ownership: a number that is not open is refused untouched.
    // SAFETY: F_GETFD only reads the descriptor's flags; an unused number yields EBADF.
    if unsafe { libc::fcntl(raw, libc::F_GETFD) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the descriptor is open (checked above) and was passed to this process at exec for
    // it to own; the caller adopts each number once, so nothing else in the process owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let socket = SockRef::from(&fd);
    if !socket.is_listener()? {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a listening socket",
        ));
    }
    socket
        .local_addr()?
        .as_socket()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a TCP socket"))?;
    socket.set_nonblocking(true)?;
    socket.set_cloexec(true)?;
    Ok(fd)
}

/// Takes ownership of a socketpair end handed to this process at exec (an upgrading master's
/// ready channel), close-on-exec from now on.
///
/// # Errors
/// If `raw` is not open.
pub fn adopt_channel(raw: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_GETFD only reads the descriptor's flags; an unused number yields EBADF.
    if unsafe { libc::fcntl(raw, libc::F_GETFD) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: open (checked above), passed to this process at exec for it to own, adopted once.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    SockRef::from(&fd).set_cloexec(true)?;
    Ok(fd)
}

/// A duplicate of `fd` without close-on-exec, numbered 3 or above, for a child to inherit
/// across `exec` (a binary upgrade). The caller closes it once the child is started.
///
/// # Errors
/// If `fcntl(F_DUPFD)` fails.
pub fn dup_inheritable(fd: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    let raw = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_DUPFD(3))?;
    // SAFETY: F_DUPFD just created this descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// TCP_DEFER_ACCEPT: the kernel hands over a connection only once its first data has arrived
/// (or `secs` passed), so a worker never wakes for a connection with nothing to read yet.
///
/// # Errors
/// If `setsockopt` fails.
pub fn set_defer_accept(fd: &OwnedFd, secs: u32) -> io::Result<()> {
    let value = libc::c_int::try_from(secs).unwrap_or(libc::c_int::MAX);
    set_tcp_option(fd, libc::TCP_DEFER_ACCEPT, value)
}

/// TCP_NOTSENT_LOWAT: the socket is writable (and takes more) only while it holds fewer than
/// `bytes` unsent bytes, so a client that does not read pins at most that much of the
/// kernel's send buffer, not an autotuned megabyte or more. 0 sets the kernel's own default
/// (unlimited: `net.ipv4.tcp_notsent_lowat` is then what applies). Inherited by accepted
/// sockets from their listener.
///
/// # Errors
/// If `setsockopt` fails.
pub fn set_notsent_lowat(fd: &OwnedFd, bytes: u32) -> io::Result<()> {
    // The kernel's "unset" is UINT_MAX, which a c_int holds as -1.
    let value = if bytes == 0 {
        -1
    } else {
        libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX)
    };
    set_tcp_option(fd, libc::TCP_NOTSENT_LOWAT, value)
}

/// Sets an `IPPROTO_TCP` option that takes an int.
fn set_tcp_option(fd: &OwnedFd, option: libc::c_int, value: libc::c_int) -> io::Result<()> {
    // SAFETY: the fd is a valid socket for the borrow; the option value is a c_int on the stack
    // whose size is passed alongside.
    let ret = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            option,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Disables Nagle's algorithm: responses go out as soon as they are written.
pub fn set_nodelay(fd: impl AsFd) -> io::Result<()> {
    SockRef::from(&fd).set_nodelay(true)
}

/// Sends our FIN while still letting us read what the peer has in flight.
/// Makes the coming close reset the connection (SO_LINGER with a zero timeout: the kernel
/// drops unsent data and sends an RST instead of a FIN).
pub fn reset_on_close(fd: impl AsFd) -> io::Result<()> {
    SockRef::from(&fd).set_linger(Some(std::time::Duration::ZERO))
}

pub fn shutdown_write(fd: impl AsFd) -> io::Result<()> {
    SockRef::from(&fd).shutdown(std::net::Shutdown::Write)
}

/// The kernel's TCP figures for a connection: `getsockopt(TCP_INFO)` (RTT, retransmits,
/// congestion window, path MTU…), for `/inspect`, and how many bytes of the struct the kernel
/// filled: an older kernel than the `libc` struct fills a prefix, and the rest is not zero but
/// unknown.
///
/// `fd` is a number, not a borrow, because the caller (a route, through the context) cannot
/// hold a borrow of the connection it is answering on: the connection is being driven. The
/// call only reads the socket's state into our own struct, so it is sound for any number; one
/// that is not a TCP socket comes back as an error (EBADF, ENOTSOCK, EOPNOTSUPP).
///
/// # Errors
/// If `getsockopt` fails.
pub fn tcp_info(fd: RawFd) -> io::Result<(libc::tcp_info, usize)> {
    // SAFETY: an all-zero tcp_info is a valid value (plain integers); a kernel older than the
    // struct fills a prefix and leaves the rest zero.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: `info` is a tcp_info on our stack and `len` is its size: the kernel writes at most
    // `len` bytes there and the length it wrote back into `len`. Nothing else is touched,
    // whatever `fd` names.
    let ret = unsafe {
        libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&raw mut info).cast::<libc::c_void>(),
            &mut len,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((info, len as usize))
}

/// The address a connected socket was reached at (`getsockname`), for `/inspect`; `fd` as in
/// [`tcp_info`].
///
/// # Errors
/// If `getsockname` fails, or the socket is not an IPv4/IPv6 one.
pub fn local_addr_of(fd: RawFd) -> io::Result<SocketAddr> {
    // SAFETY: an all-zero sockaddr_storage is a valid value (plain integers and arrays).
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: as in `accept`: `storage` is large enough for any address and `len` says so; the
    // kernel writes at most that much, whatever `fd` names.
    let ret =
        unsafe { libc::getsockname(fd, (&raw mut storage).cast::<libc::sockaddr>(), &mut len) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel filled `storage` with an address of `len` bytes (at most its size).
    unsafe { socket2::SockAddr::new(storage, len) }
        .as_socket()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not an inet socket"))
}

/// `net.core.somaxconn`, the kernel's cap on any listen backlog, if it can be read.
pub fn somaxconn() -> Option<i32> {
    std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuseport_sockets_share_a_port_and_accept() {
        let first = bind_reuseport("127.0.0.1:0".parse().unwrap(), 16).unwrap();
        let addr = local_addr(&first).unwrap();
        let second = bind_reuseport(addr, 16).unwrap();
        assert_eq!(local_addr(&second).unwrap(), addr);
        assert!(
            ensure_port_free(addr).is_err(),
            "a plain bind must see the port taken"
        );
        assert_eq!(accept(first.as_fd()).unwrap_err(), Errno::EAGAIN);
        let client = std::net::TcpStream::connect(addr).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let accepted = loop {
            let got = [first.as_fd(), second.as_fd()]
                .into_iter()
                .find_map(|l| accept(l).ok());
            if let Some(fd) = got {
                break fd;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no connection accepted"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        };
        let (accepted, peer) = accepted;
        assert_eq!(
            peer,
            Some(client.local_addr().unwrap()),
            "accept4 gives the peer"
        );
        let mut buf = [0u8; 4];
        assert_eq!(read_some(accepted.as_fd(), &mut buf), IoOutcome::WouldBlock);
    }

    #[test]
    fn a_connection_tells_its_local_address_and_tcp_figures() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let fd = server.as_raw_fd();
        assert_eq!(local_addr_of(fd).unwrap(), listener.local_addr().unwrap());
        let (info, filled) = tcp_info(fd).unwrap();
        assert!(filled > std::mem::offset_of!(libc::tcp_info, tcpi_total_retrans));
        assert_eq!(
            info.tcpi_state, 1,
            "TCP_ESTABLISHED (include/net/tcp_states.h)"
        );
        assert!(info.tcpi_pmtu > 0, "a path MTU on loopback");
        drop(client);
        // Not a socket at all (a pipe): errors, not garbage.
        let (read, _write) = nix::unistd::pipe().unwrap();
        assert!(tcp_info(read.as_raw_fd()).is_err());
        assert!(local_addr_of(read.as_raw_fd()).is_err());
    }
}
