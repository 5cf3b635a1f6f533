//! An Opus browser bridged to a G.711 desk phone through the server's transcoder, measured: a
//! known signal (a 1 kHz tone, then a 300–3400 Hz sweep) is encoded as real Opus by the test
//! browser, transcoded to PCMU for a fake phone on a real UDP socket, echoed by the phone and
//! transcoded back to Opus for the browser. Both far ends are decoded and compared with the
//! signal: level, frequency, gaps and SNR. The figures are printed
//! (`cargo test -p switchboard-media --test transcoding -- --nocapture`).

mod common;

use std::f64::consts::PI;
use std::time::Duration;

use common::{browser_and_phone, two_shards, Client};
use switchboard_media::codec::{OpusDecoder, OpusEncoder};
use switchboard_media::g711::Law;
use switchboard_media::{MediaEvent, Prefer};

const EVERY: Duration = Duration::from_millis(20);
/// Peak amplitude of the test signal: -11 dBFS, loud speech, far from clipping.
const AMPLITUDE: f64 = 9000.0;
const TONE_HZ: f64 = 1000.0;
const TONE_SECS: f64 = 1.0;
const SWEEP: (f64, f64) = (300.0, 3400.0);
const SWEEP_SECS: f64 = 1.5;
const SIGNAL_SECS: f64 = TONE_SECS + SWEEP_SECS;
/// Fades at both ends of the signal (no onset click in the reference).
const FADE_SECS: f64 = 0.01;
const FRAMES: usize = (SIGNAL_SECS * 50.0) as usize;

/// The test signal at time `t` seconds: the tone, then an exponential sweep starting at the
/// tone's phase (zero: 1000 whole cycles).
fn signal(t: f64) -> f64 {
    if !(0.0..SIGNAL_SECS).contains(&t) {
        return 0.0;
    }
    let fade = (t / FADE_SECS).min((SIGNAL_SECS - t) / FADE_SECS).min(1.0);
    let phase = if t < TONE_SECS {
        2.0 * PI * TONE_HZ * t
    } else {
        let (f0, f1) = SWEEP;
        let k = (f1 / f0).ln();
        let u = t - TONE_SECS;
        2.0 * PI * f0 * SWEEP_SECS / k * ((k * u / SWEEP_SECS).exp() - 1.0)
    };
    AMPLITUDE * fade * phase.sin()
}

/// The sweep's frequency at time `t` (within the sweep).
fn sweep_hz(t: f64) -> f64 {
    let (f0, f1) = SWEEP;
    f0 * (f1 / f0).powf((t - TONE_SECS) / SWEEP_SECS)
}

fn samples(rate: f64, n: usize, start: usize) -> Vec<i16> {
    (start..start + n)
        .map(|i| signal(i as f64 / rate).round() as i16)
        .collect()
}

/// What was measured on one far end.
#[derive(Debug)]
struct Figures {
    delay_ms: f64,
    tone_level_db: f64,
    sweep_level_db: f64,
    tone_hz: f64,
    sweep_worst_error: f64,
    longest_silence_ms: f64,
    snr_db: f64,
    correlation: f64,
}

const RATE: f64 = 8000.0;

/// Frequency from zero crossings (linearly interpolated) of `x`.
fn zero_crossing_hz(x: &[f64]) -> Option<f64> {
    let mut crossings = Vec::new();
    for i in 1..x.len() {
        if (x[i - 1] < 0.0) != (x[i] < 0.0) && x[i] != x[i - 1] {
            crossings.push(i as f64 - 1.0 + x[i - 1] / (x[i - 1] - x[i]));
        }
    }
    let (first, last) = (crossings.first()?, crossings.last()?);
    (crossings.len() > 2).then(|| (crossings.len() - 1) as f64 / 2.0 * RATE / (last - first))
}

fn rms(x: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = x.fold((0.0, 0usize), |(s, n), v| (s + v * v, n + 1));
    (sum / n.max(1) as f64).sqrt()
}

fn db(ratio: f64) -> f64 {
    20.0 * ratio.log10()
}

/// Aligns `got` (8 kHz) with the signal and measures it.
fn measure(got: &[i16]) -> Figures {
    let x: Vec<f64> = got.iter().map(|&s| f64::from(s)).collect();
    // Coarse delay: integer lag with the best correlation over the sweep (unambiguous, unlike
    // the tone), searched up to 500 ms.
    let reference: Vec<f64> = (0..(SIGNAL_SECS * RATE) as usize)
        .map(|i| signal(i as f64 / RATE))
        .collect();
    let sweep = (TONE_SECS * RATE) as usize..reference.len();
    let mut best = (f64::MIN, 0usize);
    for lag in 0..4000usize {
        let mut c = 0.0;
        for n in sweep.clone().step_by(2) {
            c += reference[n] * x.get(n + lag).copied().unwrap_or(0.0);
        }
        if c > best.0 {
            best = (c, lag);
        }
    }
    // Fine delay: the analytic signal at fractional delays (codecs delay by fractions of an
    // 8 kHz sample too), the one with the best normalised correlation.
    let span = |d: f64| {
        let lo = ((0.05 * RATE) + d) as usize;
        let hi = (((SIGNAL_SECS - 0.05) * RATE) + d) as usize;
        lo..hi.min(x.len())
    };
    let correlation = |d: f64| {
        let (mut xy, mut xx, mut yy) = (0.0, 0.0, 0.0);
        for n in span(d) {
            let r = signal((n as f64 - d) / RATE);
            xy += x[n] * r;
            xx += x[n] * x[n];
            yy += r * r;
        }
        (xy / (xx * yy).sqrt(), xy / yy)
    };
    let mut fine = (f64::MIN, best.1 as f64, 1.0);
    for step in -100..=100 {
        let d = best.1 as f64 + step as f64 * 0.02;
        let (c, gain) = correlation(d);
        if c > fine.0 {
            fine = (c, d, gain);
        }
    }
    let (corr, delay, gain) = fine;
    let mut signal_energy = 0.0;
    let mut error_energy = 0.0;
    for n in span(delay) {
        let r = gain * signal((n as f64 - delay) / RATE);
        signal_energy += r * r;
        error_energy += (x[n] - r).powi(2);
    }
    let at = |secs: f64| (secs * RATE + delay) as usize;
    let tone = &x[at(0.1)..at(TONE_SECS - 0.1)];
    let tone_ref = rms((at(0.1)..at(TONE_SECS - 0.1)).map(|n| signal((n as f64 - delay) / RATE)));
    let sweep_x = &x[at(TONE_SECS + 0.05)..at(SIGNAL_SECS - 0.05)];
    let sweep_ref =
        rms((at(TONE_SECS + 0.05)..at(SIGNAL_SECS - 0.05))
            .map(|n| signal((n as f64 - delay) / RATE)));
    // The sweep's frequency in 50 ms windows against where it should be then.
    let mut worst = 0.0f64;
    let mut t = TONE_SECS + 0.05;
    while t + 0.05 < SIGNAL_SECS - 0.05 {
        let w = &x[at(t)..at(t + 0.05)];
        let expected = (sweep_hz(t) * sweep_hz(t + 0.05)).sqrt();
        let measured = zero_crossing_hz(w).unwrap_or(0.0);
        worst = worst.max((measured / expected - 1.0).abs());
        t += 0.05;
    }
    // Silence: the longest run of samples under 1 % of the amplitude, mid-signal.
    let quiet = AMPLITUDE * 0.01;
    let (mut run, mut longest) = (0usize, 0usize);
    for &v in &x[at(FADE_SECS * 2.0)..at(SIGNAL_SECS - FADE_SECS * 2.0)] {
        run = if v.abs() < quiet { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    Figures {
        delay_ms: delay / RATE * 1000.0,
        tone_level_db: db(rms(tone.iter().copied()) / tone_ref),
        sweep_level_db: db(rms(sweep_x.iter().copied()) / sweep_ref),
        tone_hz: zero_crossing_hz(tone).unwrap_or(0.0),
        sweep_worst_error: worst,
        longest_silence_ms: longest as f64 / RATE * 1000.0,
        snr_db: 10.0 * (signal_energy / error_energy).log10(),
        correlation: corr,
    }
}

/// Thresholds, with why:
/// - level ±3 dB and frequency within 2 % (the brief);
/// - no silence longer than 40 ms inside the signal (a lost or dropped frame is 20 ms of
///   concealment at worst; 40 ms of silence means frames were dropped, not concealed);
/// - SNR against the time-aligned, gain-matched signal: µ-law alone gives ~38 dB at this level;
///   Opus at 24–32 kbit/s is a waveform-matching coder but not transparent. A single dropped or
///   duplicated 20 ms frame shifts everything after it by 160 samples, which takes the SNR of
///   the rest to ~0 dB (and a click or a wrong law far below 10 dB), so a threshold well above
///   0 and a few dB under what a healthy path measures separates the two. The correlation
///   threshold is the same test in another unit.
fn check(name: &str, f: &Figures, min_snr_db: f64) {
    println!(
        "{name}: delay {:.1} ms, tone level {:+.2} dB at {:.1} Hz ({:+.2} %), sweep level \
         {:+.2} dB, sweep frequency worst error {:.2} %, longest silence {:.1} ms, SNR {:.1} dB, \
         correlation {:.4}",
        f.delay_ms,
        f.tone_level_db,
        f.tone_hz,
        (f.tone_hz / TONE_HZ - 1.0) * 100.0,
        f.sweep_level_db,
        f.sweep_worst_error * 100.0,
        f.longest_silence_ms,
        f.snr_db,
        f.correlation
    );
    assert!(f.tone_level_db.abs() <= 3.0, "{name}: tone level {f:?}");
    assert!(f.sweep_level_db.abs() <= 3.0, "{name}: sweep level {f:?}");
    assert!(
        (f.tone_hz / TONE_HZ - 1.0).abs() <= 0.02,
        "{name}: tone frequency {f:?}"
    );
    assert!(f.sweep_worst_error <= 0.02, "{name}: sweep frequency {f:?}");
    assert!(f.longest_silence_ms <= 40.0, "{name}: gap {f:?}");
    assert!(f.snr_db >= min_snr_db, "{name}: SNR {f:?}");
}

/// A browser's Opus encoder (Chromium's defaults are near these: 48 kHz, ~32 kbit/s, FEC).
fn browser_encoder() -> OpusEncoder {
    let mut e = OpusEncoder::new(48_000).unwrap();
    e.set_bitrate(32_000).unwrap();
    e.set_complexity(9).unwrap();
    e.set_inband_fec(true).unwrap();
    e
}

fn encode_signal() -> Vec<Vec<u8>> {
    let mut enc = browser_encoder();
    let mut out = [0u8; 1500];
    (0..FRAMES)
        .map(|i| {
            let n = enc
                .encode(&samples(48_000.0, 960, i * 960), &mut out)
                .unwrap();
            out[..n].to_vec()
        })
        .collect()
}

#[tokio::test]
async fn opus_to_pcmu_and_back_keeps_level_frequency_and_continuity() {
    let mut server = two_shards().await;
    let w = Client::new(b'O').await;
    let (mut w, mut p, leg_w, leg_p) = browser_and_phone(&mut server, w, Prefer::G711).await;
    server.handle.bridge(leg_w, leg_p).await.unwrap();

    let frames = encode_signal();
    let mut next = 0usize;
    let secs = Duration::from_secs_f64(SIGNAL_SECS);
    tokio::join!(
        w.pump_with(secs + Duration::from_millis(400), Some(EVERY), |c| {
            if let Some(f) = frames.get(next) {
                c.send_opus(next as u32 * 960, next == 0, f.clone());
                next += 1;
            }
        }),
        p.echo(secs + Duration::from_millis(300), 0)
    );
    assert_eq!(next, FRAMES);

    // At the phone: one PCMU stream of ours, 160 samples a packet, no timestamp jumps.
    let heard = p.audio(0);
    assert!(heard.len() >= FRAMES - 2, "{} of {FRAMES}", heard.len());
    for w in heard.windows(2) {
        assert_eq!(w[1].seq, w[0].seq.wrapping_add(1), "sequence");
        assert_eq!(w[1].ts, w[0].ts.wrapping_add(160), "timestamps");
        assert_eq!(w[1].ssrc, w[0].ssrc);
        assert!(!w[1].marker);
    }
    assert!(heard[0].marker, "the talkspurt starts with the marker");
    let far: Vec<i16> = heard
        .iter()
        .flat_map(|pk| pk.payload.iter().map(|&c| Law::Ulaw.decode(c)))
        .collect();

    // Back at the browser: Opus of ours, 960 ticks (20 ms) a packet.
    let opus_pt = w.opus_pt();
    let back: Vec<_> = w.received.iter().filter(|r| r.pt == opus_pt).collect();
    assert!(back.len() >= FRAMES - 4, "{} of {FRAMES}", back.len());
    for r in back.windows(2) {
        assert_eq!(r[1].seq, r[0].seq + 1);
        assert_eq!(r[1].rtp_time, r[0].rtp_time.wrapping_add(960));
    }
    let mut dec = OpusDecoder::new(8000).unwrap();
    let mut pcm = [0i16; 960];
    let mut round_trip = Vec::new();
    for r in &back {
        let n = dec.decode(&r.payload, &mut pcm).unwrap();
        assert_eq!(n, 160);
        round_trip.extend_from_slice(&pcm[..n]);
    }

    let one_way = measure(&far);
    check("browser Opus -> server -> phone PCMU", &one_way, 15.0);
    let both = measure(&round_trip);
    check(
        "browser Opus -> PCMU phone echo -> server Opus -> browser",
        &both,
        10.0,
    );
    let stats = server.handle.stats(leg_w).await.unwrap();
    assert_eq!(stats.transcoded, FRAMES as u64, "{stats:?}");
    let stats = server.handle.stats(leg_p).await.unwrap();
    assert_eq!(stats.transcoded, heard.len() as u64, "{stats:?}");
    let _ = server.events.try_recv();
}

/// The phone's own signal straight to an Opus-only browser (one transcode), for the figures of
/// that direction alone.
#[tokio::test]
async fn pcmu_to_opus_keeps_level_frequency_and_continuity() {
    let mut server = two_shards().await;
    let w = Client::new(b'O').await;
    let (mut w, mut p, leg_w, leg_p) = browser_and_phone(&mut server, w, Prefer::G711).await;
    server.handle.bridge(leg_w, leg_p).await.unwrap();
    let pcm = samples(RATE, FRAMES * 160, 0);
    let frames: Vec<Vec<u8>> = pcm
        .chunks(160)
        .map(|f| f.iter().map(|&s| Law::Ulaw.encode(s)).collect())
        .collect();
    tokio::join!(
        w.pump(Duration::from_secs_f64(SIGNAL_SECS + 0.4), None),
        p.talk(0, FRAMES, |i| frames[i].clone())
    );
    let opus_pt = w.opus_pt();
    let back: Vec<_> = w.received.iter().filter(|r| r.pt == opus_pt).collect();
    assert_eq!(back.len(), FRAMES);
    assert!(back[0].marker);
    let mut dec = OpusDecoder::new(8000).unwrap();
    let mut buf = [0i16; 960];
    let mut got = Vec::new();
    for r in back.windows(2) {
        assert_eq!(r[1].rtp_time, r[0].rtp_time.wrapping_add(960));
    }
    for r in &back {
        let n = dec.decode(&r.payload, &mut buf).unwrap();
        got.extend_from_slice(&buf[..n]);
    }
    check("phone PCMU -> server -> browser Opus", &measure(&got), 12.0);
    let _ = (leg_w, server.events.try_recv());
}

/// Digits still cross a transcoded bridge (relayed, clock rescaled) and the hold tone reaches
/// both kinds of leg.
#[tokio::test]
async fn digits_and_hold_tone_across_a_transcoded_bridge() {
    let mut server = two_shards().await;
    let w = Client::new(b'O').await;
    let (mut w, mut p, leg_w, leg_p) = browser_and_phone(&mut server, w, Prefer::G711).await;
    server.handle.bridge(leg_w, leg_p).await.unwrap();
    let frames = encode_signal();
    let mut next = 0;
    tokio::join!(
        w.pump_with(Duration::from_millis(200), Some(EVERY), |c| {
            c.send_opus(next as u32 * 960, next == 0, frames[next].clone());
            next += 1;
        }),
        p.talk(0, 10, |_| vec![0xff; 160])
    );
    w.send_dtmf(4, 960 * 20);
    p.send_digit(9, 101).await;
    tokio::join!(
        w.pump(Duration::from_millis(200), None),
        p.listen(Duration::from_millis(200))
    );
    let to_p = p.audio(101);
    assert_eq!(to_p.len(), 8);
    assert!(to_p.iter().all(|pk| pk.payload[0] == 4));
    assert_eq!(
        u16::from_be_bytes([to_p[7].payload[2], to_p[7].payload[3]]),
        800,
        "48 kHz durations rescaled to 8 kHz"
    );
    let tele = w.tele_pt();
    let to_w: Vec<_> = w.received.iter().filter(|r| r.pt == tele).collect();
    assert_eq!(to_w.len(), 8);
    assert_eq!(
        u16::from_be_bytes([to_w[7].payload[2], to_w[7].payload[3]]),
        4800
    );
    let mut digits = Vec::new();
    while let Ok(e) = server.events.try_recv() {
        if let MediaEvent::Dtmf { digit, .. } = e {
            digits.push(digit);
        }
    }
    digits.sort();
    assert_eq!(digits, ['4', '9']);

    // Hold the phone: it hears the G.711 tone; hold the browser: it hears the Opus tone.
    server.handle.hold(leg_p, true).await.unwrap();
    server.handle.hold(leg_w, true).await.unwrap();
    let (w_before, p_before) = (w.received.len(), p.received.len());
    tokio::join!(
        w.pump(Duration::from_millis(300), None),
        p.listen(Duration::from_millis(300))
    );
    let tone_p: Vec<_> = p.received[p_before..]
        .iter()
        .filter(|pk| pk.pt == 0)
        .collect();
    assert!(tone_p.len() >= 10, "{}", tone_p.len());
    for t in tone_p.windows(2) {
        assert_eq!(t[1].ts, t[0].ts.wrapping_add(160));
    }
    let opus_pt = w.opus_pt();
    let tone_w = w.received[w_before..]
        .iter()
        .filter(|r| r.pt == opus_pt)
        .count();
    assert!(tone_w >= 10, "{tone_w}");
}

/// A transfer: the phone's transcoded stream continues across a re-bridge to another browser
/// (same SSRC, consecutive sequence numbers, timestamps moving forward by the real pause).
#[tokio::test]
async fn a_transfer_keeps_the_phones_stream_continuous() {
    let mut server = two_shards().await;
    let w = Client::new(b'O').await;
    let (mut w, mut p, leg_w, leg_p) = browser_and_phone(&mut server, w, Prefer::G711).await;
    server.handle.bridge(leg_w, leg_p).await.unwrap();
    let frames = encode_signal();
    let mut next = 0;
    tokio::join!(
        w.pump_with(Duration::from_millis(300), Some(EVERY), |c| {
            c.send_opus(next as u32 * 960, next == 0, frames[next].clone());
            next += 1;
        }),
        p.listen(Duration::from_millis(350))
    );
    let first = p.audio(0).len();
    assert!(first >= 12, "{first}");

    // Another browser, answered next to the phone, takes over.
    let mut v = Client::new(b'V').await;
    let h = server.handle.clone();
    let offer = v.offer();
    let (leg_v, answer) = h.create_answerer(offer, Some(leg_p)).await.unwrap();
    v.accept_answer(&answer);
    while !v.connected {
        v.pump(Duration::from_millis(20), None).await;
    }
    h.bridge(leg_v, leg_p).await.unwrap();
    let mut vnext = 0;
    tokio::join!(
        v.pump_with(Duration::from_millis(300), Some(EVERY), |c| {
            // Its own stream: another SSRC, timestamps far from the first browser's.
            c.send_opus(
                7_000_000 + vnext as u32 * 960,
                vnext == 0,
                frames[vnext].clone(),
            );
            vnext += 1;
        }),
        p.listen(Duration::from_millis(350))
    );
    let heard = p.audio(0);
    assert!(heard.len() >= first + 12, "{}", heard.len());
    for pair in heard.windows(2) {
        assert_eq!(pair[1].ssrc, pair[0].ssrc);
        assert_eq!(pair[1].seq, pair[0].seq.wrapping_add(1));
        let step = pair[1].ts.wrapping_sub(pair[0].ts);
        assert!(
            (160..8000 * 2).contains(&step),
            "forward by at least a frame, at most the real pause: {step}"
        );
    }
    let jump = heard[first].ts.wrapping_sub(heard[first - 1].ts);
    assert!(heard[first].marker, "the new talkspurt is marked");
    println!("transfer: timestamp step at the switch {jump} (8 kHz ticks)");
    let _ = leg_w;
}

/// Legs on different shards: the packets are relayed to the phone's shard, whose leg
/// transcodes them.
#[tokio::test]
async fn a_transcoded_bridge_across_shards() {
    let mut server = two_shards().await;
    let h = server.handle.clone();
    let mut w = Client::new(b'O').await;
    let offer = w.offer();
    let (leg_w, answer) = h.create_answerer(offer, None).await.unwrap();
    w.accept_answer(&answer);
    let mut p = common::phone::Phone::new(0x4242).await;
    // Placed by load: the other shard.
    let (leg_p, offer) = h
        .create_offerer_kind(None, switchboard_media::LegKind::Rtp)
        .await
        .unwrap();
    assert_ne!(h.shard_of(leg_w), h.shard_of(leg_p));
    p.learn(&offer);
    h.accept_answer(leg_p, p.sdp(&[0, 101], "a=sendrecv\r\n"))
        .await
        .unwrap();
    while !w.connected {
        w.pump(Duration::from_millis(20), None).await;
    }
    h.bridge(leg_w, leg_p).await.unwrap();
    let frames = encode_signal();
    let mut next = 0;
    tokio::join!(
        w.pump_with(Duration::from_millis(400), Some(EVERY), |c| {
            c.send_opus(next as u32 * 960, next == 0, frames[next].clone());
            next += 1;
        }),
        p.talk(0, 15, |_| vec![0xff; 160])
    );
    tokio::join!(
        w.pump(Duration::from_millis(100), None),
        p.listen(Duration::from_millis(100))
    );
    let heard = p.audio(0);
    assert!(heard.len() + 2 >= next, "{} of {next}", heard.len());
    for pair in heard.windows(2) {
        assert_eq!(pair[1].ts, pair[0].ts.wrapping_add(160));
    }
    let opus_pt = w.opus_pt();
    let back = w.received.iter().filter(|r| r.pt == opus_pt).count();
    assert_eq!(back, 15, "the phone's PCMU reaches the browser as Opus");
    let _ = server.events.try_recv();
}
