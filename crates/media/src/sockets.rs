//! The RTP legs' sockets of one shard (the I/O edge of [`crate::plain`]).
//!
//! Each RTP leg gets a port pair of its own (RTP on an even port, RTCP on the next), bound
//! here from the configured range and owned by the shard that owns the leg. All of a shard's
//! pairs sit in one level-triggered epoll instance, and the shard's task waits on that one fd
//! (a tokio `AsyncFd`) next to its WebRTC socket. A wake-up asks epoll which sockets are ready
//! and reads each until it would block, straight into the shard's one receive buffer, then
//! hands the bytes to the core: no task, channel or allocation per leg or per packet, and a
//! thousand idle phones cost nothing. Linux only, like the rest of the media edge.

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::ops::RangeInclusive;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Instant;

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use crate::core::{Datagram, MediaCore};

type HashMap<K, V> = rustc_hash::FxHashMap<K, V>;

/// Ready sockets taken from epoll per call.
const EVENTS: usize = 64;

/// One shard's RTP port pairs.
pub(crate) struct RtpSockets {
    epoll: AsyncFd<OwnedFd>,
    /// By local port (RTP and RTCP ports alike); the port is also the epoll token.
    sockets: HashMap<u16, UdpSocket>,
    bind_ip: IpAddr,
    /// The address put in SDP (the public one when the server is behind a mapping).
    advertise_ip: IpAddr,
    first: u16,
    last: u16,
    /// The next even port to try.
    cursor: u16,
}

impl RtpSockets {
    /// An empty set binding on `bind_ip` within `ports`, starting the search at `start`
    /// (spread the shards and restarts over the range).
    pub(crate) fn new(
        bind_ip: IpAddr,
        advertise_ip: IpAddr,
        ports: RangeInclusive<u16>,
        start: u16,
    ) -> io::Result<Self> {
        // SAFETY: epoll_create1 has no preconditions; the fd it returns is ours alone.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh, open descriptor nobody else owns.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: the OwnedFd is moved into the AsyncFd and stays open as long as it lives.
        let epoll = unsafe { AsyncFd::register_with_interest(owned, Interest::READABLE) }
            .map_err(|e| e.into_parts().1)?;
        let start_port = *ports.start();
        let first = start_port
            .saturating_add(start_port & 1)
            .clamp(2, u16::MAX - 1);
        let last = (*ports.end()).max(first + 1);
        // Even ports from `first` whose odd neighbour is still within `last`.
        let pairs = (last - first).div_ceil(2);
        Ok(RtpSockets {
            epoll,
            sockets: HashMap::default(),
            bind_ip,
            advertise_ip,
            first,
            last,
            cursor: first + (start % pairs) * 2,
        })
    }

    pub(crate) fn epoll(&self) -> &AsyncFd<OwnedFd> {
        &self.epoll
    }

    /// Binds the next free pair: returns the RTP address to advertise.
    pub(crate) fn bind_pair(&mut self) -> io::Result<SocketAddr> {
        let pairs = (self.last - self.first).div_ceil(2);
        for _ in 0..pairs {
            let port = self.cursor;
            self.cursor = if port.saturating_add(2) > self.last.saturating_sub(1) {
                self.first
            } else {
                port + 2
            };
            // Another shard, process or leg may hold either port: try the next pair then.
            let Ok(rtp) = self.bind(port) else {
                continue;
            };
            let Ok(rtcp) = self.bind(port + 1) else {
                continue;
            };
            self.register(port, rtp)?;
            if let Err(e) = self.register(port + 1, rtcp) {
                self.release(port);
                return Err(e);
            }
            return Ok(SocketAddr::new(self.advertise_ip, port));
        }
        Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            "no free RTP port pair in the range",
        ))
    }

    fn bind(&self, port: u16) -> io::Result<UdpSocket> {
        let s = UdpSocket::bind(SocketAddr::new(self.bind_ip, port))?;
        s.set_nonblocking(true)?;
        Ok(s)
    }

    fn register(&mut self, port: u16, socket: UdpSocket) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: u64::from(port),
        };
        // SAFETY: both fds are open; `ev` outlives the call.
        let r = unsafe {
            libc::epoll_ctl(
                self.epoll.get_ref().as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                socket.as_raw_fd(),
                &mut ev,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        self.sockets.insert(port, socket);
        Ok(())
    }

    /// Closes the pair whose RTP port is `port` (its leg is gone).
    pub(crate) fn release(&mut self, port: u16) {
        for p in [port, port.wrapping_add(1)] {
            if let Some(s) = self.sockets.remove(&p) {
                // SAFETY: both fds are open; a null event is allowed for EPOLL_CTL_DEL.
                unsafe {
                    libc::epoll_ctl(
                        self.epoll.get_ref().as_raw_fd(),
                        libc::EPOLL_CTL_DEL,
                        s.as_raw_fd(),
                        std::ptr::null_mut(),
                    );
                }
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.sockets.len()
    }

    /// Reads the ready sockets into `buf` and feeds each datagram to `core`, at most `budget`
    /// of them. Returns whether every socket was drained (false: the budget ran out first and
    /// the caller should come back without waiting).
    pub(crate) fn receive(&self, core: &mut MediaCore, buf: &mut [u8], budget: usize) -> bool {
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; EVENTS];
        let mut left = budget;
        loop {
            // SAFETY: the buffer holds EVENTS entries; timeout 0 never blocks.
            let n = unsafe {
                libc::epoll_wait(
                    self.epoll.get_ref().as_raw_fd(),
                    events.as_mut_ptr(),
                    EVENTS as libc::c_int,
                    0,
                )
            };
            if n <= 0 {
                return true;
            }
            for ev in &events[..n as usize] {
                let port = ev.u64 as u16;
                let Some(socket) = self.sockets.get(&port) else {
                    continue;
                };
                let local = SocketAddr::new(self.advertise_ip, port);
                loop {
                    match socket.recv_from(buf) {
                        Ok((len, source)) => {
                            core.handle_receive(source, local, &buf[..len], Instant::now());
                            left -= 1;
                            if left == 0 {
                                return false;
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        // ICMP errors from a phone that went away surface here; keep going.
                        Err(e) => {
                            tracing::debug!(port, "rtp recv: {e}");
                            break;
                        }
                    }
                }
            }
        }
    }

    /// Sends `d` from its local port. UDP that would block is dropped, as the network would.
    pub(crate) fn send(&self, port: u16, d: &Datagram) {
        let Some(socket) = self.sockets.get(&port) else {
            return;
        };
        if let Err(e) = socket.send_to(&d.contents, d.destination) {
            tracing::debug!(port, "rtp send to {}: {e}", d.destination);
        }
    }
}
