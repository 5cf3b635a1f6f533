//! Transcoded calls per core beside relayed calls per core, on the sans-IO `MediaCore` itself:
//! one thread, no sockets, simulated time, so the figure is the engine's own CPU per call
//! (SRTP, forwarding, jitter buffer, codecs), without the kernel's UDP cost or a load
//! generator sharing the cores. `calls.rs` measures the whole server over real sockets (and
//! rtpengine beside it); this one isolates what transcoding adds.
//!
//! Each call is a browser (a str0m peer, connected through ICE and DTLS in memory) bridged to a
//! desk phone (a plain RTP leg fed datagrams as if from a socket), both sending 20 ms packets
//! of a speech-like signal:
//! - relayed: the browser sends PCMU, the bridge relays SRTP↔RTP;
//! - transcoded: the browser sends real Opus (48 kHz, 32 kbit/s), decoded to 8 kHz and encoded
//!   to PCMU toward the phone; the phone's PCMU is encoded to Opus (complexity 5) toward it.
//!
//! No datagram leaves the process: the addresses are loopback names for the core's maps.
//!
//! `cargo bench -p switchboard-media --bench transcode -- [--calls 100] [--secs 10]`

// Shared with calls.rs and the tests; this bench uses only part of it.
#[allow(dead_code)]
#[path = "../tests/common/browser.rs"]
mod browser;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::format::{Codec, FormatParams};
use str0m::media::{Frequency, Mid};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{RtpWrite, SeqNo};
use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};
use switchboard_media::codec::{OpusDecoder, OpusEncoder};
use switchboard_media::g711::Law;
use switchboard_media::{LegId, LegKind, MediaConfig, MediaCore, Prefer};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Relayed,
    Transcoded,
}

fn is_rtp(d: &[u8]) -> bool {
    d.len() >= 12 && d[0] >> 6 == 2 && !(192..=223).contains(&d[1])
}

fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid clock id and a timespec to write to.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Speech-like test audio: a few harmonics with a slow syllable envelope, at `rate` Hz.
fn speech(rate: f64, n: usize) -> Vec<i16> {
    (0..n)
        .map(|i| {
            let t = i as f64 / rate;
            let env = 0.55 + 0.45 * (2.0 * std::f64::consts::PI * 3.0 * t).sin();
            let f0 = 140.0 + 30.0 * (2.0 * std::f64::consts::PI * 0.7 * t).sin();
            let s: f64 = [(1.0, 1.0), (2.0, 0.6), (3.0, 0.4), (5.0, 0.25), (8.0, 0.15)]
                .iter()
                .map(|(h, a)| a * (2.0 * std::f64::consts::PI * f0 * h * t).sin())
                .sum();
            (3500.0 * env * s) as i16
        })
        .collect()
}

/// A G.711-capable browser (Opus, PCMU, PCMA, telephone-event), as Chromium offers.
fn g711_browser(local: SocketAddr, now: Instant) -> Rtc {
    let mut cfg = RtcConfig::new()
        .set_rtp_mode(true)
        .clear_codecs()
        .enable_opus(true, false)
        .enable_pcmu(true, false)
        .enable_pcma(true, false);
    cfg.codec_config().add_config(
        110.into(),
        None,
        Codec::Tele,
        Frequency::FORTY_EIGHT_KHZ,
        None,
        FormatParams::parse_line("0-16"),
    );
    let mut rtc = cfg.build(now);
    rtc.add_local_candidate(Candidate::host(local, "udp").unwrap());
    rtc
}

struct Call {
    peer: Rtc,
    peer_addr: SocketAddr,
    mid: Mid,
    peer_timeout: Instant,
    connected: bool,
    phone_addr: SocketAddr,
    rtp_port: SocketAddr,
    legs: [LegId; 2],
}

fn drain_peer(c: &mut Call, out: &mut Vec<(SocketAddr, Vec<u8>)>) {
    loop {
        match c.peer.poll_output() {
            Ok(Output::Timeout(t)) => {
                c.peer_timeout = t;
                return;
            }
            Ok(Output::Transmit(t)) => out.push((c.peer_addr, t.contents.into())),
            Ok(Output::Event(Event::Connected)) => c.connected = true,
            Ok(_) => {}
            Err(_) => return,
        }
    }
}

struct Figures {
    calls: usize,
    secs: f64,
    cpu: Duration,
    to_phones: u64,
    to_browsers: u64,
    transcoded: u64,
}

impl Figures {
    fn per_core(&self) -> f64 {
        self.calls as f64 * self.secs / self.cpu.as_secs_f64()
    }
}

fn run(mode: Mode, calls: usize, secs: u64) -> Figures {
    let start = Instant::now();
    let server: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let mut core = MediaCore::new(MediaConfig {
        candidate_addr: server,
        ice_lite: true,
        shard: 0,
        shards: 1,
    });
    let mut now = start;
    let mut calls_v = Vec::with_capacity(calls);
    let mut by_addr = HashMap::new();
    for i in 0..calls {
        let peer_addr: SocketAddr = format!("127.0.1.1:{}", 10_000 + i).parse().unwrap();
        let mut peer = match mode {
            Mode::Relayed => g711_browser(peer_addr, now),
            Mode::Transcoded => browser::rtc(peer_addr, None, now),
        };
        let (mid, pending, offer) = browser::offer(&mut peer);
        let (leg_w, answer) = core
            .create_answerer_preferring(&offer, Prefer::G711, now)
            .unwrap();
        browser::accept_answer(&mut peer, pending, &answer);
        let rtp_port: SocketAddr = format!("127.0.0.1:{}", 20_000 + 2 * i).parse().unwrap();
        core.add_rtp_port(rtp_port);
        let (leg_p, _offer) = core.create_offerer_kind(LegKind::Rtp, now).unwrap();
        let phone_addr: SocketAddr = format!("127.0.2.1:{}", 30_000 + 2 * i).parse().unwrap();
        let sdp = format!(
            "v=0\r\no=phone 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
             m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
             a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n",
            ip = phone_addr.ip(),
            port = phone_addr.port()
        );
        core.accept_answer(leg_p, &sdp, now).unwrap();
        core.bridge(leg_w, leg_p).unwrap();
        by_addr.insert(peer_addr, i);
        calls_v.push(Call {
            peer,
            peer_addr,
            mid,
            peer_timeout: now,
            connected: false,
            phone_addr,
            rtp_port,
            legs: [leg_w, leg_p],
        });
    }
    // ICE and DTLS, in memory, in simulated time.
    let mut wire = Vec::new();
    let deadline = start + Duration::from_secs(10);
    while calls_v.iter().any(|c| !c.connected) {
        assert!(now < deadline, "peers did not connect");
        for c in &mut calls_v {
            if c.peer_timeout <= now {
                let _ = c.peer.handle_input(Input::Timeout(now));
            }
            drain_peer(c, &mut wire);
        }
        for (from, d) in wire.drain(..) {
            core.handle_receive(from, server, &d, now);
        }
        core.handle_timeout(now);
        while let Some(d) = core.poll_transmit() {
            if let Some(&i) = by_addr.get(&d.destination) {
                let c = &mut calls_v[i];
                if let Ok(r) = Receive::new(Protocol::Udp, server, c.peer_addr, &d.contents) {
                    let _ = c.peer.handle_input(Input::Receive(now, r));
                }
            }
            core.recycle(d.contents);
        }
        while core.poll_event().is_some() {}
        now += Duration::from_millis(1);
    }
    // Every packet of the window, ahead of time: the browser's SRTP (real Opus, or PCMU) and
    // the phone's RTP.
    let count = secs as usize * 50;
    let pcm48 = speech(48_000.0, count * 960);
    let pcm8 = speech(8000.0, count * 160);
    let pcmu: Vec<u8> = pcm8.iter().map(|&s| Law::Ulaw.encode(s)).collect();
    let payloads: Vec<Arc<[u8]>> = match mode {
        Mode::Relayed => pcmu.chunks(160).map(Arc::from).collect(),
        Mode::Transcoded => {
            let mut enc = OpusEncoder::new(48_000).unwrap();
            enc.set_bitrate(32_000).unwrap();
            enc.set_complexity(9).unwrap();
            enc.set_inband_fec(true).unwrap();
            let mut out = [0u8; 1500];
            pcm48
                .chunks(960)
                .map(|f| {
                    let n = enc.encode(f, &mut out).unwrap();
                    Arc::from(&out[..n])
                })
                .collect()
        }
    };
    let t1 = now + Duration::from_millis(100);
    let mut browser_packets: Vec<Vec<Vec<u8>>> = Vec::with_capacity(calls);
    for c in &mut calls_v {
        let pt = browser::pt(
            &c.peer,
            match mode {
                Mode::Relayed => Codec::PCMU,
                Mode::Transcoded => Codec::Opus,
            },
        );
        let ticks = match mode {
            Mode::Relayed => 160,
            Mode::Transcoded => 960,
        };
        let mut mine = Vec::with_capacity(count);
        for (k, payload) in payloads.iter().enumerate() {
            let at = t1 + Duration::from_millis(20 * k as u64);
            let mut api = c.peer.direct_api();
            let stream = api.stream_tx_by_mid(c.mid, None).unwrap();
            let seq: SeqNo = (k as u64 + 1).into();
            stream.write_rtp(RtpWrite::new(
                pt,
                seq,
                k as u32 * ticks,
                at,
                payload.clone(),
            ));
            let _ = c.peer.handle_input(Input::Timeout(at));
            let mut out = Vec::new();
            drain_peer(c, &mut out);
            mine.extend(
                out.into_iter()
                    .map(|(_, d)| d)
                    .filter(|d| is_rtp(d))
                    .take(1),
            );
        }
        browser_packets.push(mine);
    }
    let phone_packets: Vec<Vec<u8>> = pcmu
        .chunks(160)
        .enumerate()
        .map(|(k, f)| {
            let mut b = vec![0x80, 0];
            b.extend_from_slice(&(k as u16).to_be_bytes());
            b.extend_from_slice(&(k as u32 * 160).to_be_bytes());
            b.extend_from_slice(&0x5eed_u32.to_be_bytes());
            b.extend_from_slice(f);
            b
        })
        .collect();

    // The measured window: 20 ms ticks of simulated time, every call's two packets each.
    let (mut to_phones, mut to_browsers) = (0u64, 0u64);
    let cpu0 = thread_cpu();
    for (k, phone_packet) in phone_packets.iter().enumerate() {
        let now = t1 + Duration::from_millis(20 * k as u64);
        for (c, packets) in calls_v.iter().zip(&browser_packets) {
            if let Some(p) = packets.get(k) {
                core.handle_receive(c.peer_addr, server, p, now);
            }
            core.handle_receive(c.phone_addr, c.rtp_port, phone_packet, now);
        }
        if core.poll_timeout().is_some_and(|t| t <= now) {
            core.handle_timeout(now);
        }
        while let Some(d) = core.poll_transmit() {
            if d.local_port.is_some() {
                to_phones += 1;
            } else {
                to_browsers += 1;
            }
            core.recycle(d.contents);
        }
        while core.poll_event().is_some() {}
    }
    let cpu = thread_cpu() - cpu0;
    let transcoded = calls_v
        .iter()
        .flat_map(|c| c.legs)
        .map(|l| core.stats(l).map_or(0, |s| s.transcoded))
        .sum();
    Figures {
        calls,
        secs: secs as f64,
        cpu,
        to_phones,
        to_browsers,
        transcoded,
    }
}

/// The codecs alone, per call and 20 ms: Opus (48 kHz encoded) decoded to 8 kHz and µ-law
/// encoded one way, µ-law decoded and Opus encoded from 8 kHz the other (the two times).
fn codec_only(frames: usize) -> (Duration, Duration) {
    let pcm48 = speech(48_000.0, frames * 960);
    let pcm8 = speech(8000.0, frames * 160);
    let mut browser = OpusEncoder::new(48_000).unwrap();
    browser.set_bitrate(32_000).unwrap();
    let mut buf = [0u8; 1500];
    let packets: Vec<Vec<u8>> = pcm48
        .chunks(960)
        .map(|f| {
            let n = browser.encode(f, &mut buf).unwrap();
            buf[..n].to_vec()
        })
        .collect();
    let ulaw: Vec<u8> = pcm8.iter().map(|&s| Law::Ulaw.encode(s)).collect();
    let mut dec = OpusDecoder::new(8000).unwrap();
    let mut enc = OpusEncoder::voip(8000).unwrap();
    let mut pcm = [0i16; 960];
    let mut out8 = [0u8; 160];
    let mut lin = [0i16; 160];
    let (mut to_g711, mut to_opus) = (Duration::ZERO, Duration::ZERO);
    for (p, u) in packets.iter().zip(ulaw.chunks(160)) {
        let t0 = thread_cpu();
        let n = dec.decode(p, &mut pcm).unwrap();
        for (o, &s) in out8.iter_mut().zip(&pcm[..n]) {
            *o = Law::Ulaw.encode(s);
        }
        std::hint::black_box(&out8);
        let t1 = thread_cpu();
        for (l, &c) in lin.iter_mut().zip(u) {
            *l = Law::Ulaw.decode(c);
        }
        std::hint::black_box(enc.encode(&lin, &mut buf).unwrap());
        to_opus += thread_cpu() - t1;
        to_g711 += t1 - t0;
    }
    (to_g711 / frames as u32, to_opus / frames as u32)
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    let (mut calls, mut secs) = (100usize, 10u64);
    for w in argv.windows(2) {
        match w[0].as_str() {
            "--calls" => calls = w[1].parse().expect("--calls N"),
            "--secs" => secs = w[1].parse().expect("--secs N"),
            _ => {}
        }
    }
    let relayed = run(Mode::Relayed, calls, secs);
    let transcoded = run(Mode::Transcoded, calls, secs);
    let expected = (calls * secs as usize * 50) as u64;
    for (name, f) in [("relayed", &relayed), ("transcoded", &transcoded)] {
        assert!(
            f.to_phones >= expected * 99 / 100 && f.to_browsers >= expected * 99 / 100,
            "{name}: {} to phones, {} to browsers of {expected}",
            f.to_phones,
            f.to_browsers
        );
        println!(
            "{name:>10}: {} calls x {} s simulated in {:.3} s of CPU: {:.1} us per call-second, \
             {:.0} calls per core ({} packets to phones, {} to browsers, {} transcoded)",
            f.calls,
            f.secs,
            f.cpu.as_secs_f64(),
            f.cpu.as_secs_f64() * 1e6 / (f.calls as f64 * f.secs),
            f.per_core(),
            f.to_phones,
            f.to_browsers,
            f.transcoded
        );
    }
    let (to_g711, to_opus) = codec_only(2000);
    let codec = to_g711 + to_opus;
    println!(
        "codec only: {:.1} us per call per 20 ms (Opus->8k->PCMU {:.1} us, PCMU->Opus at \
         complexity {} {:.1} us): {:.0} calls per core",
        codec.as_secs_f64() * 1e6,
        to_g711.as_secs_f64() * 1e6,
        switchboard_media::codec::COMPLEXITY,
        to_opus.as_secs_f64() * 1e6,
        0.02 / codec.as_secs_f64()
    );
    println!(
        "transcoded vs relayed: {:.1}x the CPU per call",
        relayed.per_core() / transcoded.per_core()
    );
}
