//! Plain RTP legs: desk phones and trunks speaking RTP/AVP with G.711 (RFC 3551), no ICE, no
//! DTLS. Each leg has its own local port pair (RTP even, RTCP + 1) that the I/O edge binds and
//! hands to the core; the core only sees datagrams tagged with the local port they belong to.
//!
//! Media is anchored here: we send to the address in the phone's SDP until its first RTP packet
//! arrives, then latch to that packet's source and ignore (and count) other sources, so phones
//! behind NAT are reached at the address they really send from (symmetric RTP, RFC 4961).
//! Everything we send toward a phone is one stream of ours: own SSRC, own sequence numbers and
//! own timestamps, with each forwarded source mapped into it by an offset, so a re-bridge or a
//! transfer continues the timeline instead of jumping back.

pub(crate) mod rtcp;
pub(crate) mod sdp;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::media::Direction;

use crate::core::{Datagram, LegId, LegStats, Meta, PayloadKind, RxBook, Source};
use crate::dtmf::{self, DtmfTx};
use crate::error::{MediaError, Result};
use crate::g711::{self, Law};
use crate::tone::{G711Tone, G711_FRAME_SAMPLES};
use crate::transcode::{Codec, Transcoder};

use sdp::{Local, Remote, PT_TELE};

/// The G.711 clock.
pub(crate) const CLOCK: u32 = 8000;
const FRAME_TICKS: u32 = G711_FRAME_SAMPLES as u32;
/// RFC 3550 §6.2 suggests 5 s as the minimum report interval; phones expect about that.
pub(crate) const RTCP_INTERVAL: Duration = Duration::from_secs(5);
/// Seconds between the NTP epoch (1900) and the Unix epoch (1970).
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// Our outgoing stream toward the phone.
struct TxStream {
    ssrc: u32,
    seq: u16,
    /// The last timestamp we sent (for a digit: the end of its duration), when, and who wrote it.
    last: Option<(u32, Instant, Source)>,
    /// The forwarded source mapped into our timeline: its leg, its SSRC and the offset added
    /// to its timestamps.
    mapping: Option<(LegId, u32, u32)>,
    first_ts: u32,
    packets: u32,
    octets: u32,
}

impl TxStream {
    /// The timestamp of something we start sending now, continuing what was sent before.
    fn next_time(&self, now: Instant, source: Source) -> u32 {
        match self.last {
            None => self.first_ts,
            Some((ts, _, s)) if s == source && source == Source::Tone => {
                ts.wrapping_add(FRAME_TICKS)
            }
            Some((ts, at, _)) => {
                let elapsed = now.saturating_duration_since(at);
                let ticks = (elapsed.as_micros() * u128::from(CLOCK) / 1_000_000) as u32;
                ts.wrapping_add(ticks.max(FRAME_TICKS))
            }
        }
    }

    /// Our timestamp for a forwarded packet, and whether it starts a new mapping (a new
    /// talkspurt for the phone: marker bit).
    fn forward_time(&mut self, from: LegId, ssrc: u32, src_ts: u32, now: Instant) -> (u32, bool) {
        let continuing = matches!(self.last, Some((_, _, Source::Forward)));
        match self.mapping {
            Some((f, s, offset)) if continuing && f == from && s == ssrc => {
                (src_ts.wrapping_add(offset), false)
            }
            _ => {
                let ts = self.next_time(now, Source::Forward);
                self.mapping = Some((from, ssrc, ts.wrapping_sub(src_ts)));
                (ts, true)
            }
        }
    }
}

/// One plain RTP leg.
pub(crate) struct PlainLeg {
    /// Our RTP address as advertised (RTCP on the next port).
    pub local: SocketAddr,
    session: u64,
    version: u64,
    /// The law we send; both are accepted from the phone.
    law: Option<Law>,
    /// telephone-event payload type both ways (RFC 4733, 8 kHz).
    tele: Option<u8>,
    /// Our direction as in our last SDP.
    direction: Direction,
    remote: Option<Remote>,
    latched: Option<SocketAddr>,
    latched_rtcp: Option<SocketAddr>,
    remote_ssrc: Option<u32>,
    /// Our offer is waiting for its answer.
    pending: bool,
    pub peer: Option<LegId>,
    pub muted: bool,
    pub held: bool,
    pub connected: bool,
    pub rx: RxBook,
    pub rx_kinds: [Option<PayloadKind>; 128],
    pub stats: LegStats,
    tx: TxStream,
    tone_at: Option<Instant>,
    tone_index: usize,
    pub dtmf_tx: Option<DtmfTx>,
    /// Opus from the bridged leg becomes our G.711 here (kept across re-bridges).
    transcoder: Option<Box<Transcoder>>,
    rtcp_at: Instant,
    /// The last sender report from the phone (NTP middle bits) and when it came.
    last_sr: Option<(u32, Instant)>,
    pub scheduled: Option<Instant>,
}

fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    // The system RNG does not fail on Linux; a zero seed would only make SSRCs predictable.
    let _ = aws_lc_rs::rand::fill(&mut b);
    u64::from_be_bytes(b)
}

impl PlainLeg {
    pub(crate) fn new(local: SocketAddr, now: Instant) -> Self {
        let r = random_u64();
        PlainLeg {
            local,
            session: random_u64() >> 2,
            version: 0,
            law: None,
            tele: None,
            direction: Direction::SendRecv,
            remote: None,
            latched: None,
            latched_rtcp: None,
            remote_ssrc: None,
            pending: false,
            peer: None,
            muted: false,
            held: false,
            connected: false,
            rx: RxBook::default(),
            rx_kinds: base_kinds(),
            stats: LegStats::default(),
            tx: TxStream {
                ssrc: r as u32,
                // RFC 3550 §5.1: random initial values; the sequence well away from a wrap.
                seq: ((r >> 32) as u16) & 0x7fff,
                last: None,
                mapping: None,
                first_ts: (r >> 16) as u32,
                packets: 0,
                octets: 0,
            },
            tone_at: None,
            tone_index: 0,
            dtmf_tx: None,
            transcoder: None,
            // RFC 3550 §6.2: the first report after half the interval.
            rtcp_at: now + RTCP_INTERVAL / 2,
            last_sr: None,
            scheduled: None,
        }
    }

    pub(crate) fn rtp_port(&self) -> u16 {
        self.local.port()
    }

    pub(crate) fn law(&self) -> Option<Law> {
        self.law
    }

    pub(crate) fn direction(&self) -> Direction {
        self.direction
    }

    /// Our offer (first or re-offer) with `direction`; finish with [`PlainLeg::accept_answer`].
    pub(crate) fn offer(&mut self, direction: Direction) -> String {
        self.direction = direction;
        self.pending = true;
        self.version += 1;
        let both = [Law::Ulaw, Law::Alaw];
        let negotiated;
        let audio: &[Law] = match self.law {
            Some(l) => {
                negotiated = [l];
                &negotiated
            }
            None => &both,
        };
        self.local_sdp(audio, self.tele.or(Some(PT_TELE)))
    }

    fn local_sdp(&self, audio: &[Law], tele: Option<u8>) -> String {
        Local {
            addr: self.local,
            session: self.session,
            version: self.version,
            audio,
            tele,
            direction: self.direction,
        }
        .write()
    }

    /// The phone's answer to our offer.
    pub(crate) fn accept_answer(&mut self, leg: LegId, sdp: &str) -> Result<()> {
        if !self.pending {
            return Err(MediaError::NoPendingOffer(leg));
        }
        let r = Remote::parse(sdp)?;
        let offered = |l: &Law| self.law.is_none_or(|ours| ours == *l);
        let law = r
            .audio
            .iter()
            .copied()
            .find(offered)
            .ok_or(MediaError::NoCommonCodec)?;
        self.pending = false;
        self.law = Some(law);
        // An answer without telephone-event means the phone takes no RFC 4733 digits.
        self.tele = r.tele;
        // The answerer may narrow our direction (we offered sendrecv, it answers recvonly).
        self.direction = narrow(self.direction, r.direction.invert());
        self.apply_remote(r);
        Ok(())
    }

    /// A phone's offer (the first INVITE or a re-INVITE): our answer.
    pub(crate) fn accept_offer(&mut self, sdp: &str) -> Result<String> {
        let r = Remote::parse(sdp)?;
        let law = self.law.filter(|l| r.audio.contains(l));
        let law = law
            .or(r.audio.first().copied())
            .ok_or(MediaError::NoCommonCodec)?;
        self.law = Some(law);
        self.tele = r.tele;
        self.pending = false;
        self.direction = r.direction.invert();
        self.apply_remote(r);
        self.version += 1;
        // An answer names only what the offer had (RFC 3264 §6.1): digits only if offered.
        Ok(self.local_sdp(&[law], self.tele))
    }

    fn apply_remote(&mut self, r: Remote) {
        self.rx_kinds = base_kinds();
        if let Some(tele) = self.tele {
            self.rx_kinds[tele as usize & 0x7f] = Some(PayloadKind::Tele(CLOCK));
        }
        let before = self.remote.as_ref().and_then(Remote::rtp_addr);
        if let (Some(a), Some(b)) = (before, r.rtp_addr()) {
            if a != b {
                // The phone moved its media (a new address in a re-INVITE): latch afresh.
                self.latched = None;
                self.latched_rtcp = None;
            }
        }
        self.remote = Some(r);
    }

    /// Where our RTP goes: nowhere while the phone holds us by address or direction.
    fn destination(&self) -> Option<SocketAddr> {
        if !self.direction.is_sending() {
            return None;
        }
        match &self.remote {
            Some(r) => {
                let sdp = r.rtp_addr()?;
                Some(self.latched.unwrap_or(sdp))
            }
            // Not negotiated yet: only a phone that already sent (early media) is reachable.
            None => self.latched,
        }
    }

    fn rtcp_destination(&self) -> Option<SocketAddr> {
        self.destination()?;
        if let Some(a) = self.latched_rtcp {
            return Some(a);
        }
        let r = self.remote.as_ref()?;
        match self.latched {
            Some(l) if Some(l) != r.rtp_addr() => {
                Some(SocketAddr::new(l.ip(), l.port().wrapping_add(1)))
            }
            _ => r.rtcp_addr(),
        }
    }

    /// Latching: whether RTP from `source` is the phone's (the first source wins).
    pub(crate) fn admit(&mut self, source: SocketAddr, ssrc: u32) -> bool {
        match self.latched {
            None => {
                tracing::debug!(%source, local = %self.local, "RTP latched");
                self.latched = Some(source);
            }
            Some(a) if a != source => {
                self.stats.rtp_ignored += 1;
                return false;
            }
            Some(_) => {}
        }
        self.remote_ssrc = Some(ssrc);
        true
    }

    /// Whether what the phone sends is forwarded (our SDP said we receive).
    pub(crate) fn receiving(&self) -> bool {
        self.direction.is_receiving()
    }

    /// An RTCP packet on our RTCP port (or muxed on the RTP port): counted, its SR time kept.
    pub(crate) fn receive_rtcp(&mut self, source: SocketAddr, bytes: &[u8], now: Instant) {
        if !rtcp::is_rtcp(bytes) {
            return;
        }
        match self.latched_rtcp {
            None => self.latched_rtcp = Some(source),
            // Muxed RTCP comes from the latched RTP source.
            Some(a) if a != source && self.latched != Some(source) => return,
            Some(_) => {}
        }
        self.stats.rtcp_in += 1;
        if let Some(mid) = rtcp::sr_ntp_middle(bytes) {
            self.last_sr = Some((mid, now));
        }
    }

    /// Hold toward this leg: the tone replaces whatever was forwarded.
    pub(crate) fn set_hold(&mut self, on: bool, now: Instant) {
        self.held = on;
        self.tone_at = on.then_some(now);
        self.tone_index = 0;
    }

    /// Earliest moment this leg needs attention.
    pub(crate) fn wake_at(&self) -> Instant {
        let mut t = self.rtcp_at;
        if let Some(a) = self.tone_at {
            t = t.min(a);
        }
        if let Some(d) = &self.dtmf_tx {
            t = t.min(d.next_at());
        }
        t
    }

    /// One RTP packet of ours toward the phone; `payload` appends the payload.
    fn packet(
        &mut self,
        pt: u8,
        marker: bool,
        ts: u32,
        buffers: &mut Vec<Vec<u8>>,
        payload: impl FnOnce(&mut Vec<u8>),
    ) -> Option<Datagram> {
        let destination = self.destination()?;
        let mut out = buffers.pop().unwrap_or_default();
        out.clear();
        out.extend_from_slice(&[0x80, (if marker { 0x80 } else { 0 }) | (pt & 0x7f)]);
        out.extend_from_slice(&self.tx.seq.to_be_bytes());
        out.extend_from_slice(&ts.to_be_bytes());
        out.extend_from_slice(&self.tx.ssrc.to_be_bytes());
        payload(&mut out);
        let len = (out.len() - 12) as u64;
        self.tx.seq = self.tx.seq.wrapping_add(1);
        self.tx.packets = self.tx.packets.wrapping_add(1);
        self.tx.octets = self.tx.octets.wrapping_add(len as u32);
        self.stats.rtp_out += 1;
        self.stats.bytes_out += len;
        Some(Datagram {
            destination,
            contents: out,
            local_port: Some(self.rtp_port()),
        })
    }

    /// A packet from the bridged leg, in our stream: G.711 converted to our law if needed,
    /// digits rescaled to our 8 kHz clock. `None` if it cannot go (held, a digit of ours
    /// playing, not sending, Opus).
    pub(crate) fn forward(
        &mut self,
        m: &Meta,
        payload: &[u8],
        buffers: &mut Vec<Vec<u8>>,
        now: Instant,
    ) -> Option<Datagram> {
        if self.held || self.dtmf_tx.as_ref().is_some_and(DtmfTx::playing) {
            return None;
        }
        self.destination()?;
        let (pt, from_law, tele_rate) = match m.kind {
            PayloadKind::Pcmu => (self.law?.pt(), Some(Law::Ulaw), None),
            PayloadKind::Pcma => (self.law?.pt(), Some(Law::Alaw), None),
            PayloadKind::Tele(rate) => (self.tele?, None, Some(rate)),
            PayloadKind::Opus => return None,
        };
        let to_law = self.law;
        let (ts, new) = self.tx.forward_time(m.from, m.ssrc, m.rtp_time, now);
        let d = self.packet(pt, m.marker || new, ts, buffers, |out| {
            match (from_law, to_law, tele_rate) {
                (Some(from), Some(to), _) => g711::transcode_into(from, to, payload, out),
                (_, _, Some(rate)) if rate != CLOCK => match dtmf::rescale(payload, rate, CLOCK) {
                    Some(b) => out.extend_from_slice(&b),
                    None => out.extend_from_slice(payload),
                },
                _ => out.extend_from_slice(payload),
            }
        })?;
        self.tx.last = Some((ts, now, Source::Forward));
        Some(d)
    }

    /// Opus from the bridged leg, transcoded into our G.711 stream: the transcoder's 20 ms
    /// frames (none while it waits for a missing packet, several after one) go out with our
    /// SSRC and sequence numbers, continuing our timestamps. False if it cannot go (held, a
    /// digit of ours playing, not sending, no law negotiated, no codec).
    pub(crate) fn transcode(
        &mut self,
        m: &Meta,
        payload: &[u8],
        buffers: &mut Vec<Vec<u8>>,
        now: Instant,
        out: &mut impl FnMut(Datagram),
    ) -> bool {
        if self.held || self.dtmf_tx.as_ref().is_some_and(DtmfTx::playing) {
            return false;
        }
        let (Some(law), Some(_)) = (self.law, self.destination()) else {
            return false;
        };
        let (from, to) = (Codec::Opus, Codec::G711(law));
        let mut t = match self.transcoder.take() {
            Some(t) if t.converts(from, to) => t,
            _ => match Transcoder::new(from, to) {
                Ok(t) => t,
                Err(e) => {
                    tracing::warn!(local = %self.local, "no transcoder: {e}");
                    return false;
                }
            },
        };
        t.push(m.from, m.ssrc, m.rtp_time, payload);
        // A relayed stream's mapping from before (another source) must not resume later.
        if self
            .tx
            .mapping
            .is_some_and(|(f, s, _)| (f, s) != (m.from, m.ssrc))
        {
            self.tx.mapping = None;
        }
        loop {
            let last = match self.tx.last {
                Some((ts, _, Source::Forward)) => Some(ts),
                _ => None,
            };
            let start = self.tx.next_time(now, Source::Forward);
            let Some(f) = t.next_frame(last, start) else {
                break;
            };
            let (ts, frame) = (f.rtp_time, f.payload);
            if let Some(d) = self.packet(law.pt(), f.marker, ts, buffers, |o| {
                o.extend_from_slice(frame)
            }) {
                out(d);
            }
            self.tx.last = Some((ts, now, Source::Forward));
        }
        self.transcoder = Some(t);
        true
    }

    /// Due hold-tone, digit and RTCP packets (at most one of each).
    pub(crate) fn generate(
        &mut self,
        now: Instant,
        tone: &G711Tone,
        ntp: u64,
        buffers: &mut Vec<Vec<u8>>,
        out: &mut impl FnMut(Datagram),
    ) {
        // Digits first: while one plays it replaces the tone and forwarded audio.
        if let Some(d) = self.dtmf_packet(now, buffers) {
            out(d);
        }
        if let Some(at) = self.tone_at.filter(|at| *at <= now) {
            // Catch up at most one frame: after a stall, do not burst.
            let next = at + crate::tone::FRAME;
            self.tone_at = Some(if next + crate::tone::FRAME < now {
                now + crate::tone::FRAME
            } else {
                next
            });
            if let Some(d) = self.tone_packet(now, tone, buffers) {
                out(d);
            }
        }
        if self.rtcp_at <= now {
            self.rtcp_at = now + RTCP_INTERVAL;
            if let Some(d) = self.rtcp_packet(now, ntp, buffers) {
                out(d);
            }
        }
    }

    fn tone_packet(
        &mut self,
        now: Instant,
        tone: &G711Tone,
        buffers: &mut Vec<Vec<u8>>,
    ) -> Option<Datagram> {
        let law = self.law?;
        if self.dtmf_tx.as_ref().is_some_and(DtmfTx::playing) {
            return None;
        }
        let first = !matches!(self.tx.last, Some((_, _, Source::Tone)));
        let ts = self.tx.next_time(now, Source::Tone);
        let frame = tone.frame(law, self.tone_index);
        self.tone_index = self.tone_index.wrapping_add(1);
        let d = self.packet(law.pt(), first, ts, buffers, |out| {
            out.extend_from_slice(frame)
        })?;
        self.tx.last = Some((ts, now, Source::Tone));
        Some(d)
    }

    fn dtmf_packet(&mut self, now: Instant, buffers: &mut Vec<Vec<u8>>) -> Option<Datagram> {
        let Some(pt) = self.tele else {
            // The phone negotiated no telephone-event: the digits cannot be sent.
            self.dtmf_tx = None;
            return None;
        };
        let start = self.tx.next_time(now, Source::Dtmf);
        let tx = self.dtmf_tx.as_mut()?;
        let tick = tx.tick(now, start);
        if tx.finished(now) {
            self.dtmf_tx = None;
        }
        let tick = tick?;
        let bytes = tick.payload(CLOCK);
        let d = self.packet(pt, tick.first, tick.rtp_time, buffers, |out| {
            out.extend_from_slice(&bytes)
        });
        // Later audio continues after the digit's whole duration, not its start.
        let end = tick
            .rtp_time
            .wrapping_add(u32::from(dtmf::ticks(tick.elapsed, CLOCK)));
        self.tx.last = Some((end, now, Source::Dtmf));
        d
    }

    fn rtcp_packet(
        &mut self,
        now: Instant,
        ntp: u64,
        buffers: &mut Vec<Vec<u8>>,
    ) -> Option<Datagram> {
        let destination = self.rtcp_destination()?;
        let sender = self.tx.last.map(|(ts, at, _)| {
            let since = now.saturating_duration_since(at);
            rtcp::SenderInfo {
                ntp,
                rtp_time: ts.wrapping_add((since.as_micros() * 8 / 1000) as u32),
                packets: self.tx.packets,
                octets: self.tx.octets,
            }
        });
        let block = self.remote_ssrc.map(|ssrc| {
            let (lsr, dlsr) = match self.last_sr {
                Some((mid, at)) => {
                    let d = now.saturating_duration_since(at);
                    (mid, (d.as_micros() * 65_536 / 1_000_000) as u32)
                }
                None => (0, 0),
            };
            rtcp::ReportBlock {
                ssrc,
                lost: self.stats.lost_in as u32,
                highest_seq: self.rx.highest_seq_in.unwrap_or(0) as u32,
                lsr,
                dlsr,
            }
        });
        let mut out = buffers.pop().unwrap_or_default();
        out.clear();
        rtcp::write_report(&mut out, self.tx.ssrc, sender.as_ref(), block.as_ref());
        self.stats.rtcp_out += 1;
        Some(Datagram {
            destination,
            contents: out,
            local_port: Some(self.rtp_port().wrapping_add(1)),
        })
    }

    /// An RTCP BYE for the phone, when the leg closes.
    pub(crate) fn bye(&mut self) -> Option<Datagram> {
        let destination = self.rtcp_destination()?;
        let mut out = Vec::with_capacity(8);
        rtcp::write_bye(&mut out, self.tx.ssrc);
        Some(Datagram {
            destination,
            contents: out,
            local_port: Some(self.rtp_port().wrapping_add(1)),
        })
    }
}

/// What a phone may send us before its telephone-event is known: both laws, by static PT.
fn base_kinds() -> [Option<PayloadKind>; 128] {
    let mut k = [None; 128];
    k[Law::Ulaw.pt() as usize] = Some(PayloadKind::Pcmu);
    k[Law::Alaw.pt() as usize] = Some(PayloadKind::Pcma);
    k
}

/// The direction we may use when we offered `ours` and the answer allows `allowed`.
fn narrow(ours: Direction, allowed: Direction) -> Direction {
    match (
        ours.is_sending() && allowed.is_sending(),
        ours.is_receiving() && allowed.is_receiving(),
    ) {
        (true, true) => Direction::SendRecv,
        (true, false) => Direction::SendOnly,
        (false, true) => Direction::RecvOnly,
        (false, false) => Direction::Inactive,
    }
}

/// NTP time (RFC 3550 §4) of a wallclock reading.
pub(crate) fn ntp_time(wall: std::time::SystemTime) -> u64 {
    let d = wall
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs() + NTP_UNIX_OFFSET;
    let frac = (u64::from(d.subsec_nanos()) << 32) / 1_000_000_000;
    (secs << 32) | frac
}
