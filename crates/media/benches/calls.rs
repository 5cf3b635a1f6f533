//! Concurrent bridged calls through a sharded MediaServer (or rtpengine, the named peer),
//! driven by a cheap generator. `--mode` picks what a call's two ends are:
//!
//! - `webrtc` (default): two str0m peers standing in for browsers (full ICE, DTLS client,
//!   SRTP): one calls in (the relay answers), one is called (the relay offers, next to the
//!   first leg), and the relay bridges them, forwarding Opus-typed packets as they are.
//! - `plain`: two desk phones or trunks (plain RTP/AVP, PCMU, no ICE, no SRTP), one calling in
//!   and one called the same way; the relay forwards PCMU as it is.
//! - `transcode`: a browser sending real Opus (48 kHz, 32 kbit/s) calls in and a phone sending
//!   PCMU is called; the relay decodes and re-encodes every packet both ways.
//!
//! The peers connect for real; then each peer's whole window is made ahead of time (a
//! browser's str0m encrypts its packets: genuine SRTP of that session; a phone's are plain
//! RTP), one packet per 20 ms, and one generator thread replays them on a 1 ms tick, each from
//! its peer's own connected socket, and reads what comes back through level-triggered epoll.
//! RTP headers travel in clear and the RTP time names each packet: a WebRTC relay passes the
//! sender's through; toward a phone, and when transcoding, the relay maps it into a timeline of
//! its own, so a packet's number is its distance in whole packets from the first arrival. The
//! kernel stamps each arrival, so delays are exact however late the generator reads. One packet
//! in `VERIFY_EVERY` that reaches a browser is still decrypted by its str0m to prove the stream
//! is intact. STUN and RTCP go to each browser's str0m, which keeps ICE alive. The relay's CPU
//! is read per thread from /proc.
//!
//! With `--record` every call is also recorded as in production: the recorder's tap is installed
//! on the server and both legs of each call are attached to a recording in a temporary folder.
//!
//! `cargo bench -p switchboard-media --bench calls -- --calls 1000 --secs 15 [--shards N]
//! [--mode webrtc|plain|transcode] [--record] [--defer-reads] [--peer rtpengine]` (see
//! bench/calls/run.sh and bench/media/run.sh)

#[path = "../tests/common/browser.rs"]
mod browser;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::change::SdpPendingOffer;
use str0m::config::DtlsCert;
use str0m::format::Codec;
use str0m::media::{Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{RtpWrite, SeqNo};
use str0m::{Event, Input, Output, Rtc};
use switchboard_media::codec::OpusEncoder;
use switchboard_media::g711::Law;
use switchboard_media::{
    LegId, LegKind, MediaHandle, MediaServer, MediaServerConfig, RecordControl, RecordDone,
    Recorder,
};
use tokio::net::UdpSocket;

struct Args {
    calls: usize,
    secs: u64,
    pps: u64,
    payload: usize,
    record: bool,
    shards: usize,
    defer_reads: bool,
    /// Relay the calls through rtpengine instead of Switchboard's media server.
    rtpengine: bool,
    mode: Mode,
}

/// What each call's two legs are.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    /// Two browsers (ICE, DTLS-SRTP, Opus), forwarded without transcoding.
    WebRtc,
    /// Two desk phones or trunks (plain RTP/AVP, PCMU), forwarded without transcoding.
    Plain,
    /// A browser sending Opus bridged to a phone sending PCMU: transcoded both ways.
    Transcode,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::WebRtc => "webrtc",
            Mode::Plain => "plain",
            Mode::Transcode => "transcode",
        }
    }
}

fn args() -> Args {
    let mut a = Args {
        calls: 100,
        secs: 15,
        pps: 50,
        payload: 60,
        record: false,
        shards: 0,
        defer_reads: false,
        rtpengine: false,
        mode: Mode::WebRtc,
    };
    let argv: Vec<String> = std::env::args().collect();
    a.record = argv.iter().any(|v| v == "--record");
    a.defer_reads = argv.iter().any(|v| v == "--defer-reads");
    for w in argv.windows(2) {
        let v = || w[1].parse().expect("numeric argument");
        match w[0].as_str() {
            "--calls" => a.calls = v(),
            "--secs" => a.secs = v() as u64,
            "--pps" => a.pps = v() as u64,
            "--payload" => a.payload = v(),
            "--shards" => a.shards = v(),
            "--mode" => {
                a.mode = match w[1].as_str() {
                    "webrtc" => Mode::WebRtc,
                    "plain" => Mode::Plain,
                    "transcode" => Mode::Transcode,
                    other => panic!("--mode: unknown mode {other} (webrtc, plain or transcode)"),
                }
            }
            "--peer" => {
                a.rtpengine = match w[1].as_str() {
                    "rtpengine" => true,
                    "switchboard" => false,
                    other => panic!("--peer: unknown relay {other} (rtpengine or switchboard)"),
                }
            }
            _ => {}
        }
    }
    a
}

/// One received packet in this many is also decrypted by the receiving peer.
const VERIFY_EVERY: u64 = 50;
/// RTP clock ticks per packet: 20 ms of 48 kHz Opus, 20 ms of 8 kHz PCMU.
const TICKS: u32 = 960;
const PCMU_TICKS: u32 = 160;

/// Time on the CPU from a schedstat file (its first field, in ns).
fn schedstat(path: impl AsRef<std::path::Path>) -> Duration {
    let s = std::fs::read_to_string(path).unwrap_or_default();
    let ns = s
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Duration::from_nanos(ns)
}

fn this_thread_cpu() -> Duration {
    schedstat("/proc/thread-self/schedstat")
}

/// CPU time of this process's threads whose name starts with `prefix`.
fn threads_cpu(prefix: &str) -> Duration {
    tasks_cpu("/proc/self/task", prefix)
}

/// CPU time of the tasks (threads) in a `/proc/<pid>/task` folder whose name starts with
/// `prefix` (all of them for "").
fn tasks_cpu(dir: impl AsRef<std::path::Path>, prefix: &str) -> Duration {
    let Ok(tasks) = std::fs::read_dir(dir) else {
        return Duration::ZERO;
    };
    tasks
        .flatten()
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.starts_with(prefix))
        })
        .map(|t| schedstat(t.path().join("schedstat")))
        .sum()
}

/// Queue between the media tap and the recorder thread (as crates/telephony sizes it).
const RECORD_QUEUE: usize = 80_000;

/// The production recorder on the bench's server, writing into a temporary folder.
struct Recording {
    recorder: Recorder,
    done: std::sync::mpsc::Receiver<RecordDone>,
    dir: PathBuf,
    /// Opus packets the tap saw (handed to the recorder or dropped).
    tapped: Arc<AtomicU64>,
}

impl Recording {
    async fn start(h: &MediaHandle) -> Recording {
        let dir =
            std::env::temp_dir().join(format!("switchboard-bench-calls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (recorder, done) = Recorder::start(RECORD_QUEUE).unwrap();
        let tapped = Arc::new(AtomicU64::new(0));
        let count = tapped.clone();
        h.set_tap(|| {
            let mut inner = recorder.tap();
            let count = count.clone();
            Box::new(move |p| {
                if p.kind == switchboard_media::PayloadKind::Opus {
                    count.fetch_add(1, Ordering::Relaxed);
                }
                inner(p)
            })
        })
        .await
        .unwrap();
        Recording {
            recorder,
            done,
            dir,
            tapped,
        }
    }

    fn attach(&self, call: usize, legs: [LegId; 2]) {
        for (channel, leg) in legs.into_iter().enumerate() {
            self.recorder.control(RecordControl::Attach {
                key: call.to_string(),
                path: self.dir.join(format!("call-{call}.ogg")),
                leg,
                channel,
            });
        }
    }

    /// Ends every recording and waits for the files to be complete; prints the recorder's figures.
    fn finish(self, legs: &[LegId], calls: usize, recorder_cpu: Duration, window: Duration) {
        for &leg in legs {
            self.recorder.control(RecordControl::Detach { leg });
        }
        let (mut files, mut bytes, mut audio) = (0usize, 0u64, Duration::ZERO);
        while files < calls {
            match self.done.recv_timeout(Duration::from_secs(10)) {
                Ok(d) => {
                    files += 1;
                    bytes += d.bytes;
                    audio += d.duration;
                }
                Err(_) => break,
            }
        }
        let tapped = self.tapped.load(Ordering::Relaxed);
        let dropped = self.recorder.dropped();
        println!(
            "recorder: files={files}/{calls} tapped={tapped} dropped={dropped} ({:.4}%) \
             ogg_packets_written={} audio={:.0}s bytes={:.1}MB recorder_cpu={:.2}s ({:.1}% of one core)",
            if tapped == 0 { 0.0 } else { dropped as f64 / tapped as f64 * 100.0 },
            audio.as_millis() / 20,
            audio.as_secs_f64(),
            bytes as f64 / 1e6,
            recorder_cpu.as_secs_f64(),
            recorder_cpu.as_secs_f64() / window.as_secs_f64() * 100.0
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// RFC 5761 demultiplexing: RTP (not RTCP) by the version bits and the payload-type byte.
fn is_rtp(d: &[u8]) -> bool {
    d.len() >= 12 && d[0] >> 6 == 2 && !(192..=223).contains(&d[1])
}

/// A call's end while it connects: a browser stand-in (a str0m peer) or a desk phone (plain
/// RTP/AVP with PCMU, no ICE, no SRTP), each on its own socket.
struct Peer {
    /// The browser's str0m; `None` for a phone.
    rtc: Option<Rtc>,
    /// Non-blocking; the connect phase reads it through a tokio clone.
    socket: std::net::UdpSocket,
    local: SocketAddr,
    mid: Option<Mid>,
    pending: Option<SdpPendingOffer>,
    connected: bool,
    timeout: Instant,
    /// Decrypted RTP packets (the verification sample).
    verified: u64,
    /// A phone: where the relay's SDP says to send.
    remote: Option<SocketAddr>,
}

impl Peer {
    fn new(cert: &DtlsCert) -> Peer {
        let now = Instant::now();
        let mut p = Peer::phone();
        p.rtc = Some(browser::rtc(p.local, Some(cert), now));
        p.connected = false;
        p.timeout = now;
        p
    }

    /// A desk phone: nothing to connect, it sends to the address in the relay's SDP.
    fn phone() -> Peer {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_nonblocking(true).unwrap();
        let local = socket.local_addr().unwrap();
        Peer {
            rtc: None,
            socket,
            local,
            mid: None,
            pending: None,
            connected: true,
            timeout: Instant::now() + Duration::from_secs(3600),
            verified: 0,
            remote: None,
        }
    }

    fn rtc(&mut self) -> &mut Rtc {
        self.rtc.as_mut().expect("a browser peer")
    }

    fn offer(&mut self) -> String {
        let (mid, pending, offer) = browser::offer(self.rtc());
        self.mid = Some(mid);
        self.pending = Some(pending);
        offer
    }

    fn accept_answer(&mut self, sdp: &str) {
        let pending = self.pending.take().unwrap();
        browser::accept_answer(self.rtc(), pending, sdp);
    }

    fn answer(&mut self, sdp: &str) -> String {
        browser::answer(self.rtc(), sdp)
    }

    /// A phone's SDP, offer or answer alike: PCMU and telephone-event on its port, 20 ms.
    fn phone_sdp(&self) -> String {
        let (ip, port) = (self.local.ip(), self.local.port());
        format!(
            "v=0\r\no=- {port} 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
             m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
             a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n"
        )
    }

    /// A phone reads where to send from the relay's SDP (its `c=` and audio port).
    fn set_remote(&mut self, sdp: &str) {
        let ip = sdp
            .lines()
            .filter_map(|l| l.trim_end().strip_prefix("c=IN IP4 "))
            .next_back()
            .and_then(|a| a.trim().parse::<std::net::IpAddr>().ok())
            .expect("a c= line in the relay's SDP");
        let port = sdp
            .lines()
            .find_map(|l| l.trim_end().strip_prefix("m=audio "))
            .and_then(|m| m.split_whitespace().next()?.parse::<u16>().ok())
            .expect("an audio m= line in the relay's SDP");
        self.remote = Some(SocketAddr::new(ip, port));
    }

    /// Polls str0m until it asks for a timeout; `rtp` receives the outgoing RTP datagrams
    /// (everything else is sent at once).
    fn drain(&mut self, mut rtp: impl FnMut(SocketAddr, &[u8])) {
        let Some(rtc) = self.rtc.as_mut() else {
            return;
        };
        loop {
            match rtc.poll_output() {
                Ok(Output::Timeout(t)) => {
                    self.timeout = t;
                    return;
                }
                Ok(Output::Transmit(t)) if is_rtp(&t.contents) => rtp(t.destination, &t.contents),
                Ok(Output::Transmit(t)) => {
                    let _ = self.socket.send_to(&t.contents, t.destination);
                }
                Ok(Output::Event(e)) => match e {
                    Event::Connected => self.connected = true,
                    Event::MediaAdded(m) if self.mid.is_none() => self.mid = Some(m.mid),
                    Event::RtpPacket(_) => self.verified += 1,
                    _ => {}
                },
                Err(_) => return,
            }
        }
    }

    fn input(&mut self, d: &[u8], source: SocketAddr, now: Instant) {
        let Some(rtc) = self.rtc.as_mut() else {
            return;
        };
        if let Ok(recv) = Receive::new(Protocol::Udp, source, self.local, d) {
            let _ = rtc.handle_input(Input::Receive(now, recv));
            self.drain(|_, _| {});
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if let Some(rtc) = self.rtc.as_mut() {
            let _ = rtc.handle_input(Input::Timeout(now));
            self.drain(|_, _| {});
        }
    }

    /// Runs ICE and DTLS until connected (or `until`).
    async fn connect(mut self, until: Instant) -> Peer {
        if self.rtc.is_none() {
            return self;
        }
        let mut buf = vec![0u8; 2048];
        let socket = UdpSocket::from_std(self.socket.try_clone().unwrap()).unwrap();
        self.drain(|_, _| {});
        while !self.connected && Instant::now() < until {
            let now = Instant::now();
            if self.timeout <= now {
                self.handle_timeout(now);
            }
            let wake = self.timeout.min(until);
            tokio::select! {
                r = socket.recv_from(&mut buf) => {
                    if let Ok((n, src)) = r {
                        self.input(&buf[..n], src, Instant::now());
                    }
                }
                _ = tokio::time::sleep_until(wake.into()) => {}
            }
        }
        self
    }

    /// Makes the peer's whole window ahead of time: packet k has sequence number k + 1, RTP
    /// time k × 20 ms and payload `payloads[k % len]`. A browser's are encrypted by its str0m
    /// (Opus-typed); a phone's are plain RTP with PCMU.
    fn pregenerate(&mut self, count: usize, payloads: &[Arc<[u8]>]) -> Packets {
        let len = payloads.iter().map(|p| p.len()).max().unwrap_or(0);
        let mut out = Packets {
            bytes: Vec::with_capacity(count * (len + 40)),
            ends: Vec::with_capacity(count),
            server: None,
        };
        if self.rtc.is_none() {
            let ssrc = (self.local.port() as u32).wrapping_mul(2_654_435_761);
            out.server = self.remote;
            for k in 0..count {
                let seq = (k as u16).wrapping_add(1);
                let ts = (k as u32).wrapping_mul(PCMU_TICKS);
                out.bytes.extend_from_slice(&[0x80, 0]);
                out.bytes.extend_from_slice(&seq.to_be_bytes());
                out.bytes.extend_from_slice(&ts.to_be_bytes());
                out.bytes.extend_from_slice(&ssrc.to_be_bytes());
                out.bytes.extend_from_slice(&payloads[k % payloads.len()]);
                out.ends.push(out.bytes.len());
            }
            return out;
        }
        let pt = self.opus_pt();
        let Some(mid) = self.mid else { return out };
        for k in 0..count {
            let now = Instant::now();
            let rtc = self.rtc();
            let mut api = rtc.direct_api();
            let Some(stream) = api.stream_tx_by_mid(mid, None) else {
                return out;
            };
            let seq: SeqNo = (k as u64 + 1).into();
            stream.write_rtp(RtpWrite::new(
                pt,
                seq,
                k as u32 * TICKS,
                now,
                payloads[k % payloads.len()].clone(),
            ));
            let _ = rtc.handle_input(Input::Timeout(now));
            self.drain(|dest, d| {
                out.server = Some(dest);
                out.bytes.extend_from_slice(d);
                out.ends.push(out.bytes.len());
            });
        }
        out
    }

    fn opus_pt(&mut self) -> Pt {
        browser::pt(self.rtc(), Codec::Opus)
    }
}

/// A peer's encrypted packets, back to back, and where they go.
struct Packets {
    bytes: Vec<u8>,
    ends: Vec<usize>,
    server: Option<SocketAddr>,
}

impl Packets {
    fn get(&self, k: usize) -> &[u8] {
        let start = if k == 0 { 0 } else { self.ends[k - 1] };
        &self.bytes[start..self.ends[k]]
    }
}

/// A peer during the measured window.
struct GenPeer {
    peer: Peer,
    packets: Packets,
    next: usize,
    /// Send time of each packet, ns since the epoch (the clock of kernel timestamps).
    sent_at: Vec<u64>,
    /// RTP packets this peer received (every `VERIFY_EVERY`th is decrypted too).
    seen: u64,
    /// RTP clock ticks per packet of what this peer receives.
    rx_ticks: u32,
    /// The RTP time of the sender's first packet as this peer receives it: 0 when the relay
    /// passes the sender's timestamps through, else learnt from the first arrival (a phone's
    /// stream is mapped into the relay's own timeline; a transcoded one is rescaled).
    rx_base: Option<u32>,
}

/// What the generator measured.
#[derive(Default)]
struct Measured {
    sent: u64,
    received: u64,
    /// Received packets whose RTP time names no packet that was sent (should stay 0).
    strangers: u64,
    verified: u64,
    sampled: u64,
    delays_us: Vec<u32>,
    /// Send lateness against the schedule (the generator's own lag), µs.
    late_us: Vec<u32>,
}

fn wall_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Asks the kernel to stamp each datagram's arrival (SO_TIMESTAMPNS), so a packet read late
/// still tells when it arrived.
fn enable_timestamps(socket: &std::net::UdpSocket) {
    let on: libc::c_int = 1;
    // SAFETY: a valid fd and a c_int option value of the size passed.
    let r = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0, "SO_TIMESTAMPNS");
}

/// Reads one datagram without blocking, with its kernel arrival time in ns since the epoch.
fn recv_stamped(socket: &std::net::UdpSocket, buf: &mut [u8]) -> Option<(usize, u64)> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut control = [0u64; 8];
    // SAFETY: msghdr is plain data; every pointer set below outlives the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: msg points at live buffers of the sizes given.
    let n = unsafe { libc::recvmsg(socket.as_raw_fd(), &mut msg, libc::MSG_DONTWAIT) };
    if n < 0 {
        return None;
    }
    let mut stamp = 0;
    // SAFETY: the CMSG macros walk the control buffer the kernel filled, within its length.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                stamp = ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64;
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Some((n as usize, stamp))
}

/// Accounts one datagram that reached peer `i` at `stamp`.
fn on_datagram(peers: &mut [GenPeer], i: usize, d: &[u8], stamp: u64, m: &mut Measured) {
    let Some(src) = peers[i].packets.server else {
        return;
    };
    if !is_rtp(d) {
        peers[i].peer.input(d, src, Instant::now());
        return;
    }
    // The RTP time names the packet: the sender's, passed through, or offset from the first
    // arrival by whole packets.
    let ts = u32::from_be_bytes([d[4], d[5], d[6], d[7]]);
    let ticks = peers[i].rx_ticks;
    let rel = ts.wrapping_sub(*peers[i].rx_base.get_or_insert(ts));
    let k = (rel / ticks) as usize;
    let sender = &peers[i ^ 1];
    match sender.sent_at.get(k) {
        Some(&at) if rel % ticks == 0 && k < sender.next => {
            m.delays_us
                .push((stamp.saturating_sub(at) / 1000).min(u32::MAX as u64) as u32);
            m.received += 1;
        }
        _ => m.strangers += 1,
    }
    peers[i].seen += 1;
    if peers[i].seen % VERIFY_EVERY == 0 && peers[i].peer.rtc.is_some() {
        m.sampled += 1;
        peers[i].peer.input(d, src, Instant::now());
    }
}

/// The generator's loop: replays every peer's packets on its schedule. Live, it reads the
/// sockets as packets come (epoll, one datagram per readiness); deferred, it reads nothing
/// until the window is over, leaving the cores to the server, and the kernel's arrival stamps
/// still give each packet's delay.
fn generate(
    peers: &mut [GenPeer],
    start: Instant,
    interval: Duration,
    end: Instant,
    defer_reads: bool,
) -> Measured {
    let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    assert!(ep >= 0, "epoll_create1");
    for (i, p) in peers.iter().enumerate() {
        let socket = &p.peer.socket;
        // After ICE a peer talks to one address only: a connected socket skips the route
        // lookup on every send, as a browser's does.
        if let Some(server) = p.packets.server {
            socket.connect(server).unwrap();
        }
        enable_timestamps(socket);
        // A browser's receive buffer is not the server's concern: large enough that a starved
        // generator loses nothing (deferred, the whole window waits there; rmem_max caps it).
        let rcvbuf = if defer_reads { 4 << 20 } else { 1 << 20 };
        let _ = socket2::SockRef::from(socket).set_recv_buffer_size(rcvbuf);
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: i as u64,
        };
        // SAFETY: valid epoll and socket fds; ev is read during the call only.
        let r = unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, socket.as_raw_fd(), &mut ev) };
        assert_eq!(r, 0, "epoll_ctl");
    }
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 1024];
    // Spread the peers' first packets over one interval, as real calls would be. A peer that
    // never connected sends nothing.
    let mut due: BinaryHeap<Reverse<(Instant, usize)>> = (0..peers.len())
        .filter(|&i| peers[i].packets.server.is_some())
        .map(|i| {
            let phase = (i as u64).wrapping_mul(2_654_435_761) % 1000;
            Reverse((start + interval.mul_f64(phase as f64 / 1000.0), i))
        })
        .collect();
    // Sized for the whole window up front: growing them would copy megabytes mid-window.
    let total: usize = peers.iter().map(|p| p.packets.ends.len()).sum();
    let mut m = Measured {
        delays_us: Vec::with_capacity(total),
        late_us: Vec::with_capacity(total),
        ..Default::default()
    };
    let mut buf = [0u8; 2048];
    let mut next_timers = start;
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        while let Some(&Reverse((at, i))) = due.peek() {
            if at > now {
                break;
            }
            due.pop();
            let p = &mut peers[i];
            let sent = wall_ns();
            if p.peer.socket.send(p.packets.get(p.next)).is_ok() {
                p.sent_at[p.next] = sent;
                m.sent += 1;
            }
            m.late_us
                .push(now.saturating_duration_since(at).as_micros() as u32);
            p.next += 1;
            if p.next < p.packets.ends.len() {
                due.push(Reverse((at + interval, i)));
            }
        }
        // str0m's own timers (ICE checks, RTCP) need no finer grain.
        if now >= next_timers {
            for p in peers.iter_mut() {
                if p.peer.timeout <= now {
                    p.peer.handle_timeout(now);
                }
            }
            next_timers = now + Duration::from_millis(5);
        }
        // A 1 ms tick: sends go out in small bursts and reads come in batches, not one
        // wake-up each; the kernel's arrival stamps keep the delays exact.
        std::thread::sleep(Duration::from_millis(1));
        if defer_reads {
            continue;
        }
        // SAFETY: events has the capacity passed.
        let n = unsafe { libc::epoll_wait(ep, events.as_mut_ptr(), events.len() as i32, 0) };
        for ev in events.iter().take(n.max(0) as usize) {
            let i = ev.u64 as usize;
            if let Some((len, stamp)) = recv_stamped(&peers[i].peer.socket, &mut buf) {
                on_datagram(peers, i, &buf[..len], stamp, &mut m);
            }
        }
    }
    // SAFETY: ep is ours and closed once.
    unsafe { libc::close(ep) };
    m
}

/// After the window: reads what is still queued (everything, when reads were deferred).
fn read_the_rest(peers: &mut [GenPeer], mut m: Measured) -> Measured {
    let mut buf = [0u8; 2048];
    for i in 0..peers.len() {
        while let Some((len, stamp)) = recv_stamped(&peers[i].peer.socket, &mut buf) {
            on_datagram(peers, i, &buf[..len], stamp, &mut m);
        }
    }
    m.verified += peers.iter().map(|p| p.peer.verified).sum::<u64>();
    m
}

/// A bencoded value, as rtpengine's ng control protocol speaks it.
enum Ben {
    Str(String),
    List(Vec<Ben>),
    Dict(Vec<(String, Ben)>),
    Int(i64),
}

impl Ben {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Ben::Str(s) => {
                out.extend_from_slice(format!("{}:", s.len()).as_bytes());
                out.extend_from_slice(s.as_bytes());
            }
            Ben::Int(i) => out.extend_from_slice(format!("i{i}e").as_bytes()),
            Ben::List(l) => {
                out.push(b'l');
                l.iter().for_each(|v| v.encode(out));
                out.push(b'e');
            }
            Ben::Dict(d) => {
                out.push(b'd');
                for (k, v) in d {
                    Ben::Str(k.clone()).encode(out);
                    v.encode(out);
                }
                out.push(b'e');
            }
        }
    }

    /// Decodes one value from the front of `b`; returns it and the rest.
    fn decode(b: &[u8]) -> Option<(Ben, &[u8])> {
        match *b.first()? {
            b'i' => {
                let end = b.iter().position(|&c| c == b'e')?;
                let n = std::str::from_utf8(&b[1..end]).ok()?.parse().ok()?;
                Some((Ben::Int(n), &b[end + 1..]))
            }
            b'l' | b'd' => {
                let dict = b[0] == b'd';
                let (mut rest, mut items, mut keys) = (&b[1..], Vec::new(), Vec::new());
                while *rest.first()? != b'e' {
                    let (v, r) = Ben::decode(rest)?;
                    rest = r;
                    match (dict, keys.len() == items.len(), v) {
                        (true, true, Ben::Str(k)) => keys.push(k),
                        (_, _, v) => items.push(v),
                    }
                }
                let v = if dict {
                    Ben::Dict(keys.into_iter().zip(items).collect())
                } else {
                    Ben::List(items)
                };
                Some((v, &rest[1..]))
            }
            _ => {
                let colon = b.iter().position(|&c| c == b':')?;
                let n: usize = std::str::from_utf8(&b[..colon]).ok()?.parse().ok()?;
                let s = b.get(colon + 1..colon + 1 + n)?;
                Some((
                    Ben::Str(String::from_utf8_lossy(s).into_owned()),
                    &b[colon + 1 + n..],
                ))
            }
        }
    }

    fn get(&self, key: &str) -> Option<&str> {
        match self {
            Ben::Dict(d) => d.iter().find_map(|(k, v)| match v {
                Ben::Str(s) if k == key => Some(s.as_str()),
                _ => None,
            }),
            _ => None,
        }
    }
}

/// rtpengine in userspace (no kernel module) as the named peer: the same peers, the same load,
/// WebRTC on both sides (ICE, DTLS-SRTP), Opus forwarded without transcoding.
struct Rtpengine {
    child: std::process::Child,
    ng: std::net::UdpSocket,
    cookie: u64,
}

impl Rtpengine {
    const NG: &str = "127.0.0.1:22230";

    fn start(threads: usize) -> Rtpengine {
        let child = std::process::Command::new("rtpengine")
            .args([
                "--config-file=none",
                "--foreground",
                "--log-stderr",
                "--log-level=3",
                "--table=-1",
                "--interface=127.0.0.1",
                "--port-min=20000",
                "--port-max=60000",
            ])
            .arg(format!("--listen-ng={}", Self::NG))
            .arg(format!("--num-threads={threads}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("rtpengine (apt-get install rtpengine-daemon)");
        let ng = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        ng.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut r = Rtpengine {
            child,
            ng,
            cookie: 0,
        };
        let ready = (0..50).any(|_| r.command(vec![("command", "ping".into())]).is_some());
        assert!(ready, "rtpengine did not answer on {}", Self::NG);
        r
    }

    fn command(&mut self, dict: Vec<(&str, Ben)>) -> Option<Ben> {
        self.cookie += 1;
        let mut msg = format!("{} ", self.cookie).into_bytes();
        Ben::Dict(dict.into_iter().map(|(k, v)| (k.to_string(), v)).collect()).encode(&mut msg);
        self.ng.send_to(&msg, Self::NG).ok()?;
        let mut buf = vec![0u8; 65536];
        let n = self.ng.recv(&mut buf).ok()?;
        let space = buf[..n].iter().position(|&c| c == b' ')?;
        Ben::decode(&buf[space + 1..n]).map(|(v, _)| v)
    }

    /// Offer (from A) or answer (from B) through rtpengine; returns the SDP for the other side.
    /// The flags say what the receiving side is: a browser (ICE, DTLS-SRTP, one port), or a
    /// phone (plain RTP/AVP; `transcode` offers it PCMU only, so rtpengine transcodes the
    /// browser's Opus).
    fn relay_sdp(&mut self, call: usize, answer: bool, sdp: String, to: Side) -> String {
        let mut d = vec![
            ("command", if answer { "answer" } else { "offer" }.into()),
            ("call-id", format!("bench-{call}").into()),
            ("from-tag", "a".into()),
            ("sdp", sdp.into()),
        ];
        match to {
            Side::Browser => d.extend([
                ("ICE", "force".into()),
                ("transport-protocol", "UDP/TLS/RTP/SAVPF".into()),
                ("rtcp-mux", Ben::List(vec!["require".into()])),
                ("flags", Ben::List(vec!["SDES-off".into()])),
            ]),
            Side::Phone => d.extend([
                ("ICE", "remove".into()),
                ("transport-protocol", "RTP/AVP".into()),
            ]),
            Side::PhoneTranscoded => d.extend([
                ("ICE", "remove".into()),
                ("transport-protocol", "RTP/AVP".into()),
                (
                    "codec",
                    Ben::Dict(vec![
                        ("mask".into(), Ben::List(vec!["opus".into()])),
                        ("transcode".into(), Ben::List(vec!["PCMU".into()])),
                    ]),
                ),
            ]),
        }
        if answer {
            d.push(("to-tag", "b".into()));
        }
        let reply = self.command(d).expect("rtpengine answers");
        assert_eq!(
            reply.get("result"),
            Some("ok"),
            "rtpengine refused: {:?}",
            reply.get("error-reason")
        );
        let sdp = reply.get("sdp").expect("an SDP");
        match to {
            Side::Browser => bundled(sdp),
            Side::Phone | Side::PhoneTranscoded => sdp.to_string(),
        }
    }

    /// CPU time of all rtpengine threads.
    fn cpu(&self) -> Duration {
        tasks_cpu(format!("/proc/{}/task", self.child.id()), "")
    }
}

/// What receives an SDP that went through rtpengine.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Browser,
    Phone,
    PhoneTranscoded,
}

/// rtpengine drops the session's `a=group:BUNDLE`, which str0m requires: put it back.
fn bundled(sdp: &str) -> String {
    if sdp.contains("a=group:BUNDLE") {
        return sdp.to_string();
    }
    let mid = sdp
        .lines()
        .find_map(|l| l.strip_prefix("a=mid:"))
        .unwrap_or("0")
        .trim();
    let mut out = String::with_capacity(sdp.len() + 32);
    for line in sdp.split_inclusive('\n') {
        out.push_str(line);
        if line.starts_with("t=") {
            out.push_str(&format!("a=group:BUNDLE {mid}\r\n"));
        }
    }
    out
}

impl Drop for Rtpengine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl From<&str> for Ben {
    fn from(s: &str) -> Ben {
        Ben::Str(s.to_string())
    }
}

impl From<String> for Ben {
    fn from(s: String) -> Ben {
        Ben::Str(s)
    }
}

fn setup_rtpengine_call(
    r: &mut Rtpengine,
    call: usize,
    cert: &DtlsCert,
    mode: Mode,
) -> (Peer, Peer) {
    match mode {
        Mode::WebRtc => {
            let mut a = Peer::new(cert);
            let offer = r.relay_sdp(call, false, a.offer(), Side::Browser);
            let mut b = Peer::new(cert);
            let answer = r.relay_sdp(call, true, b.answer(&offer), Side::Browser);
            a.accept_answer(&answer);
            (a, b)
        }
        Mode::Plain => {
            let mut a = Peer::phone();
            let offer = r.relay_sdp(call, false, a.phone_sdp(), Side::Phone);
            let mut b = Peer::phone();
            b.set_remote(&offer);
            let answer = r.relay_sdp(call, true, b.phone_sdp(), Side::Phone);
            a.set_remote(&answer);
            (a, b)
        }
        Mode::Transcode => {
            let mut a = Peer::new(cert);
            let offer = r.relay_sdp(call, false, a.offer(), Side::PhoneTranscoded);
            let mut b = Peer::phone();
            b.set_remote(&offer);
            let answer = r.relay_sdp(call, true, b.phone_sdp(), Side::Browser);
            a.accept_answer(&answer);
            (a, b)
        }
    }
}

async fn setup_call(h: &MediaHandle, cert: &DtlsCert, mode: Mode) -> (Peer, Peer, [LegId; 2]) {
    // A: calls in (we answer); B: called (we offer, next to A).
    let (a, leg_a) = match mode {
        Mode::WebRtc | Mode::Transcode => {
            let mut a = Peer::new(cert);
            let offer = a.offer();
            let (leg, answer) = h.create_answerer(offer, None).await.unwrap();
            a.accept_answer(&answer);
            (a, leg)
        }
        Mode::Plain => {
            let mut a = Peer::phone();
            let (leg, answer) = h.create_answerer(a.phone_sdp(), None).await.unwrap();
            a.set_remote(&answer);
            (a, leg)
        }
    };
    let (b, leg_b) = match mode {
        Mode::WebRtc => {
            let mut b = Peer::new(cert);
            let (leg, offer) = h.create_offerer(Some(leg_a)).await.unwrap();
            let answer = b.answer(&offer);
            h.accept_answer(leg, answer).await.unwrap();
            (b, leg)
        }
        Mode::Plain | Mode::Transcode => {
            let mut b = Peer::phone();
            let (leg, offer) = h
                .create_offerer_kind(Some(leg_a), LegKind::Rtp)
                .await
                .unwrap();
            b.set_remote(&offer);
            h.accept_answer(leg, b.phone_sdp()).await.unwrap();
            (b, leg)
        }
    };
    h.bridge(leg_a, leg_b).await.unwrap();
    (a, b, [leg_a, leg_b])
}

/// Speech-like test audio: a few harmonics under a slow syllable envelope, at `rate` Hz.
fn speech(rate: f64, n: usize) -> Vec<i16> {
    use std::f64::consts::TAU;
    (0..n)
        .map(|i| {
            let t = i as f64 / rate;
            let envelope = 0.55 + 0.45 * (TAU * 3.0 * t).sin();
            let pitch = 140.0 + 30.0 * (TAU * 0.7 * t).sin();
            let s: f64 = [(1.0, 1.0), (2.0, 0.6), (3.0, 0.4), (5.0, 0.25)]
                .iter()
                .map(|(h, a)| a * (TAU * pitch * h * t).sin())
                .sum();
            (3500.0 * envelope * s) as i16
        })
        .collect()
}

/// `n` 20 ms frames of that signal as a browser sends it: Opus at 48 kHz, 32 kbit/s, in-band
/// FEC.
fn opus_frames(n: usize) -> Vec<Arc<[u8]>> {
    let mut enc = OpusEncoder::new(48_000).unwrap();
    enc.set_bitrate(32_000).unwrap();
    enc.set_inband_fec(true).unwrap();
    let mut out = [0u8; 1500];
    speech(48_000.0, n * 960)
        .chunks(960)
        .map(|f| {
            let len = enc.encode(f, &mut out).unwrap();
            Arc::from(&out[..len])
        })
        .collect()
}

/// `n` 20 ms frames of that signal as a phone sends it: PCMU.
fn pcmu_frames(n: usize) -> Vec<Arc<[u8]>> {
    let pcm: Vec<u8> = speech(8000.0, n * 160)
        .iter()
        .map(|&s| Law::Ulaw.encode(s))
        .collect();
    pcm.chunks(160).map(Arc::from).collect()
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

/// The relay under test: Switchboard's media server, or rtpengine as the named peer.
enum Relay {
    Ours {
        handle: MediaHandle,
        recording: Option<Recording>,
    },
    Rtpengine(Rtpengine),
}

impl Relay {
    fn name(&self) -> &'static str {
        match self {
            Relay::Ours { .. } => "switchboard",
            Relay::Rtpengine(_) => "rtpengine",
        }
    }

    fn cpu(&self) -> Duration {
        match self {
            Relay::Ours { .. } => threads_cpu("media-"),
            Relay::Rtpengine(r) => r.cpu(),
        }
    }
}

fn main() {
    let args = args();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let threads = match args.shards {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let mut relay = if args.rtpengine {
        Relay::Rtpengine(Rtpengine::start(threads))
    } else {
        let mut server = rt
            .block_on(MediaServer::start(MediaServerConfig {
                shards: threads,
                ..Default::default()
            }))
            .unwrap();
        let handle = server.handle.clone();
        // Nobody reads the server's events here: drop them as they come.
        std::thread::Builder::new()
            .name("events".into())
            .spawn(move || while server.events.blocking_recv().is_some() {})
            .unwrap();
        let recording = args.record.then(|| rt.block_on(Recording::start(&handle)));
        Relay::Ours { handle, recording }
    };

    let cert = str0m::crypto::from_feature_flags()
        .dtls_provider
        .generate_certificate()
        .unwrap();
    let count = (args.secs * args.pps) as usize;
    let t0 = Instant::now();
    let mut pairs = Vec::with_capacity(args.calls);
    let mut legs = Vec::with_capacity(args.calls * 2);
    for call in 0..args.calls {
        let (a, b) = match &mut relay {
            Relay::Ours { handle, recording } => {
                let (a, b, l) = rt.block_on(setup_call(handle, &cert, args.mode));
                if let Some(r) = recording {
                    r.attach(call, l);
                }
                legs.extend(l);
                (a, b)
            }
            Relay::Rtpengine(r) => setup_rtpengine_call(r, call, &cert, args.mode),
        };
        pairs.push((a, b));
    }
    let mut peers = rt.block_on(async {
        let until = Instant::now() + Duration::from_secs(20);
        let tasks: Vec<_> = pairs
            .into_iter()
            .flat_map(|(a, b)| [a, b])
            .map(|p| tokio::spawn(p.connect(until)))
            .collect();
        let mut peers = Vec::with_capacity(tasks.len());
        for t in tasks {
            peers.push(t.await.unwrap());
        }
        peers
    });
    let connected = peers.iter().filter(|p| p.connected).count();
    let setup = t0.elapsed();
    let t1 = Instant::now();
    // What each end sends: a browser Opus-typed bytes (real Opus when transcoded, which the
    // relay decodes), a phone PCMU of the same speech-like signal.
    let opus: Vec<Arc<[u8]>> = if args.mode == Mode::Transcode {
        opus_frames(count.min(3000))
    } else {
        vec![vec![0x5a; args.payload].into()]
    };
    let pcmu = pcmu_frames(count.min(3000));
    let packets: Vec<Packets> = peers
        .iter_mut()
        .map(|p| {
            let payloads = if p.rtc.is_some() { &opus } else { &pcmu };
            p.pregenerate(count, payloads)
        })
        .collect();
    let pregen = t1.elapsed();
    let mut peers: Vec<GenPeer> = peers
        .into_iter()
        .zip(packets)
        .map(|(peer, packets)| GenPeer {
            rx_ticks: if peer.rtc.is_some() {
                TICKS
            } else {
                PCMU_TICKS
            },
            rx_base: (args.mode == Mode::WebRtc).then_some(0),
            peer,
            sent_at: vec![0; packets.ends.len()],
            packets,
            next: 0,
            seen: 0,
        })
        .collect();

    let start = Instant::now() + Duration::from_millis(200);
    let interval = Duration::from_micros(1_000_000 / args.pps);
    let stop_send = start + interval * count as u32;
    let end = stop_send + Duration::from_millis(500);
    let server0 = relay.cpu();
    let rec0 = threads_cpu("recorder");
    let gen0 = this_thread_cpu();
    let m = generate(&mut peers, start, interval, end, args.defer_reads);
    // The last 500 ms only drain what is in flight; count CPU over the sending window and that.
    let server_cpu = relay.cpu().saturating_sub(server0);
    let recorder_cpu = threads_cpu("recorder").saturating_sub(rec0);
    let gen_cpu = this_thread_cpu().saturating_sub(gen0);
    let measured = stop_send - start + Duration::from_millis(500);
    let m = read_the_rest(&mut peers, m);

    let (mut lost_in, mut not_forwarded) = (0, 0);
    if let Relay::Ours { handle, .. } = &relay {
        for &leg in &legs {
            if let Ok(s) = rt.block_on(handle.stats(leg)) {
                lost_in += s.lost_in;
                not_forwarded += s.not_forwarded;
            }
        }
    }
    let mut delays = m.delays_us;
    delays.sort_unstable();
    let mut late = m.late_us;
    late.sort_unstable();
    let pct = |cpu: Duration| cpu.as_secs_f64() / measured.as_secs_f64() * 100.0;
    let loss = if m.sent == 0 {
        f64::NAN
    } else {
        m.sent.saturating_sub(m.received) as f64 / m.sent as f64 * 100.0
    };
    println!(
        "relay={} mode={} calls={} threads={threads} connected_peers={connected}/{} setup={:.1}s \
         pregenerate={:.1}s window={}s pps_per_direction={} payload={}B",
        relay.name(),
        args.mode.name(),
        args.calls,
        args.calls * 2,
        setup.as_secs_f64(),
        pregen.as_secs_f64(),
        args.secs,
        args.pps,
        args.payload
    );
    println!(
        "server_cpu={:.2}s ({:.1}% of one core, {:.1}% of {threads}) per_call={:.3}% of one core; \
         generator_cpu={:.2}s ({:.1}% of one core)",
        server_cpu.as_secs_f64(),
        pct(server_cpu),
        pct(server_cpu) / threads as f64,
        pct(server_cpu) / args.calls as f64,
        gen_cpu.as_secs_f64(),
        pct(gen_cpu),
    );
    println!(
        "packets sent={} received={} loss={:.4}% strangers={} decrypted_ok={}/{} sampled; \
         one-way delay via server ms p50={:.2} p99={:.2} max={:.2}; generator send lag ms p99={:.2}",
        m.sent,
        m.received,
        loss,
        m.strangers,
        m.verified,
        m.sampled,
        percentile(&delays, 0.5),
        percentile(&delays, 0.99),
        percentile(&delays, 1.0),
        percentile(&late, 0.99),
    );
    // One line for bench/media/run.sh to collect.
    println!(
        "result relay={} mode={} calls={} per_call_pct={:.4} server_pct={:.1} loss_pct={:.4} \
         p50_ms={:.2} p99_ms={:.2} strangers={}",
        relay.name(),
        args.mode.name(),
        args.calls,
        pct(server_cpu) / args.calls as f64,
        pct(server_cpu),
        loss,
        percentile(&delays, 0.5),
        percentile(&delays, 0.99),
        m.strangers,
    );
    if let Relay::Ours { recording, .. } = relay {
        println!("server saw: lost on the way in={lost_in} not forwarded={not_forwarded}");
        if let Some(r) = recording {
            r.finish(&legs, args.calls, recorder_cpu, measured);
        }
    }
}
