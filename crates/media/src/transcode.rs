//! Opus↔G.711 for one direction of a bridge: the stage [`crate::bridge`] plans when a leg
//! sends a codec its peer cannot take (an Opus browser and a desk phone).
//!
//! A [`Transcoder`] belongs to the leg it writes to, so it outlives re-bridges: a transfer
//! swaps the source, while the encoder, the leg's SSRC, sequence numbers and timestamps carry
//! on. Per packet it does no heap allocation: the reorder slots, the PCM queue and the output
//! packet are arrays inside it, allocated once with the transcoder.
//!
//! Everything runs at 8 kHz mono, G.711's rate: libopus decodes Opus to 8 kHz and encodes Opus
//! from 8 kHz (48 kHz RTP timestamps, 960 per 20 ms), so there is no resampler.
//!
//! - **Reorder buffer, driven by arrival.** A packet with the expected timestamp is decoded at
//!   once (no added delay while nothing is lost). A missing one is waited for until packets
//!   [`DEPTH_SAMPLES`] (60 ms) past it have arrived; then it is concealed: Opus from the next
//!   packet's in-band FEC when that packet is the very next one, else Opus PLC
//!   (`opus_decode(NULL)`), G.711 by repeating the last 20 ms with a fade to silence over
//!   [`FADE_SAMPLES`]. Late packets (behind what was played) are dropped.
//! - **Pauses are not losses.** A jump of more than [`RESYNC_SAMPLES`] (DTX, hold, mute, a new
//!   source) starts a new talkspurt: no concealment, the marker bit, and a timestamp where the
//!   target leg's own stream continues after the real pause.
//! - **Encoder in 20 ms frames.** PCM is encoded 160 samples at a time, whatever the source's
//!   packet time (G.711 phones may send 10, 30 or 40 ms).

use crate::codec::{CodecError, OpusDecoder, OpusEncoder, MAX_PACKET};
use crate::core::LegId;
use crate::g711::Law;

/// The PCM rate between decoder and encoder.
pub(crate) const RATE: u32 = 8000;
/// One output frame: 20 ms at 8 kHz.
pub(crate) const FRAME: usize = 160;
/// How far past a missing packet the arrivals must be before it is given up (60 ms; SIP-NOTES
/// §3 asks for 40–80 ms).
pub(crate) const DEPTH_SAMPLES: u32 = 480;
/// A timestamp jump larger than this (150 ms) is a pause or a new stream, not packet loss.
pub(crate) const RESYNC_SAMPLES: u32 = 1200;
/// G.711 concealment fades to silence over 60 ms.
pub(crate) const FADE_SAMPLES: u32 = 480;
/// Packets held while one is missing: 60 ms of 10 ms packets, with room.
const SLOTS: usize = 8;
/// Decoded audio waiting for the encoder (a 120 ms Opus packet and a frame's remainder fit).
const PCM_CAP: usize = 2048;
/// The longest Opus packet, 120 ms, at 8 kHz.
const MAX_DECODED: usize = 960;
/// Opus concealment works in multiples of 2.5 ms.
const PLC_STEP: usize = 20;

/// A codec on either side of the transcoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Codec {
    Opus,
    G711(Law),
}

impl Codec {
    /// RTP clock ticks per 8 kHz sample (Opus timestamps run at 48 kHz).
    fn ticks_per_sample(self) -> u32 {
        match self {
            Codec::Opus => 6,
            Codec::G711(_) => 1,
        }
    }

    /// RTP clock ticks of one 20 ms output frame.
    pub(crate) fn frame_ticks(self) -> u32 {
        FRAME as u32 * self.ticks_per_sample()
    }
}

/// Counters of one transcoder (for tests and metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counters {
    pub packets_in: u64,
    pub frames_out: u64,
    /// 20 ms (or shorter) stretches concealed, and of those recovered from in-band FEC.
    pub concealed: u64,
    pub fec: u64,
    /// Packets that arrived after their place was played or concealed, or twice.
    pub late: u64,
    /// New talkspurts (pauses, new sources).
    pub resyncs: u64,
    /// Packets the decoder refused, frames the encoder failed on.
    pub errors: u64,
}

struct Slot {
    used: bool,
    ts: u32,
    len: usize,
    data: [u8; MAX_PACKET],
}

enum Decoder {
    Opus(OpusDecoder),
    G711(Law),
}

/// What G.711 concealment repeats: the last 20 ms decoded, and how far the fade has gone.
struct G711Plc {
    last: [i16; FRAME],
    len: usize,
    /// Samples concealed since the last real audio.
    concealed: u32,
}

enum Encoder {
    Opus(OpusEncoder),
    G711(Law),
}

/// One direction's codec state: reorder buffer, decoder, PCM queue, encoder, output timeline.
pub(crate) struct Transcoder {
    from: Codec,
    to: Codec,
    dec: Decoder,
    plc: G711Plc,
    enc: Encoder,
    /// The stream being decoded (its leg and SSRC); a new one restarts the decoder.
    source: Option<(LegId, u32)>,
    /// Source timestamp of the next audio to decode.
    next: u32,
    slots: [Slot; SLOTS],
    pcm: [i16; PCM_CAP],
    pcm_len: usize,
    decoded: [i16; MAX_DECODED],
    out: [u8; MAX_PACKET],
    /// The next frame starts a talkspurt (marker bit, timestamp from the leg's clock).
    new_spurt: bool,
    /// Target timestamp of the last frame we produced.
    last_out: Option<u32>,
    pub counters: Counters,
}

/// One encoded frame, ready for the target leg.
pub(crate) struct Frame<'a> {
    pub rtp_time: u32,
    pub marker: bool,
    pub payload: &'a [u8],
}

impl Transcoder {
    /// A transcoder from `from` to `to` (one of them Opus, the other G.711).
    pub(crate) fn new(from: Codec, to: Codec) -> Result<Box<Self>, CodecError> {
        let dec = match from {
            Codec::Opus => Decoder::Opus(OpusDecoder::new(RATE)?),
            Codec::G711(law) => Decoder::G711(law),
        };
        let enc = match to {
            Codec::Opus => Encoder::Opus(OpusEncoder::voip(RATE)?),
            Codec::G711(law) => Encoder::G711(law),
        };
        Ok(Box::new(Transcoder {
            from,
            to,
            dec,
            plc: G711Plc {
                last: [0; FRAME],
                len: 0,
                concealed: 0,
            },
            enc,
            source: None,
            next: 0,
            slots: std::array::from_fn(|_| Slot {
                used: false,
                ts: 0,
                len: 0,
                data: [0; MAX_PACKET],
            }),
            pcm: [0; PCM_CAP],
            pcm_len: 0,
            decoded: [0; MAX_DECODED],
            out: [0; MAX_PACKET],
            new_spurt: true,
            last_out: None,
            counters: Counters::default(),
        }))
    }

    /// Whether this transcoder converts `from` to `to`.
    pub(crate) fn converts(&self, from: Codec, to: Codec) -> bool {
        self.from == from && self.to == to
    }

    /// Takes one packet of the source stream `(from, ssrc)` with RTP time `ts`, and decodes
    /// whatever is ready; then take the output with [`Transcoder::next_frame`].
    pub(crate) fn push(&mut self, from: LegId, ssrc: u32, ts: u32, payload: &[u8]) {
        if payload.is_empty() || payload.len() > MAX_PACKET {
            return;
        }
        self.counters.packets_in += 1;
        let tps = self.from.ticks_per_sample();
        if self.source != Some((from, ssrc)) {
            // A new source (first packet, transfer, the peer's new SSRC): start afresh.
            self.source = Some((from, ssrc));
            self.slots.iter_mut().for_each(|s| s.used = false);
            if let Decoder::Opus(d) = &mut self.dec {
                d.reset();
            }
            self.pcm_len = 0;
            self.resync(ts);
        }
        let ahead = ts.wrapping_sub(self.next) as i32;
        if ahead.unsigned_abs() > RESYNC_SAMPLES * tps {
            // A pause (or a jump back): play out what is held, then start a talkspurt here.
            self.drain(true);
            self.resync(ts);
        } else if ahead < 0 {
            self.counters.late += 1;
            return;
        }
        if self.slots.iter().any(|s| s.used && s.ts == ts) {
            self.counters.late += 1;
            return;
        }
        if self.slots.iter().all(|s| s.used) {
            // More held than the depth should allow (short packets): give up the oldest gap.
            self.conceal_one();
            self.drain(false);
        }
        if let Some(slot) = self.slots.iter_mut().find(|s| !s.used) {
            slot.used = true;
            slot.ts = ts;
            slot.len = payload.len();
            slot.data[..payload.len()].copy_from_slice(payload);
        }
        self.drain(false);
    }

    fn resync(&mut self, ts: u32) {
        self.next = ts;
        self.new_spurt = true;
        self.counters.resyncs += 1;
        // Less than a frame left over from before the pause: dropped (at most 20 ms).
        self.pcm_len = 0;
    }

    /// Decodes held packets in order; conceals a missing one once arrivals are `DEPTH` past it
    /// (`all`: everything held, gaps concealed).
    fn drain(&mut self, all: bool) {
        loop {
            if let Some(i) = self.slots.iter().position(|s| s.used && s.ts == self.next) {
                self.decode_slot(i);
                continue;
            }
            let tps = self.from.ticks_per_sample();
            let next = self.next;
            let held = self.slots.iter().filter(|s| s.used);
            let Some(newest) = held.map(|s| s.ts.wrapping_sub(next)).max() else {
                return;
            };
            let span = newest / tps + FRAME as u32;
            if !all && span < DEPTH_SAMPLES + FRAME as u32 {
                return;
            }
            self.conceal_one();
        }
    }

    /// Conceals audio up to the earliest held packet, at most one frame.
    fn conceal_one(&mut self) {
        let tps = self.from.ticks_per_sample();
        let next = self.next;
        let Some((i, gap)) = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.used)
            .map(|(i, s)| (i, s.ts.wrapping_sub(next)))
            .min_by_key(|(_, d)| *d)
        else {
            return;
        };
        let samples = (gap / tps) as usize;
        let n = samples.min(FRAME) / PLC_STEP * PLC_STEP;
        if n == 0 {
            // Misaligned by less than 2.5 ms: move on to the packet.
            self.next = self.slots[i].ts;
            return;
        }
        self.counters.concealed += 1;
        let out = &mut self.decoded[..n];
        let got = match &mut self.dec {
            Decoder::Opus(d) => {
                // The very next packet carries this one's FEC (when the sender planned it).
                let s = &self.slots[i];
                if samples == n {
                    self.counters.fec += 1;
                    d.decode_fec(&s.data[..s.len], out)
                } else {
                    d.conceal(out)
                }
                .unwrap_or(0)
            }
            Decoder::G711(_) => {
                let plc = &mut self.plc;
                for (j, o) in out.iter_mut().enumerate() {
                    let src = if plc.len == 0 {
                        0
                    } else {
                        plc.last[j % plc.len]
                    };
                    let pos = plc.concealed + j as u32;
                    let gain = FADE_SAMPLES.saturating_sub(pos);
                    *o = (i32::from(src) * gain as i32 / FADE_SAMPLES as i32) as i16;
                }
                plc.concealed += n as u32;
                n
            }
        };
        out_fill_silence(&mut self.decoded[got.min(n)..n]);
        self.append(n);
        self.next = self.next.wrapping_add(n as u32 * tps);
    }

    fn decode_slot(&mut self, i: usize) {
        let tps = self.from.ticks_per_sample();
        self.slots[i].used = false;
        let slot = &self.slots[i];
        let data = &slot.data[..slot.len];
        let n = match &mut self.dec {
            Decoder::Opus(d) => match d.decode(data, &mut self.decoded) {
                Ok(n) => n,
                Err(_) => {
                    self.counters.errors += 1;
                    // A broken packet counts as lost: conceal its 20 ms.
                    let n = d.conceal(&mut self.decoded[..FRAME]).unwrap_or(0);
                    self.decoded[n..FRAME].fill(0);
                    FRAME
                }
            },
            Decoder::G711(law) => {
                let n = data.len().min(MAX_DECODED);
                for (o, &c) in self.decoded.iter_mut().zip(&data[..n]) {
                    *o = law.decode(c);
                }
                let keep = n.min(FRAME);
                self.plc.last[..keep].copy_from_slice(&self.decoded[n - keep..n]);
                self.plc.len = keep;
                self.plc.concealed = 0;
                n
            }
        };
        self.append(n);
        self.next = self.next.wrapping_add(n as u32 * tps);
    }

    /// Moves `decoded[..n]` to the PCM queue.
    fn append(&mut self, n: usize) {
        let room = PCM_CAP - self.pcm_len;
        let n = n.min(room);
        self.pcm[self.pcm_len..self.pcm_len + n].copy_from_slice(&self.decoded[..n]);
        self.pcm_len += n;
    }

    /// Encodes the next 20 ms if decoded audio is waiting. `leg_last` is the timestamp of the
    /// last packet the target leg sent from the forwarding path (if it was that), `start`
    /// where the leg's own stream would continue now: a frame continues our previous one
    /// only if nothing else (tone, digits, another source) was sent in between.
    pub(crate) fn next_frame(&mut self, leg_last: Option<u32>, start: u32) -> Option<Frame<'_>> {
        loop {
            if self.pcm_len < FRAME {
                return None;
            }
            let len = match &mut self.enc {
                Encoder::Opus(e) => e.encode(&self.pcm[..FRAME], &mut self.out),
                Encoder::G711(law) => {
                    for (o, &s) in self.out.iter_mut().zip(&self.pcm[..FRAME]) {
                        *o = law.encode(s);
                    }
                    Ok(FRAME)
                }
            };
            self.pcm.copy_within(FRAME..self.pcm_len, 0);
            self.pcm_len -= FRAME;
            let Ok(len) = len else {
                self.counters.errors += 1;
                continue;
            };
            let continuing =
                !self.new_spurt && self.last_out.is_some() && leg_last == self.last_out;
            let rtp_time = match (continuing, self.last_out) {
                (true, Some(t)) => t.wrapping_add(self.to.frame_ticks()),
                _ => start,
            };
            self.new_spurt = false;
            self.last_out = Some(rtp_time);
            self.counters.frames_out += 1;
            return Some(Frame {
                rtp_time,
                marker: !continuing,
                payload: &self.out[..len],
            });
        }
    }
}

/// Silence where a decoder produced nothing (it failed).
fn out_fill_silence(rest: &mut [i16]) {
    rest.fill(0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::OpusEncoder;

    const A: LegId = LegId(1);

    fn tone(n: usize, start: usize, hz: f64, rate: f64) -> Vec<i16> {
        (start..start + n)
            .map(|i| (6000.0 * (2.0 * std::f64::consts::PI * hz * i as f64 / rate).sin()) as i16)
            .collect()
    }

    /// Runs `t` over G.711 frames `order` (indices), returning the frames' timestamps, markers
    /// and decoded PCM.
    fn g711_through(t: &mut Transcoder, order: &[usize]) -> (Vec<(u32, bool)>, Vec<i16>) {
        let mut stamps = Vec::new();
        let mut pcm = Vec::new();
        let mut dec = OpusDecoder::new(8000).unwrap();
        let mut buf = [0i16; 960];
        for &i in order {
            let frame: Vec<u8> = tone(160, i * 160, 1000.0, 8000.0)
                .iter()
                .map(|&s| Law::Ulaw.encode(s))
                .collect();
            t.push(A, 7, 5000 + i as u32 * 160, &frame);
            let mut last = stamps.last().map(|(ts, _)| *ts);
            while let Some(f) = t.next_frame(last, 99) {
                stamps.push((f.rtp_time, f.marker));
                last = Some(f.rtp_time);
                let n = dec.decode(f.payload, &mut buf).unwrap();
                pcm.extend_from_slice(&buf[..n]);
            }
        }
        (stamps, pcm)
    }

    #[test]
    fn in_order_g711_becomes_opus_frames_with_48khz_timestamps_and_no_delay() {
        let mut t = Transcoder::new(Codec::G711(Law::Ulaw), Codec::Opus).unwrap();
        let (stamps, pcm) = g711_through(&mut t, &(0..10).collect::<Vec<_>>());
        assert_eq!(stamps.len(), 10, "one frame out per frame in");
        assert_eq!(stamps[0], (99, true));
        for w in stamps.windows(2) {
            assert_eq!(w[1].0, w[0].0 + 960);
            assert!(!w[1].1);
        }
        assert_eq!(pcm.len(), 1600);
        assert_eq!(t.counters.concealed, 0);
    }

    #[test]
    fn a_reordered_packet_is_put_back_in_place_and_a_lost_one_concealed() {
        let mut t = Transcoder::new(Codec::G711(Law::Ulaw), Codec::Opus).unwrap();
        // 3 before 2; 6 never comes.
        let (stamps, _) = g711_through(&mut t, &[0, 1, 3, 2, 4, 5, 7, 8, 9, 10, 11]);
        assert_eq!(t.counters.late, 0);
        assert_eq!(t.counters.concealed, 1);
        assert_eq!(stamps.len(), 12, "frames 0–11, with 6 concealed");
        for w in stamps.windows(2) {
            assert_eq!(w[1].0, w[0].0 + 960, "no timestamp jump");
        }
        // A packet older than what was played is dropped.
        let before = t.counters.frames_out;
        t.push(A, 7, 5000 + 6 * 160, &[0xff; 160]);
        assert!(t.next_frame(None, 0).is_none());
        assert_eq!((t.counters.late, t.counters.frames_out), (1, before));
    }

    #[test]
    fn a_pause_starts_a_talkspurt_at_the_legs_clock_and_a_new_source_restarts() {
        let mut t = Transcoder::new(Codec::G711(Law::Alaw), Codec::G711(Law::Ulaw)).unwrap();
        t.push(A, 7, 0, &[0xd5; 160]);
        let f = t.next_frame(None, 1000).unwrap();
        assert_eq!((f.rtp_time, f.marker), (1000, true));
        t.push(A, 7, 160, &[0xd5; 160]);
        let f = t.next_frame(Some(1000), 5).unwrap();
        assert_eq!((f.rtp_time, f.marker), (1160, false));
        // Two seconds later: no concealment of the pause; the leg says where it continues.
        t.push(A, 7, 16_160, &[0xd5; 160]);
        let f = t.next_frame(Some(1160), 17_000).unwrap();
        assert_eq!((f.rtp_time, f.marker), (17_000, true));
        assert_eq!(t.counters.concealed, 0);
        // Tone or digits were sent in between: our frame starts anew where the leg continues.
        t.push(A, 7, 16_320, &[0xd5; 160]);
        let f = t.next_frame(Some(17_500), 17_660).unwrap();
        assert_eq!((f.rtp_time, f.marker), (17_660, true));
        // Another source (a transfer): same output timeline, continuing from the leg.
        t.push(LegId(2), 9, 123, &[0xd5; 160]);
        let f = t.next_frame(Some(17_660), 17_820).unwrap();
        assert_eq!((f.rtp_time, f.marker), (17_820, true));
        assert_eq!(f.payload.len(), 160);
    }

    #[test]
    fn opus_loss_is_recovered_from_fec_and_g711_loss_fades() {
        let mut enc = OpusEncoder::voip(8000).unwrap();
        let mut t = Transcoder::new(Codec::Opus, Codec::G711(Law::Ulaw)).unwrap();
        let mut out = [0u8; MAX_PACKET];
        let mut frames = 0;
        for i in 0..20usize {
            let n = enc
                .encode(&tone(160, i * 160, 500.0, 8000.0), &mut out)
                .unwrap();
            if i == 10 {
                continue; // lost
            }
            t.push(A, 1, i as u32 * 960, &out[..n]);
            while let Some(f) = t.next_frame(None, 0) {
                assert_eq!(f.payload.len(), 160);
                frames += 1;
            }
        }
        assert_eq!(frames, 20);
        assert_eq!((t.counters.concealed, t.counters.fec), (1, 1));

        let mut t = Transcoder::new(Codec::G711(Law::Ulaw), Codec::G711(Law::Alaw)).unwrap();
        let loud: Vec<u8> = tone(160, 0, 400.0, 8000.0)
            .iter()
            .map(|&s| Law::Ulaw.encode(s))
            .collect();
        t.push(A, 1, 0, &loud);
        while t.next_frame(None, 0).is_some() {}
        // 1–3 lost, 4 arrives 60 ms on: three frames fade out, then 4 plays.
        t.push(A, 1, 640, &loud);
        t.push(A, 1, 800, &loud);
        t.push(A, 1, 960, &loud);
        let mut peaks = Vec::new();
        while let Some(f) = t.next_frame(None, 0) {
            let peak = f
                .payload
                .iter()
                .map(|&c| i32::from(Law::Alaw.decode(c)).abs())
                .max()
                .unwrap();
            peaks.push(peak);
        }
        assert_eq!(t.counters.concealed, 3);
        assert_eq!(peaks.len(), 6);
        assert!(
            peaks[0] > 4000 && peaks[1] < peaks[0] && peaks[2] < peaks[1],
            "{peaks:?}"
        );
        assert!(peaks[3] > 5000, "real audio again: {peaks:?}");
    }
}
