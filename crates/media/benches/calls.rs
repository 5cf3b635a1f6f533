//! Concurrent bridged WebRTC calls through one MediaServer.
//!
//! The server runs alone on its own thread (a current-thread tokio runtime), so its CPU time is
//! that thread's; the load generator (str0m peers standing in for browsers) runs on the main
//! thread. Each call is two peers that connect through ICE/DTLS, get bridged, and then send
//! 60-byte payloads at 50 pps both ways, stamped with their send time.
//!
//! With `--record` every call is also recorded as in production: the recorder's tap is installed
//! on the server and both legs of each call are attached to a recording in a temporary folder.
//!
//! `cargo bench -p switchboard-media --bench calls -- --calls 100 --secs 20 [--record]`
//! (see bench/calls/run.sh)

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::config::DtlsCert;
use str0m::format::{Codec, FormatParams};
use str0m::media::{Direction, Frequency, MediaKind, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{RtpWrite, SeqNo};
use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};
use switchboard_media::{
    LegId, MediaHandle, MediaServer, MediaServerConfig, RecordControl, RecordDone, Recorder,
};
use tokio::net::UdpSocket;

struct Args {
    calls: usize,
    secs: u64,
    pps: u64,
    payload: usize,
    record: bool,
    shards: usize,
}

fn args() -> Args {
    let mut a = Args {
        calls: 100,
        secs: 20,
        pps: 50,
        payload: 60,
        record: false,
        shards: 0,
    };
    let argv: Vec<String> = std::env::args().collect();
    a.record = argv.iter().any(|v| v == "--record");
    for w in argv.windows(2) {
        let v = || w[1].parse().expect("numeric argument");
        match w[0].as_str() {
            "--calls" => a.calls = v(),
            "--secs" => a.secs = v() as u64,
            "--pps" => a.pps = v() as u64,
            "--payload" => a.payload = v(),
            "--shards" => a.shards = v(),
            _ => {}
        }
    }
    a
}

/// CPU time of the calling thread in ns (schedstat: time spent on the CPU).
fn thread_cpu() -> Duration {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let ns = s
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Duration::from_nanos(ns)
}

/// CPU time of this process's thread named `name` (the recorder's), from its schedstat.
fn named_thread_cpu(name: &str) -> Duration {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    for t in tasks.flatten() {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        if comm.trim() == name {
            let s = std::fs::read_to_string(t.path().join("schedstat")).unwrap_or_default();
            let ns = s
                .split_whitespace()
                .next()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            return Duration::from_nanos(ns);
        }
    }
    Duration::ZERO
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

/// utime + stime of the whole process (clock ticks of 10 ms).
fn process_cpu() -> Duration {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name, starting at field 3 (state).
    let rest = s.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    Duration::from_millis((tick(11) + tick(12)) * 10)
}

struct Peer {
    rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    mid: Option<Mid>,
    pending: Option<SdpPendingOffer>,
    connected: bool,
    seq: SeqNo,
    timeout: Instant,
    sent: u64,
    received: u64,
    delays_us: Vec<u32>,
    base: Instant,
}

impl Peer {
    async fn new(cert: &DtlsCert, base: Instant) -> Peer {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let local = socket.local_addr().unwrap();
        let mut cfg = RtcConfig::new()
            .set_rtp_mode(true)
            .set_dtls_cert(cert.clone())
            .clear_codecs()
            .enable_opus(true, false);
        cfg.codec_config().add_config(
            110.into(),
            None,
            Codec::Tele,
            Frequency::FORTY_EIGHT_KHZ,
            None,
            FormatParams::parse_line("0-16"),
        );
        let now = Instant::now();
        let mut rtc = cfg.build(now);
        rtc.add_local_candidate(Candidate::host(local, "udp").unwrap());
        Peer {
            rtc,
            socket,
            local,
            mid: None,
            pending: None,
            connected: false,
            seq: 1.into(),
            timeout: now,
            sent: 0,
            received: 0,
            delays_us: Vec::new(),
            base,
        }
    }

    fn offer(&mut self) -> String {
        let mut api = self.rtc.sdp_api();
        let mid = api.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
        let (offer, pending) = api.apply().unwrap();
        self.mid = Some(mid);
        self.pending = Some(pending);
        self.drain();
        offer.to_sdp_string()
    }

    fn accept_answer(&mut self, sdp: &str) {
        let answer = SdpAnswer::from_sdp_string(sdp).unwrap();
        let pending = self.pending.take().unwrap();
        self.rtc.sdp_api().accept_answer(pending, answer).unwrap();
        self.drain();
    }

    fn answer(&mut self, sdp: &str) -> String {
        let offer = SdpOffer::from_sdp_string(sdp).unwrap();
        let answer = self.rtc.sdp_api().accept_offer(offer).unwrap();
        self.drain();
        answer.to_sdp_string()
    }

    fn drain(&mut self) {
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) => {
                    self.timeout = t;
                    return;
                }
                Ok(Output::Transmit(t)) => {
                    let _ = self.socket.try_send_to(&t.contents, t.destination);
                }
                Ok(Output::Event(e)) => match e {
                    Event::Connected => self.connected = true,
                    Event::MediaAdded(m) if self.mid.is_none() => self.mid = Some(m.mid),
                    Event::RtpPacket(p) => {
                        self.received += 1;
                        if let Some(b) = p.payload.get(1..9) {
                            let sent_ns = u64::from_be_bytes(b.try_into().expect("8 bytes"));
                            let now_ns = self.base.elapsed().as_nanos() as u64;
                            self.delays_us
                                .push((now_ns.saturating_sub(sent_ns) / 1000) as u32);
                        }
                    }
                    _ => {}
                },
                Err(_) => return,
            }
        }
    }

    fn opus_pt(&self) -> Pt {
        self.rtc
            .codec_config()
            .params()
            .iter()
            .find(|p| p.spec().codec == Codec::Opus)
            .map(|p| p.pt())
            .unwrap()
    }

    fn send(&mut self, payload_len: usize) {
        let now = Instant::now();
        let Some(mid) = self.mid else { return };
        let mut payload = vec![0u8; payload_len.max(9)];
        payload[1..9].copy_from_slice(&(self.base.elapsed().as_nanos() as u64).to_be_bytes());
        let pt = self.opus_pt();
        let seq = self.seq;
        self.seq = (*seq + 1).into();
        let time = (*seq as u32).wrapping_mul(960);
        let mut api = self.rtc.direct_api();
        let Some(stream) = api.stream_tx_by_mid(mid, None) else {
            return;
        };
        stream.write_rtp(RtpWrite::new(
            pt,
            seq,
            time,
            now,
            Arc::<[u8]>::from(payload),
        ));
        self.sent += 1;
        self.drain();
        let _ = self.rtc.handle_input(Input::Timeout(now));
        self.drain();
    }

    /// I/O loop: sends every `interval` between `start` and `stop_send`, runs until `end`.
    async fn run(
        mut self,
        start: Instant,
        stop_send: Instant,
        end: Instant,
        interval: Duration,
        len: usize,
    ) -> Peer {
        let mut buf = vec![0u8; 2048];
        // Spread the peers' send instants over the interval, as real calls would be.
        let mut next_send = start + interval.mul_f64(rand_unit(self.local.port()));
        loop {
            let now = Instant::now();
            if now >= end {
                return self;
            }
            if now >= next_send && now < stop_send {
                if self.connected {
                    self.send(len);
                }
                next_send += interval;
            }
            if self.timeout <= now {
                let _ = self.rtc.handle_input(Input::Timeout(now));
                self.drain();
            }
            let mut wake = self.timeout.min(end);
            if next_send < stop_send {
                wake = wake.min(next_send);
            }
            tokio::select! {
                r = self.socket.recv_from(&mut buf) => {
                    let Ok((n, src)) = r else { continue };
                    if let Ok(recv) = Receive::new(Protocol::Udp, src, self.local, &buf[..n]) {
                        let _ = self.rtc.handle_input(Input::Receive(Instant::now(), recv));
                        self.drain();
                    }
                }
                _ = tokio::time::sleep_until(wake.into()) => {}
            }
        }
    }
}

fn rand_unit(seed: u16) -> f64 {
    (seed as u64).wrapping_mul(2654435761) as f64 % 1000.0 / 1000.0
}

async fn setup_call(h: &MediaHandle, cert: &DtlsCert, base: Instant) -> (Peer, Peer, [LegId; 2]) {
    let mut a = Peer::new(cert, base).await;
    let offer = a.offer();
    let (leg_a, answer) = h.create_answerer(offer, None).await.unwrap();
    a.accept_answer(&answer);
    let mut b = Peer::new(cert, base).await;
    let (leg_b, offer) = h.create_offerer(Some(leg_a)).await.unwrap();
    let answer = b.answer(&offer);
    h.accept_answer(leg_b, answer).await.unwrap();
    h.bridge(leg_a, leg_b).await.unwrap();
    (a, b, [leg_a, leg_b])
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

fn main() {
    let args = args();
    let (tx, rx) = std::sync::mpsc::channel();
    // The server: alone on this thread, so this thread's CPU time is the server's.
    std::thread::Builder::new()
        .name("media-server".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let mut server = MediaServer::start(MediaServerConfig {
                    shards: args.shards,
                    ..Default::default()
                })
                .await
                .unwrap();
                tx.send(server.handle.clone()).unwrap();
                while server.events.recv().await.is_some() {}
            });
        })
        .unwrap();
    let handle = rx.recv().unwrap();
    let recording = if args.record {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        Some(rt.block_on(Recording::start(&handle)))
    } else {
        None
    };

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let base = Instant::now();
        let cert = str0m::crypto::from_feature_flags()
            .dtls_provider
            .generate_certificate()
            .unwrap();
        let t0 = Instant::now();
        let mut peers = Vec::with_capacity(args.calls * 2);
        let mut legs = Vec::new();
        for call in 0..args.calls {
            let (a, b, l) = setup_call(&handle, &cert, base).await;
            if let Some(r) = &recording {
                r.attach(call, l);
            }
            legs.extend(l);
            peers.push(a);
            peers.push(b);
        }
        let setup = t0.elapsed();
        // Connect phase (ICE + DTLS) before the measured window.
        let start = Instant::now() + Duration::from_secs(3);
        let stop_send = start + Duration::from_secs(args.secs);
        let end = stop_send + Duration::from_millis(500);
        let interval = Duration::from_micros(1_000_000 / args.pps);
        let tasks: Vec<_> = peers
            .into_iter()
            .map(|p| tokio::spawn(p.run(start, stop_send, end, interval, args.payload)))
            .collect();

        tokio::time::sleep_until(start.into()).await;
        let cpu0: Duration = handle.call_each(|_, _| thread_cpu()).await.unwrap().into_iter().sum();
        let proc0 = process_cpu();
        let rec0 = named_thread_cpu("recorder");
        tokio::time::sleep_until(stop_send.into()).await;
        let cpu1: Duration = handle.call_each(|_, _| thread_cpu()).await.unwrap().into_iter().sum();
        let proc1 = process_cpu();
        let rec1 = named_thread_cpu("recorder");

        let mut peers = Vec::new();
        for t in tasks {
            peers.push(t.await.unwrap());
        }
        let (mut lost_in, mut not_forwarded) = (0, 0);
        for &leg in &legs {
            if let Ok(s) = handle.stats(leg).await {
                lost_in += s.lost_in;
                not_forwarded += s.not_forwarded;
            }
        }
        let connected = peers.iter().filter(|p| p.connected).count();
        let mut sent = 0u64;
        let mut received = 0u64;
        let mut delays: Vec<u32> = Vec::new();
        // Pairs are (a, b): what a sent, b should receive and vice versa.
        for pair in peers.chunks(2) {
            sent += pair[0].sent + pair[1].sent;
            received += pair[0].received + pair[1].received;
        }
        for p in &mut peers {
            delays.append(&mut p.delays_us);
        }
        delays.sort_unstable();
        let server_cpu = cpu1.saturating_sub(cpu0);
        let total_cpu = proc1.saturating_sub(proc0);
        let window = stop_send - start;
        let per_call = server_cpu.as_secs_f64() / window.as_secs_f64() / args.calls as f64 * 100.0;
        let loss = if sent == 0 { f64::NAN } else { (sent.saturating_sub(received)) as f64 / sent as f64 * 100.0 };
        println!(
            "calls={} connected_peers={}/{} setup={:.1}s window={}s pps_per_direction={} payload={}B",
            args.calls,
            connected,
            args.calls * 2,
            setup.as_secs_f64(),
            args.secs,
            args.pps,
            args.payload
        );
        println!(
            "server_cpu={:.2}s ({:.1}% of one core) per_call={:.3}% of one core; generator+server cpu={:.2}s",
            server_cpu.as_secs_f64(),
            server_cpu.as_secs_f64() / window.as_secs_f64() * 100.0,
            per_call,
            total_cpu.as_secs_f64()
        );
        println!(
            "packets sent={} received={} loss={:.4}% one-way delay via server ms p50={:.2} p99={:.2} max={:.2}",
            sent,
            received,
            loss,
            percentile(&delays, 0.5),
            percentile(&delays, 0.99),
            percentile(&delays, 1.0)
        );
        println!("server saw: lost on the way in={lost_in} not forwarded={not_forwarded}");
        if let Some(r) = recording {
            r.finish(&legs, args.calls, rec1.saturating_sub(rec0), window);
        }
    });
}
