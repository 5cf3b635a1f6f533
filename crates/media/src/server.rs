//! The I/O edge of [`MediaCore`]: shards, each one thread with a current-thread tokio runtime,
//! one UDP socket for its WebRTC legs, a port pair per RTP leg (`sockets`) and one core;
//! commands reach a shard over a channel.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

use crate::core::{LegId, LegStats, MediaConfig, MediaCore, MediaEvent, Prefer, Relayed, Tap};
use crate::error::{MediaError, Result};
use crate::plain::sdp::{sdp_kind, LegKind};
use crate::sockets::RtpSockets;
use crate::Direction;

/// Datagrams read per wake-up before the queued output is sent: amortises the wake-up and lets
/// the sends of one batch go out back to back.
const RECV_BATCH: usize = 256;
/// Largest datagram we accept (WebRTC stays under the 1200-byte MTU target).
const RECV_BUF: usize = 2048;

/// Where the media sockets listen and what address browsers are told.
#[derive(Debug, Clone)]
pub struct MediaServerConfig {
    /// Socket address to bind, e.g. `127.0.0.1:0`. With a fixed port P, shard i binds P + i.
    pub bind: SocketAddr,
    /// IP put in our ICE candidates; defaults to the bound IP (which must then be specific).
    pub public_ip: Option<IpAddr>,
    pub ice_lite: bool,
    /// Media threads, each with its own socket and legs; 0 = one per available core.
    pub shards: usize,
    /// Ports for RTP legs (desk phones, trunks), a pair each: RTP even, RTCP + 1. Bound on the
    /// IP of `bind` and advertised with `public_ip`, like the WebRTC sockets.
    pub rtp_ports: RangeInclusive<u16>,
}

impl Default for MediaServerConfig {
    fn default() -> Self {
        MediaServerConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            public_ip: None,
            ice_lite: true,
            shards: 1,
            // Below Linux's ephemeral range (32768–60999), so outgoing sockets never take ours.
            rtp_ports: 16384..=32767,
        }
    }
}

/// What a shard's thread owns: the core and its RTP legs' sockets.
pub(crate) struct ShardCore {
    core: MediaCore,
    rtp: RtpSockets,
}

impl ShardCore {
    /// Makes sure the core has a bound port pair for one more RTP leg.
    fn spare_port(&mut self) -> Result<()> {
        if self.core.spare_rtp_ports() == 0 {
            let addr = self.rtp.bind_pair()?;
            self.core.add_rtp_port(addr);
        }
        Ok(())
    }
}

type Command = Box<dyn FnOnce(&mut ShardCore, Instant) + Send>;

/// One media thread as the handle sees it: where its commands go and how many legs it holds.
struct Shard {
    tx: mpsc::UnboundedSender<Command>,
    legs: Arc<AtomicUsize>,
}

/// Cheap, cloneable handle to a running [`MediaServer`]. Every leg lives on one shard (a thread
/// with its own socket); a leg's operations run there. A leg that will be bridged is created
/// `near` its future peer, so forwarding stays on one thread; a bridge across shards works too,
/// each packet relayed to the other shard.
#[derive(Clone)]
pub struct MediaHandle {
    shards: Arc<[Shard]>,
    /// Where the search for the least-loaded shard starts: spreads ties.
    next: Arc<AtomicUsize>,
}

/// A running media engine: its handle, its events (from every shard) and its sockets' addresses.
pub struct MediaServer {
    pub handle: MediaHandle,
    pub events: mpsc::UnboundedReceiver<MediaEvent>,
    /// Every shard's socket address, by shard.
    pub local_addrs: Vec<SocketAddr>,
}

impl MediaServer {
    /// Binds one socket per shard and starts one thread per shard, which makes its DTLS
    /// certificate.
    /// The threads end when every [`MediaHandle`] is dropped.
    pub async fn start(config: MediaServerConfig) -> Result<MediaServer> {
        let count = match config.shards {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let (ev_tx, events) = mpsc::unbounded_channel();
        // Packets between legs bridged across shards go from shard to shard over these.
        let (relays, relay_rxs): (Vec<_>, Vec<_>) =
            (0..count).map(|_| mpsc::unbounded_channel()).unzip();
        let relays: Arc<[mpsc::UnboundedSender<Relayed>]> = relays.into();
        let mut relay_rxs = relay_rxs.into_iter();
        let mut shards = Vec::with_capacity(count);
        let mut local_addrs = Vec::with_capacity(count);
        for index in 0..count {
            let mut bind = config.bind;
            if bind.port() != 0 {
                let port = u16::try_from(usize::from(bind.port()) + index).map_err(|_| {
                    io::Error::new(io::ErrorKind::InvalidInput, "media port range overflows")
                })?;
                bind.set_port(port);
            }
            let socket = bind_udp(bind)?;
            let local_addr = socket.local_addr()?;
            let ip = config.public_ip.unwrap_or(local_addr.ip());
            if ip.is_unspecified() {
                return Err(MediaError::Io(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "bound to an unspecified address: set public_ip for the ICE candidate",
                )));
            }
            let media_config = MediaConfig {
                candidate_addr: SocketAddr::new(ip, local_addr.port()),
                ice_lite: config.ice_lite,
                shard: index,
                shards: count,
            };
            let rtp = RtpSetup {
                bind_ip: local_addr.ip(),
                advertise_ip: ip,
                ports: config.rtp_ports.clone(),
                // Shards (and restarts) start their search in different places of the range.
                start: (std::process::id() as u16).wrapping_add(index as u16 * 4099),
            };
            let (tx, cmds) = mpsc::unbounded_channel();
            let legs = Arc::new(AtomicUsize::new(0));
            let shard_legs = legs.clone();
            let ev_tx = ev_tx.clone();
            let io = ShardIo {
                commands: cmds,
                events: ev_tx,
                relay_in: relay_rxs.next().expect("one relay channel per shard"),
                relays: relays.clone(),
                legs: shard_legs,
            };
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            std::thread::Builder::new()
                .name(format!("media-{index}"))
                .spawn(move || {
                    // The DTLS certificate (~100 ms of crypto) is made here, off the caller's
                    // async runtime.
                    let core = MediaCore::new(media_config);
                    rt.block_on(run(socket, core, rtp, io))
                })?;
            shards.push(Shard { tx, legs });
            local_addrs.push(local_addr);
        }
        Ok(MediaServer {
            handle: MediaHandle {
                shards: shards.into(),
                next: Arc::new(AtomicUsize::new(0)),
            },
            events,
            local_addrs,
        })
    }
}

impl MediaHandle {
    /// Number of shards (media threads).
    pub fn shards(&self) -> usize {
        self.shards.len()
    }

    /// The shard a leg lives on.
    pub fn shard_of(&self, leg: LegId) -> usize {
        MediaCore::shard_of(leg, self.shards.len())
    }

    /// Where a new leg goes: next to `near`, else on the shard with the fewest legs.
    fn place(&self, near: Option<LegId>) -> usize {
        if let Some(leg) = near {
            return self.shard_of(leg);
        }
        let n = self.shards.len();
        let first = self.next.fetch_add(1, Ordering::Relaxed);
        (0..n)
            .map(|i| (first + i) % n)
            .min_by_key(|&i| self.shards[i].legs.load(Ordering::Relaxed))
            .unwrap_or(0)
    }

    async fn on_shard<R: Send + 'static>(
        &self,
        shard: usize,
        f: impl FnOnce(&mut ShardCore, Instant) -> R + Send + 'static,
    ) -> Result<R> {
        let (tx, rx) = oneshot::channel();
        let shard = self.shards.get(shard).ok_or(MediaError::Stopped)?;
        let legs = shard.legs.clone();
        shard
            .tx
            .send(Box::new(move |s, now| {
                let r = f(s, now);
                // Before the reply, so the next placement sees this leg.
                legs.store(s.core.leg_count(), Ordering::Relaxed);
                let _ = tx.send(r);
            }))
            .map_err(|_| MediaError::Stopped)?;
        rx.await.map_err(|_| MediaError::Stopped)
    }

    /// Runs `f` with the core and the current time on the shard that holds `leg`.
    pub async fn call<R: Send + 'static>(
        &self,
        leg: LegId,
        f: impl FnOnce(&mut MediaCore, Instant) -> R + Send + 'static,
    ) -> Result<R> {
        self.on_shard(self.shard_of(leg), |s, now| f(&mut s.core, now))
            .await
    }

    /// A leg for an incoming offer; `near` is the leg it will be bridged to, if it exists yet.
    /// A desk phone's `RTP/AVP` offer makes an RTP leg on a port pair of its own (see
    /// [`crate::sdp_kind`]); a browser's offer a WebRTC leg asking for Opus first.
    pub async fn create_answerer(
        &self,
        offer_sdp: String,
        near: Option<LegId>,
    ) -> Result<(LegId, String)> {
        self.create_answerer_preferring(offer_sdp, near, Prefer::Opus)
            .await
    }

    /// As [`MediaHandle::create_answerer`]; a WebRTC leg asks for the codecs in the order of
    /// `prefer` (`Prefer::G711` when it will be bridged to a phone).
    pub async fn create_answerer_preferring(
        &self,
        offer_sdp: String,
        near: Option<LegId>,
        prefer: Prefer,
    ) -> Result<(LegId, String)> {
        let rtp = sdp_kind(&offer_sdp) == LegKind::Rtp;
        self.on_shard(self.place(near), move |s, now| {
            if rtp {
                s.spare_port()?;
            }
            s.core.create_answerer_preferring(&offer_sdp, prefer, now)
        })
        .await?
    }

    /// A WebRTC leg we call out on; `near` is the leg it will be bridged to, if it exists yet.
    pub async fn create_offerer(&self, near: Option<LegId>) -> Result<(LegId, String)> {
        self.create_offerer_preferring(near, Prefer::Opus).await
    }

    /// A leg of `kind` we call out on: a WebRTC offer (Opus first) or a lean RTP/AVP offer
    /// (PCMU, PCMA, telephone-event) for a desk phone or trunk.
    pub async fn create_offerer_kind(
        &self,
        near: Option<LegId>,
        kind: LegKind,
    ) -> Result<(LegId, String)> {
        self.on_shard(self.place(near), move |s, now| {
            if kind == LegKind::Rtp {
                s.spare_port()?;
            }
            s.core.create_offerer_kind(kind, now)
        })
        .await?
    }

    /// A WebRTC leg we call out on, listing its codecs in the order of `prefer`.
    pub async fn create_offerer_preferring(
        &self,
        near: Option<LegId>,
        prefer: Prefer,
    ) -> Result<(LegId, String)> {
        self.on_shard(self.place(near), move |s, now| {
            s.core.create_webrtc_offerer(prefer, now)
        })
        .await?
    }

    pub async fn accept_answer(&self, leg: LegId, answer_sdp: String) -> Result<()> {
        self.call(leg, move |c, now| c.accept_answer(leg, &answer_sdp, now))
            .await?
    }

    pub async fn reoffer(&self, leg: LegId, direction: Direction) -> Result<String> {
        self.call(leg, move |c, now| c.reoffer(leg, direction, now))
            .await?
    }

    pub async fn accept_offer_on(&self, leg: LegId, offer_sdp: String) -> Result<String> {
        self.call(leg, move |c, now| c.accept_offer_on(leg, &offer_sdp, now))
            .await?
    }

    /// Forwards media between `a` and `b`. Legs on one shard (see `near`) forward directly;
    /// across shards each packet is relayed to the other shard's thread. Legs that share no
    /// codec are transcoded by the receiving leg (on its own shard).
    pub async fn bridge(&self, a: LegId, b: LegId) -> Result<()> {
        if self.shard_of(a) == self.shard_of(b) {
            return self.call(a, move |c, _| c.bridge(a, b)).await?;
        }
        if a == b {
            return Err(MediaError::SelfBridge);
        }
        let ca = self.call(a, move |c, _| c.codecs(a)).await?;
        let cb = self.call(b, move |c, _| c.codecs(b)).await?;
        let ca = ca.ok_or(MediaError::UnknownLeg(a))?;
        let cb = cb.ok_or(MediaError::UnknownLeg(b))?;
        MediaCore::check_bridge((a, ca), (b, cb))?;
        self.unbridge(a).await?;
        self.unbridge(b).await?;
        self.call(a, move |c, _| c.link(a, b)).await??;
        self.call(b, move |c, _| c.link(b, a)).await?
    }

    pub async fn unbridge(&self, leg: LegId) -> Result<()> {
        let peer = self
            .call(leg, move |c, _| {
                let peer = c.peer(leg);
                c.unbridge(leg).map(|()| peer)
            })
            .await??;
        self.unlink_remote(leg, peer).await
    }

    /// After `leg` stopped forwarding to `peer`: a peer on another shard stops forwarding back.
    async fn unlink_remote(&self, leg: LegId, peer: Option<LegId>) -> Result<()> {
        match peer {
            Some(p) if self.shard_of(p) != self.shard_of(leg) => {
                self.call(p, move |c, _| c.unlink(p, leg)).await
            }
            _ => Ok(()),
        }
    }

    pub async fn mute(&self, leg: LegId, on: bool) -> Result<()> {
        self.call(leg, move |c, _| c.mute(leg, on)).await?
    }

    pub async fn hold(&self, leg: LegId, on: bool) -> Result<()> {
        self.call(leg, move |c, now| c.hold(leg, on, now)).await?
    }

    pub async fn send_dtmf(&self, leg: LegId, digits: impl Into<String>) -> Result<()> {
        let digits = digits.into();
        self.call(leg, move |c, now| c.send_dtmf(leg, &digits, now))
            .await?
    }

    pub async fn close(&self, leg: LegId) -> Result<()> {
        let peer = self
            .call(leg, move |c, now| {
                let peer = c.peer(leg);
                c.close(leg, now).map(|()| peer)
            })
            .await??;
        self.unlink_remote(leg, peer).await
    }

    pub async fn stats(&self, leg: LegId) -> Result<LegStats> {
        self.call(leg, move |c, _| c.stats(leg))
            .await?
            .ok_or(MediaError::UnknownLeg(leg))
    }

    /// Installs a recording tap on every shard (`make` is called once per shard); the taps are
    /// called on the media threads for every bridged packet.
    pub async fn set_tap(&self, make: impl Fn() -> Tap) -> Result<()> {
        for shard in 0..self.shards.len() {
            let tap = make();
            self.on_shard(shard, move |s, _| s.core.set_tap(Some(tap)))
                .await?;
        }
        Ok(())
    }
}

/// Receive buffer of a shard's socket: all its legs share it, so it must ride out a scheduling
/// stall of the whole shard (~25k small datagrams, half a second at 500 calls a shard). The
/// kernel's default (~200 KiB, a few hundred datagrams) overflows in a 20 ms hiccup.
const RECV_BUFFER: usize = 32 << 20;
const SEND_BUFFER: usize = 4 << 20;

fn bind_udp(addr: SocketAddr) -> io::Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    // Beyond net.core.rmem_max only with CAP_NET_ADMIN (SO_RCVBUFFORCE); else capped there.
    if !force_recv_buffer(&socket, RECV_BUFFER) {
        let _ = socket.set_recv_buffer_size(RECV_BUFFER);
    }
    let _ = socket.set_send_buffer_size(SEND_BUFFER);
    if let Ok(got) = socket.recv_buffer_size() {
        // The kernel reports twice the size it granted (its bookkeeping included).
        if got < 2 * RECV_BUFFER {
            tracing::warn!(
                bytes = got,
                "media socket receive buffer is small: raise net.core.rmem_max to {RECV_BUFFER}"
            );
        }
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

fn force_recv_buffer(socket: &socket2::Socket, bytes: usize) -> bool {
    use std::os::fd::AsRawFd;
    let value = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    // SAFETY: a valid socket fd and a c_int option value of the size passed.
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        ) == 0
    }
}

/// A shard thread's channels: commands in, events out, relayed packets both ways.
struct ShardIo {
    commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedSender<MediaEvent>,
    relay_in: mpsc::UnboundedReceiver<Relayed>,
    /// Every shard's relay input, by shard.
    relays: Arc<[mpsc::UnboundedSender<Relayed>]>,
    /// This shard's leg count, for placement.
    legs: Arc<AtomicUsize>,
}

/// Where a shard binds its RTP legs' port pairs.
struct RtpSetup {
    bind_ip: IpAddr,
    advertise_ip: IpAddr,
    ports: RangeInclusive<u16>,
    start: u16,
}

async fn run(socket: std::net::UdpSocket, core: MediaCore, rtp: RtpSetup, io: ShardIo) {
    let ShardIo {
        commands: mut cmds,
        events,
        mut relay_in,
        relays,
        legs,
    } = io;
    let Ok(socket) = UdpSocket::from_std(socket) else {
        return;
    };
    let rtp = match RtpSockets::new(rtp.bind_ip, rtp.advertise_ip, rtp.ports, rtp.start) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("media shard cannot poll RTP sockets: {e}");
            return;
        }
    };
    let mut shard = ShardCore { core, rtp };
    let local = match socket.local_addr() {
        Ok(a) => a,
        Err(_) => return,
    };
    let mut buf = vec![0u8; RECV_BUF];
    let far = || tokio::time::Instant::now() + Duration::from_secs(3600);
    let sleep = tokio::time::sleep_until(far());
    tokio::pin!(sleep);
    let mut armed: Option<Instant> = None;
    loop {
        let core = &mut shard.core;
        if core.poll_timeout().is_some_and(|t| t <= Instant::now()) {
            core.handle_timeout(Instant::now());
        }
        send_all(&socket, &shard.rtp, core).await;
        while let Some((shard, packet)) = core.poll_relay() {
            let _ = relays[shard].send(packet);
        }
        while let Some(e) = core.poll_event() {
            let _ = events.send(e);
        }
        while let Some(port) = core.poll_freed_port() {
            shard.rtp.release(port);
        }
        legs.store(core.leg_count(), Ordering::Relaxed);
        let deadline = core.poll_timeout();
        // Re-arming the timer costs a timer-wheel update: skip it when nothing changed.
        if deadline != armed {
            armed = deadline;
            sleep.as_mut().reset(
                deadline
                    .map(tokio::time::Instant::from_std)
                    .unwrap_or_else(far),
            );
        }
        tokio::select! {
            cmd = cmds.recv() => {
                let Some(cmd) = cmd else { break };
                cmd(&mut shard, Instant::now());
                while let Ok(cmd) = cmds.try_recv() {
                    cmd(&mut shard, Instant::now());
                }
            }
            Some(packet) = relay_in.recv() => {
                shard.core.handle_relayed(packet, Instant::now());
                while let Ok(packet) = relay_in.try_recv() {
                    shard.core.handle_relayed(packet, Instant::now());
                }
            }
            r = socket.readable() => {
                if r.is_err() {
                    break;
                }
                for _ in 0..RECV_BATCH {
                    match socket.try_recv_from(&mut buf) {
                        Ok((n, src)) => {
                            shard.core.handle_receive(src, local, &buf[..n], Instant::now())
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        // ICMP errors from a peer that went away surface here; keep going.
                        Err(e) => {
                            tracing::debug!("media recv: {e}");
                            break;
                        }
                    }
                }
            }
            r = shard.rtp.epoll().readable(), if shard.rtp.len() > 0 => {
                let Ok(mut ready) = r else { break };
                // Level-triggered: forget the readiness only once every socket is drained.
                if shard.rtp.receive(&mut shard.core, &mut buf, RECV_BATCH) {
                    ready.clear_ready();
                }
            }
            _ = &mut sleep, if deadline.is_some() => {
                armed = None;
                shard.core.handle_timeout(Instant::now());
            }
        }
    }
}

async fn send_all(socket: &UdpSocket, rtp: &RtpSockets, core: &mut MediaCore) {
    while let Some(d) = core.poll_transmit() {
        if let Some(port) = d.local_port {
            rtp.send(port, &d);
            core.recycle(d.contents);
            continue;
        }
        let sent = match socket.try_send_to(&d.contents, d.destination) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                socket.send_to(&d.contents, d.destination).await
            }
            other => other,
        };
        if let Err(e) = sent {
            tracing::debug!("media send to {}: {e}", d.destination);
        }
        core.recycle(d.contents);
    }
}
