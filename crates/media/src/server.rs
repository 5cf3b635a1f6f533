//! The tokio edge of [`MediaCore`]: one UDP socket, one task, commands over a channel.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

use crate::core::{LegId, LegStats, MediaConfig, MediaCore, MediaEvent, Tap};
use crate::error::{MediaError, Result};
use crate::Direction;

/// Datagrams read per wake-up before the queued output is sent: amortises the wake-up and lets
/// the sends of one batch go out back to back.
const RECV_BATCH: usize = 64;
/// Largest datagram we accept (WebRTC stays under the 1200-byte MTU target).
const RECV_BUF: usize = 2048;

/// Where the media socket listens and what address browsers are told.
#[derive(Debug, Clone)]
pub struct MediaServerConfig {
    /// Socket address to bind, e.g. `127.0.0.1:0`.
    pub bind: SocketAddr,
    /// IP put in our ICE candidate; defaults to the bound IP (which must then be specific).
    pub public_ip: Option<IpAddr>,
    pub ice_lite: bool,
}

impl Default for MediaServerConfig {
    fn default() -> Self {
        MediaServerConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            public_ip: None,
            ice_lite: true,
        }
    }
}

type Command = Box<dyn FnOnce(&mut MediaCore, Instant) + Send>;

/// Cheap, cloneable handle to a running [`MediaServer`]; every method runs on the media task.
#[derive(Clone)]
pub struct MediaHandle {
    tx: mpsc::UnboundedSender<Command>,
}

/// A running media engine: its handle, its events and the address its socket is bound to.
pub struct MediaServer {
    pub handle: MediaHandle,
    pub events: mpsc::UnboundedReceiver<MediaEvent>,
    pub local_addr: SocketAddr,
}

impl MediaServer {
    /// Binds the socket, creates the DTLS certificate and spawns the media task. The task ends
    /// when every [`MediaHandle`] is dropped.
    pub async fn start(config: MediaServerConfig) -> Result<MediaServer> {
        let socket = bind_udp(config.bind)?;
        let local_addr = socket.local_addr()?;
        let ip = config.public_ip.unwrap_or(local_addr.ip());
        if ip.is_unspecified() {
            return Err(MediaError::Io(io::Error::new(
                io::ErrorKind::InvalidInput,
                "bound to an unspecified address: set public_ip for the ICE candidate",
            )));
        }
        let core = MediaCore::new(MediaConfig {
            candidate_addr: SocketAddr::new(ip, local_addr.port()),
            ice_lite: config.ice_lite,
        });
        let (tx, cmds) = mpsc::unbounded_channel();
        let (ev_tx, events) = mpsc::unbounded_channel();
        tokio::spawn(run(socket, core, cmds, ev_tx));
        Ok(MediaServer {
            handle: MediaHandle { tx },
            events,
            local_addr,
        })
    }
}

impl MediaHandle {
    /// Runs `f` on the media task with the core and the current time.
    pub async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut MediaCore, Instant) -> R + Send + 'static,
    ) -> Result<R> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Box::new(move |core, now| {
                let _ = tx.send(f(core, now));
            }))
            .map_err(|_| MediaError::Stopped)?;
        rx.await.map_err(|_| MediaError::Stopped)
    }

    pub async fn create_answerer(&self, offer_sdp: String) -> Result<(LegId, String)> {
        self.call(move |c, now| c.create_answerer(&offer_sdp, now))
            .await?
    }

    pub async fn create_offerer(&self) -> Result<(LegId, String)> {
        self.call(|c, now| c.create_offerer(now)).await?
    }

    pub async fn accept_answer(&self, leg: LegId, answer_sdp: String) -> Result<()> {
        self.call(move |c, now| c.accept_answer(leg, &answer_sdp, now))
            .await?
    }

    pub async fn reoffer(&self, leg: LegId, direction: Direction) -> Result<String> {
        self.call(move |c, now| c.reoffer(leg, direction, now))
            .await?
    }

    pub async fn accept_offer_on(&self, leg: LegId, offer_sdp: String) -> Result<String> {
        self.call(move |c, now| c.accept_offer_on(leg, &offer_sdp, now))
            .await?
    }

    pub async fn bridge(&self, a: LegId, b: LegId) -> Result<()> {
        self.call(move |c, _| c.bridge(a, b)).await?
    }

    pub async fn unbridge(&self, leg: LegId) -> Result<()> {
        self.call(move |c, _| c.unbridge(leg)).await?
    }

    pub async fn mute(&self, leg: LegId, on: bool) -> Result<()> {
        self.call(move |c, _| c.mute(leg, on)).await?
    }

    pub async fn hold(&self, leg: LegId, on: bool) -> Result<()> {
        self.call(move |c, now| c.hold(leg, on, now)).await?
    }

    pub async fn send_dtmf(&self, leg: LegId, digits: impl Into<String>) -> Result<()> {
        let digits = digits.into();
        self.call(move |c, now| c.send_dtmf(leg, &digits, now))
            .await?
    }

    pub async fn close(&self, leg: LegId) -> Result<()> {
        self.call(move |c, now| c.close(leg, now)).await?
    }

    pub async fn stats(&self, leg: LegId) -> Result<LegStats> {
        self.call(move |c, _| c.stats(leg))
            .await?
            .ok_or(MediaError::UnknownLeg(leg))
    }

    /// Installs the recording tap (called on the media task for every bridged packet).
    pub async fn set_tap(&self, tap: Option<Tap>) -> Result<()> {
        self.call(move |c, _| c.set_tap(tap)).await
    }
}

/// Socket buffer size: one core-second of stall at 1,000 calls is ~100k packets; the kernel's
/// default (~200 KiB, a few hundred small datagrams) overflows in a 20 ms scheduling hiccup.
const SOCKET_BUFFER: usize = 4 << 20;

fn bind_udp(addr: SocketAddr) -> io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    // Best effort: the kernel caps these at net.core.{r,w}mem_max.
    let _ = socket.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = socket.set_send_buffer_size(SOCKET_BUFFER);
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    UdpSocket::from_std(socket.into())
}

async fn run(
    socket: UdpSocket,
    mut core: MediaCore,
    mut cmds: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedSender<MediaEvent>,
) {
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
        if core.poll_timeout().is_some_and(|t| t <= Instant::now()) {
            core.handle_timeout(Instant::now());
        }
        send_all(&socket, &mut core).await;
        while let Some(e) = core.poll_event() {
            let _ = events.send(e);
        }
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
                cmd(&mut core, Instant::now());
                while let Ok(cmd) = cmds.try_recv() {
                    cmd(&mut core, Instant::now());
                }
            }
            r = socket.readable() => {
                if r.is_err() {
                    break;
                }
                for _ in 0..RECV_BATCH {
                    match socket.try_recv_from(&mut buf) {
                        Ok((n, src)) => core.handle_receive(src, local, &buf[..n], Instant::now()),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        // ICMP errors from a peer that went away surface here; keep going.
                        Err(e) => {
                            tracing::debug!("media recv: {e}");
                            break;
                        }
                    }
                }
            }
            _ = &mut sleep, if deadline.is_some() => {
                armed = None;
                core.handle_timeout(Instant::now());
            }
        }
    }
}

async fn send_all(socket: &UdpSocket, core: &mut MediaCore) {
    while let Some(d) = core.poll_transmit() {
        let sent = match socket.try_send_to(&d.contents, d.destination) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                socket.send_to(&d.contents, d.destination).await
            }
            other => other,
        };
        if let Err(e) = sent {
            tracing::debug!("media send to {}: {e}", d.destination);
        }
    }
}
