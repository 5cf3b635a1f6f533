//! The sans-IO media engine: many WebRTC legs behind one UDP address, bridged by forwarding RTP.
//!
//! Datagrams and time go in (`handle_receive`, `handle_timeout`); datagrams, events and the next
//! deadline come out (`poll_transmit`, `poll_event`, `poll_timeout`). No sockets, no clocks.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::config::DtlsCert;
use str0m::format::{Codec, FormatParams};
use str0m::media::{Direction, Frequency, MediaKind, Mid, Pt, TelephoneEvent};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{Extension, ExtensionValues, RtpPacket, RtpWrite, SeqNo};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcConfig};

use crate::error::{MediaError, Result};
use crate::srtp::{self, KeySlot, OpenError, Srtp};

/// Leg maps are looked up several times per packet: a fast non-cryptographic hash (the keys are
/// our own leg numbers and the peers' addresses, which only select among legs).
type HashMap<K, V> = rustc_hash::FxHashMap<K, V>;
use crate::tone::{ToneLoop, FRAME, FRAME_SAMPLES};

/// Datagram buffers kept for reuse: a receive batch's worth of forwards, with room.
const MAX_SPARE_BUFFERS: usize = 1024;
/// Payload type we offer for telephone-event at 48 kHz (Chromium's choice too).
const PT_TELE_48K: u8 = 110;
/// Payload type we offer for telephone-event at 8 kHz.
const PT_TELE_8K: u8 = 126;
/// RFC 4733 digit length and how often a report is repeated while it lasts.
const DTMF_TONE: Duration = Duration::from_millis(100);
const DTMF_GAP: Duration = Duration::from_millis(60);
/// RFC 4733 §2.5.1.4: the end report is sent three times.
const DTMF_END_REPEATS: u8 = 3;
const DTMF_VOLUME: u8 = 10;

/// Identifies one WebRTC leg (one browser's peer connection).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LegId(pub u64);

impl fmt::Display for LegId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "leg-{}", self.0)
    }
}

/// What the engine tells the call engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// ICE and DTLS are up: media can flow.
    Connected { leg: LegId },
    /// The first RTP packet arrived from this leg.
    MediaStarted { leg: LegId },
    /// An RFC 4733 digit arrived from this leg (reported once per event).
    Dtmf { leg: LegId, digit: char },
    /// ICE lost the peer (it may come back).
    Disconnected { leg: LegId },
    /// The leg ended (closed by us or by the peer); it is gone from the engine.
    Closed { leg: LegId },
}

/// Counters of one leg, for tests, benches and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LegStats {
    /// RTP packets (and their payload bytes) received from the peer.
    pub rtp_in: u64,
    pub bytes_in: u64,
    /// RTP packets (and payload bytes) written toward the peer: forwarded, tone and DTMF.
    pub rtp_out: u64,
    pub bytes_out: u64,
    /// Packets received from this leg that the bridge forwarded to the other leg.
    pub forwarded: u64,
    /// Of those, how many took the direct SRTP path (the rest went through str0m).
    pub forwarded_direct: u64,
    /// Packets received that were not forwarded (unbridged, muted, held, unknown codec).
    pub not_forwarded: u64,
    /// Incoming packets missing by sequence number (never arrived, or arrived too late).
    pub lost_in: u64,
}

/// Start-up settings of the engine.
#[derive(Debug, Clone)]
pub struct MediaConfig {
    /// Address put in our ICE host candidate: the address the browsers reach us at. Its port is
    /// that of this engine's UDP socket.
    pub candidate_addr: SocketAddr,
    /// ICE-lite (we only answer checks). Browsers are always ICE-controlling against it.
    pub ice_lite: bool,
    /// This engine's shard and the number of shards: leg ids are numbered so that
    /// `id % shards == shard` (see [`MediaCore::shard_of`]).
    pub shard: usize,
    pub shards: usize,
}

/// A packet handed to the recording tap: one forwarded or generated RTP payload.
#[derive(Debug, Clone)]
pub struct TapPacket {
    /// Leg the audio came from (for the tone and DTMF: the leg it was sent to).
    pub from: LegId,
    /// Leg it was sent to.
    pub to: LegId,
    pub kind: PayloadKind,
    /// RTP timestamp (48 kHz for Opus).
    pub rtp_time: u32,
    pub payload: Arc<[u8]>,
}

/// Codec of a payload as the bridge sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadKind {
    Opus,
    /// RFC 4733 telephone-event at the given clock rate.
    Tele(u32),
}

/// Receiver of bridged packets (the future recorder). Called on the forwarding path: it must
/// only hand the packet off (e.g. a bounded channel's `try_send`), never block.
pub type Tap = Box<dyn FnMut(&TapPacket) + Send>;

/// A datagram to send from the media socket.
#[derive(Debug)]
pub struct Datagram {
    pub destination: SocketAddr,
    pub contents: Vec<u8>,
}

/// Where a received packet goes and what its header carries across the bridge.
struct Meta {
    from: LegId,
    to: LegId,
    kind: PayloadKind,
    rtp_time: u32,
    marker: bool,
    /// When it arrived (the wallclock str0m pairs with the RTP time).
    arrival: Instant,
    /// RFC 6464 audio level octet, if the packet had one.
    level: Option<u8>,
}

/// A packet queued for delivery to the bridged peer.
struct Forward {
    meta: Meta,
    payload: Arc<[u8]>,
}

/// A payload on its way through the bridge: borrowed from the receive buffer on the direct
/// path, shared once something must keep it (str0m's write, a relay, the recording tap).
enum Payload<'a> {
    Borrowed(&'a [u8]),
    Shared(Arc<[u8]>),
}

impl Payload<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            Payload::Borrowed(b) => b,
            Payload::Shared(a) => a,
        }
    }

    fn shared(&mut self) -> Arc<[u8]> {
        let a: Arc<[u8]> = match self {
            Payload::Shared(a) => return a.clone(),
            Payload::Borrowed(b) => Arc::from(*b),
        };
        *self = Payload::Shared(a.clone());
        a
    }
}

/// A forwarded packet on its way to the shard that holds its target leg (legs bridged across
/// shards): hand it to that shard's [`MediaCore::handle_relayed`].
pub struct Relayed(Forward);

/// Sending state of the DTMF generator on one leg.
struct DtmfTx {
    queue: VecDeque<u8>,
    current: Option<DtmfCurrent>,
    /// When the next report (or the next digit) is due.
    next_at: Instant,
}

struct DtmfCurrent {
    event: u8,
    rtp_time: u32,
    elapsed: Duration,
    end_sent: u8,
}

/// Who wrote the last packet toward a leg: own timestamps continue from it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    Forward,
    Tone,
    Dtmf,
}

struct Leg {
    rtc: Rtc,
    mid: Option<Mid>,
    pending: Option<SdpPendingOffer>,
    peer: Option<LegId>,
    muted: bool,
    held: bool,
    connected: bool,
    media_started: bool,
    /// Negotiated payload types toward the peer.
    tx_opus: Option<Pt>,
    tx_tele: Option<(Pt, u32)>,
    /// Incoming payload type → codec, indexed by PT (0..128).
    rx_kinds: [Option<PayloadKind>; 128],
    /// Our own sequence-number space toward this leg (never the source's).
    next_seq: SeqNo,
    last_tx: Option<(u32, Instant, Source)>,
    tone_at: Option<Instant>,
    tone_index: usize,
    dtmf_tx: Option<DtmfTx>,
    last_dtmf_rx: Option<u32>,
    highest_seq_in: Option<u64>,
    stats: LegStats,
    /// Next str0m deadline, and the deadline we have in the heap.
    rtc_timeout: Instant,
    scheduled: Option<Instant>,
    /// The bridge's own SRTP (see `srtp`): keys from the DTLS handshake, the contexts built
    /// from them once connected (none for a profile we leave to str0m), and what a forwarded
    /// packet's header needs.
    keys: Arc<KeySlot>,
    srtp: Option<Box<Srtp>>,
    /// Where the peer's media comes from, so where ours goes (ICE pairs are symmetric).
    media_from: Option<SocketAddr>,
    tx_ssrc: Option<u32>,
    ext_level: Option<u8>,
    ext_mid: Option<(u8, Box<[u8]>)>,
}

impl Leg {
    fn new(rtc: Rtc, keys: Arc<KeySlot>, now: Instant) -> Self {
        Leg {
            rtc,
            mid: None,
            pending: None,
            peer: None,
            muted: false,
            held: false,
            connected: false,
            media_started: false,
            tx_opus: None,
            tx_tele: None,
            rx_kinds: [None; 128],
            next_seq: SeqNo::default(),
            last_tx: None,
            tone_at: None,
            tone_index: 0,
            dtmf_tx: None,
            last_dtmf_rx: None,
            highest_seq_in: None,
            stats: LegStats::default(),
            rtc_timeout: now,
            scheduled: None,
            keys,
            srtp: None,
            media_from: None,
            tx_ssrc: None,
            ext_level: None,
            ext_mid: None,
        }
    }

    /// Earliest moment this leg needs attention.
    fn wake_at(&self) -> Instant {
        let mut t = self.rtc_timeout;
        if let Some(a) = self.tone_at {
            t = t.min(a);
        }
        if let Some(d) = &self.dtmf_tx {
            t = t.min(d.next_at);
        }
        t
    }

    /// Re-reads the negotiated payload types (after any offer/answer).
    fn refresh_payload_types(&mut self) {
        let remote: Vec<Pt> = self
            .mid
            .and_then(|m| self.rtc.media(m))
            .map(|m| m.remote_pts().to_vec())
            .unwrap_or_default();
        let usable = |pt: Pt| remote.is_empty() || remote.contains(&pt);
        if let Some(m) = self.mid.and_then(|m| self.rtc.media(m)) {
            let exts = m.remote_extmap();
            self.ext_level = exts.id_of(Extension::AudioLevel);
            self.ext_mid = exts
                .id_of(Extension::RtpMid)
                .map(|id| (id, m.mid().as_bytes().into()));
        }
        self.tx_ssrc = self.mid.and_then(|mid| {
            let mut api = self.rtc.direct_api();
            api.stream_tx_by_mid(mid, None).map(|s| *s.ssrc())
        });
        self.rx_kinds = [None; 128];
        self.tx_opus = None;
        self.tx_tele = None;
        for p in self.rtc.codec_config().params() {
            let spec = p.spec();
            let kind = match spec.codec {
                Codec::Opus => PayloadKind::Opus,
                Codec::Tele => PayloadKind::Tele(spec.clock_rate.get()),
                _ => continue,
            };
            let pt = p.pt();
            if let Some(slot) = self.rx_kinds.get_mut(*pt as usize) {
                *slot = Some(kind);
            }
            if !usable(pt) {
                continue;
            }
            match kind {
                PayloadKind::Opus if self.tx_opus.is_none() => self.tx_opus = Some(pt),
                PayloadKind::Tele(rate) => {
                    // Prefer 48 kHz: it shares the Opus clock.
                    let better = match self.tx_tele {
                        None => true,
                        Some((_, r)) => r != 48_000 && rate == 48_000,
                    };
                    if better {
                        self.tx_tele = Some((pt, rate));
                    }
                }
                _ => {}
            }
        }
    }

    fn tx_pt(&self, kind: PayloadKind) -> Option<Pt> {
        match kind {
            PayloadKind::Opus => self.tx_opus,
            PayloadKind::Tele(rate) => self.tx_tele.filter(|(_, r)| *r == rate).map(|(p, _)| p),
        }
    }

    /// RTP time for a packet we generate now, continuing whatever was sent before.
    fn own_rtp_time(&self, now: Instant, source: Source) -> u32 {
        match self.last_tx {
            None => 0,
            Some((ts, _, s)) if s == source && source == Source::Tone => {
                ts.wrapping_add(FRAME_SAMPLES)
            }
            Some((ts, at, _)) => {
                let elapsed = now.saturating_duration_since(at);
                let samples = (elapsed.as_micros() * 48 / 1000) as u32;
                ts.wrapping_add(samples.max(FRAME_SAMPLES))
            }
        }
    }

    /// Writes one RTP packet toward the peer with our SSRC and sequence number.
    #[allow(clippy::too_many_arguments)]
    fn write(
        &mut self,
        pt: Pt,
        rtp_time: u32,
        wallclock: Instant,
        marker: bool,
        ext: ExtensionValues,
        payload: Arc<[u8]>,
        now: Instant,
        source: Source,
    ) -> bool {
        let Some(mid) = self.mid else {
            return false;
        };
        let len = payload.len() as u64;
        let mut api = self.rtc.direct_api();
        let Some(stream) = api.stream_tx_by_mid(mid, None) else {
            return false;
        };
        let seq = self.next_seq;
        stream.write_rtp(
            RtpWrite::new(pt, seq, rtp_time, wallclock, payload)
                .marker(marker)
                .ext_vals(ext),
        );
        self.next_seq = (*seq + 1).into();
        self.last_tx = Some((rtp_time, now, source));
        self.stats.rtp_out += 1;
        self.stats.bytes_out += len;
        true
    }

    /// Seals one forwarded packet for this leg with our own SRTP: our SSRC and sequence
    /// number, the source's RTP time and marker, the audio level and our mid. `None` when the
    /// leg is not ready for it (keys, stream or the peer's address not known yet): str0m then
    /// writes the packet instead.
    fn seal(
        &mut self,
        pt: Pt,
        m: &Meta,
        payload: &[u8],
        buffers: &mut Vec<Vec<u8>>,
        now: Instant,
    ) -> Option<Datagram> {
        let (Some(ssrc), Some(destination), Some(srtp)) =
            (self.tx_ssrc, self.media_from, self.srtp.as_deref())
        else {
            return None;
        };
        let seq = self.next_seq;
        let mut out = buffers.pop().unwrap_or_default();
        out.clear();
        out.extend_from_slice(&[0x80, (if m.marker { 0x80 } else { 0 }) | *pt]);
        out.extend_from_slice(&(*seq as u16).to_be_bytes());
        out.extend_from_slice(&m.rtp_time.to_be_bytes());
        out.extend_from_slice(&ssrc.to_be_bytes());
        let level = self.ext_level.zip(m.level);
        let mid = self.ext_mid.as_ref().map(|(id, m)| (*id, &m[..]));
        srtp::write_one_byte_ext(&mut out, level, mid);
        let header_len = out.len();
        out.extend_from_slice(payload);
        srtp.seal(&mut out, header_len, *seq);
        self.next_seq = (*seq + 1).into();
        self.last_tx = Some((m.rtp_time, now, Source::Forward));
        self.stats.rtp_out += 1;
        self.stats.bytes_out += payload.len() as u64;
        Some(Datagram {
            destination,
            contents: out,
        })
    }
}

/// Many WebRTC legs on one UDP address, with bridging, hold tone and DTMF.
pub struct MediaCore {
    config: MediaConfig,
    cert: DtlsCert,
    tone: ToneLoop,
    legs: HashMap<LegId, Leg>,
    by_remote: HashMap<SocketAddr, LegId>,
    next_leg: u64,
    heap: BinaryHeap<Reverse<(Instant, LegId)>>,
    transmits: VecDeque<Datagram>,
    events: VecDeque<MediaEvent>,
    work: VecDeque<Forward>,
    /// Forwards whose target lives on another shard, with that shard.
    relay: VecDeque<(usize, Relayed)>,
    tap: Option<Tap>,
    /// Where a packet is decrypted on the direct forwarding path.
    scratch: Vec<u8>,
    /// Sent datagrams' buffers, reused for the next forwards (see [`MediaCore::recycle`]).
    buffers: Vec<Vec<u8>>,
}

impl MediaCore {
    /// Creates the engine and its DTLS certificate (the one slow step, ~100 ms, done once).
    pub fn new(config: MediaConfig) -> Self {
        let cert = srtp::crypto_provider()
            .dtls_provider
            .generate_certificate()
            .expect("the aws-lc-rs provider generates certificates");
        MediaCore {
            config,
            cert,
            tone: ToneLoop::hold(),
            legs: HashMap::default(),
            by_remote: HashMap::default(),
            next_leg: 0,
            heap: BinaryHeap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            work: VecDeque::new(),
            relay: VecDeque::new(),
            tap: None,
            scratch: vec![0; 2048],
            buffers: Vec::new(),
        }
    }

    /// The shard that numbered `leg`, out of `shards`.
    pub fn shard_of(leg: LegId, shards: usize) -> usize {
        (leg.0 % shards.max(1) as u64) as usize
    }

    pub fn config(&self) -> &MediaConfig {
        &self.config
    }

    /// Installs the recording tap (see [`Tap`]); `None` removes it.
    pub fn set_tap(&mut self, tap: Option<Tap>) {
        self.tap = tap;
    }

    /// A new `Rtc` and the slot its DTLS handshake will put the SRTP keys in.
    fn new_rtc(&self, now: Instant) -> Result<(Rtc, Arc<KeySlot>)> {
        let mut cfg = RtcConfig::new()
            .set_crypto_provider(srtp::crypto_provider())
            .set_rtp_mode(true)
            .set_ice_lite(self.config.ice_lite)
            .set_dtls_cert(self.cert.clone())
            .clear_codecs()
            .enable_opus(true, false)
            // Audio only needs the level (forwarded) and the mid. Transport-wide congestion
            // control would add a feedback packet every 100 ms each way per leg for a bitrate
            // estimate nobody uses: Opus is forwarded as the browser encoded it.
            .clear_extension_map()
            .set_extension(1, Extension::AudioLevel)
            .set_extension(4, Extension::RtpMid);
        let tele = FormatParams::parse_line("0-16");
        cfg.codec_config().add_config(
            PT_TELE_48K.into(),
            None,
            Codec::Tele,
            Frequency::FORTY_EIGHT_KHZ,
            None,
            tele,
        );
        cfg.codec_config().add_config(
            PT_TELE_8K.into(),
            None,
            Codec::Tele,
            Frequency::EIGHT_KHZ,
            None,
            tele,
        );
        let (mut rtc, keys) = srtp::build_with_slot(|| cfg.build(now));
        let candidate = Candidate::host(self.config.candidate_addr, "udp")
            .map_err(|e| MediaError::Rtc(format!("host candidate: {e}")))?;
        rtc.add_local_candidate(candidate);
        Ok((rtc, keys))
    }

    fn insert_leg(&mut self, leg: Leg) -> LegId {
        self.next_leg += 1;
        let shards = self.config.shards.max(1) as u64;
        let id = LegId(self.next_leg * shards + self.config.shard as u64);
        self.legs.insert(id, leg);
        id
    }

    /// A leg for an incoming offer (a browser's INVITE): returns the answer SDP.
    pub fn create_answerer(&mut self, offer_sdp: &str, now: Instant) -> Result<(LegId, String)> {
        let offer =
            SdpOffer::from_sdp_string(offer_sdp).map_err(|e| MediaError::Sdp(e.to_string()))?;
        let (mut rtc, keys) = self.new_rtc(now)?;
        let answer = rtc.sdp_api().accept_offer(offer)?;
        let mut leg = Leg::new(rtc, keys, now);
        leg.mid = audio_mid(offer_sdp);
        let id = self.insert_leg(leg);
        self.after_negotiation(id, now);
        Ok((id, answer.to_sdp_string()))
    }

    /// A leg we call out on (the server's INVITE to a browser): returns the offer SDP; finish
    /// with [`MediaCore::accept_answer`].
    pub fn create_offerer(&mut self, now: Instant) -> Result<(LegId, String)> {
        let (mut rtc, keys) = self.new_rtc(now)?;
        let mut api = rtc.sdp_api();
        let mid = api.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
        let (offer, pending) = api.apply().ok_or(MediaError::NoChange)?;
        let mut leg = Leg::new(rtc, keys, now);
        leg.mid = Some(mid);
        leg.pending = Some(pending);
        let id = self.insert_leg(leg);
        self.after_negotiation(id, now);
        Ok((id, offer.to_sdp_string()))
    }

    /// Applies the browser's answer to our last offer on `leg`.
    pub fn accept_answer(&mut self, leg: LegId, answer_sdp: &str, now: Instant) -> Result<()> {
        let answer =
            SdpAnswer::from_sdp_string(answer_sdp).map_err(|e| MediaError::Sdp(e.to_string()))?;
        let l = self.legs.get_mut(&leg).ok_or(MediaError::UnknownLeg(leg))?;
        let pending = l.pending.take().ok_or(MediaError::NoPendingOffer(leg))?;
        let r = l.rtc.sdp_api().accept_answer(pending, answer);
        self.after_negotiation(leg, now);
        r.map_err(Into::into)
    }

    /// A new offer on an existing leg with our audio direction changed: `SendOnly` to put the
    /// browser on hold, `Inactive`, or `SendRecv` to resume. Finish with `accept_answer`.
    pub fn reoffer(&mut self, leg: LegId, direction: Direction, now: Instant) -> Result<String> {
        let l = self.legs.get_mut(&leg).ok_or(MediaError::UnknownLeg(leg))?;
        let mid = l.mid.ok_or(MediaError::NoAudio)?;
        let mut api = l.rtc.sdp_api();
        api.set_direction(mid, direction);
        let Some((offer, pending)) = api.apply() else {
            return Err(MediaError::NoChange);
        };
        l.pending = Some(pending);
        self.after_negotiation(leg, now);
        Ok(offer.to_sdp_string())
    }

    /// A browser's re-INVITE offer (its hold/unhold, ICE restart) on an existing leg.
    pub fn accept_offer_on(&mut self, leg: LegId, offer_sdp: &str, now: Instant) -> Result<String> {
        let offer =
            SdpOffer::from_sdp_string(offer_sdp).map_err(|e| MediaError::Sdp(e.to_string()))?;
        let l = self.legs.get_mut(&leg).ok_or(MediaError::UnknownLeg(leg))?;
        l.pending = None;
        let r = l.rtc.sdp_api().accept_offer(offer);
        self.after_negotiation(leg, now);
        Ok(r?.to_sdp_string())
    }

    /// Our current audio direction on `leg` as negotiated.
    pub fn direction(&self, leg: LegId) -> Option<Direction> {
        let l = self.legs.get(&leg)?;
        l.rtc.media(l.mid?).map(|m| m.direction())
    }

    fn after_negotiation(&mut self, leg: LegId, now: Instant) {
        self.drain(leg);
        if let Some(l) = self.legs.get_mut(&leg) {
            l.refresh_payload_types();
        }
        self.run_work(now);
    }

    /// Forward RTP between `a` and `b` both ways (replacing any earlier bridge of either).
    pub fn bridge(&mut self, a: LegId, b: LegId) -> Result<()> {
        if a == b {
            return Err(MediaError::SelfBridge);
        }
        if !self.legs.contains_key(&a) {
            return Err(MediaError::UnknownLeg(a));
        }
        if !self.legs.contains_key(&b) {
            return Err(MediaError::UnknownLeg(b));
        }
        self.unbridge(a)?;
        self.unbridge(b)?;
        self.legs.get_mut(&a).expect("checked").peer = Some(b);
        self.legs.get_mut(&b).expect("checked").peer = Some(a);
        Ok(())
    }

    /// Stops forwarding between `leg` and its peer (both ways).
    pub fn unbridge(&mut self, leg: LegId) -> Result<()> {
        let l = self.legs.get_mut(&leg).ok_or(MediaError::UnknownLeg(leg))?;
        if let Some(p) = l.peer.take() {
            if let Some(pl) = self.legs.get_mut(&p) {
                if pl.peer == Some(leg) {
                    pl.peer = None;
                }
            }
        }
        Ok(())
    }

    /// Forwards `leg`'s audio to `peer`, which lives on another shard (that shard links back).
    pub fn link(&mut self, leg: LegId, peer: LegId) -> Result<()> {
        self.legs
            .get_mut(&leg)
            .ok_or(MediaError::UnknownLeg(leg))?
            .peer = Some(peer);
        Ok(())
    }

    /// Stops `leg` forwarding to `peer` (its peer on another shard was unbridged or closed).
    pub fn unlink(&mut self, leg: LegId, peer: LegId) {
        if let Some(l) = self.legs.get_mut(&leg).filter(|l| l.peer == Some(peer)) {
            l.peer = None;
        }
    }

    /// The leg `leg` is bridged to.
    pub fn peer(&self, leg: LegId) -> Option<LegId> {
        self.legs.get(&leg)?.peer
    }

    /// Muting `leg` stops its audio reaching its peer (the other direction keeps flowing).
    pub fn mute(&mut self, leg: LegId, on: bool) -> Result<()> {
        self.legs
            .get_mut(&leg)
            .ok_or(MediaError::UnknownLeg(leg))?
            .muted = on;
        Ok(())
    }

    /// Holding `leg` stops forwarding to and from it and plays the hold tone to it instead.
    pub fn hold(&mut self, leg: LegId, on: bool, now: Instant) -> Result<()> {
        let l = self.legs.get_mut(&leg).ok_or(MediaError::UnknownLeg(leg))?;
        if l.held == on {
            return Ok(());
        }
        l.held = on;
        l.tone_at = on.then_some(now);
        l.tone_index = 0;
        self.schedule(leg);
        Ok(())
    }

    /// Queues RFC 4733 digits (`0-9 * # A-D`) toward `leg`; others are rejected.
    pub fn send_dtmf(&mut self, leg: LegId, digits: &str, now: Instant) -> Result<()> {
        let events = digits
            .chars()
            .map(|c| {
                dtmf_event(c).ok_or_else(|| MediaError::Rtc(format!("not a DTMF digit: {c:?}")))
            })
            .collect::<Result<Vec<u8>>>()?;
        let l = self.legs.get_mut(&leg).ok_or(MediaError::UnknownLeg(leg))?;
        let tx = l.dtmf_tx.get_or_insert_with(|| DtmfTx {
            queue: VecDeque::new(),
            current: None,
            next_at: now,
        });
        tx.queue.extend(events);
        self.schedule(leg);
        Ok(())
    }

    /// Ends the leg (DTLS close toward the peer) and forgets it.
    pub fn close(&mut self, leg: LegId, now: Instant) -> Result<()> {
        self.unbridge(leg)?;
        let l = self.legs.get_mut(&leg).ok_or(MediaError::UnknownLeg(leg))?;
        let _ = l.rtc.close();
        self.flush(leg, now);
        self.remove_leg(leg);
        Ok(())
    }

    fn remove_leg(&mut self, leg: LegId) {
        if self.legs.remove(&leg).is_some() {
            self.by_remote.retain(|_, l| *l != leg);
            for other in self.legs.values_mut() {
                if other.peer == Some(leg) {
                    other.peer = None;
                }
            }
            self.events.push_back(MediaEvent::Closed { leg });
        }
    }

    pub fn stats(&self, leg: LegId) -> Option<LegStats> {
        self.legs.get(&leg).map(|l| l.stats)
    }

    pub fn is_connected(&self, leg: LegId) -> bool {
        self.legs.get(&leg).is_some_and(|l| l.connected)
    }

    pub fn leg_count(&self) -> usize {
        self.legs.len()
    }

    /// Feeds one datagram received on the media socket. Junk is dropped silently.
    pub fn handle_receive(
        &mut self,
        source: SocketAddr,
        destination: SocketAddr,
        bytes: &[u8],
        now: Instant,
    ) {
        if srtp::is_rtp(bytes) {
            if let Some(&leg) = self.by_remote.get(&source) {
                if self.receive_direct(leg, source, bytes, now) {
                    return;
                }
            }
        }
        let Ok(recv) = Receive::new(Protocol::Udp, source, destination, bytes) else {
            return;
        };
        let input = Input::Receive(now, recv);
        let known = self
            .by_remote
            .get(&source)
            .copied()
            .filter(|id| self.legs.get(id).is_some_and(|l| l.rtc.accepts(&input)));
        let leg = match known {
            Some(id) => id,
            None => {
                // Slow path: the first packets (STUN checks) from a new address.
                let Some(id) = self
                    .legs
                    .iter()
                    .find(|(_, l)| l.rtc.accepts(&input))
                    .map(|(id, _)| *id)
                else {
                    return;
                };
                self.by_remote.insert(source, id);
                id
            }
        };
        let l = self.legs.get_mut(&leg).expect("found above");
        let rtp_before = l.stats.rtp_in;
        if let Err(e) = l.rtc.handle_input(input) {
            tracing::debug!(%leg, "dropped input: {e}");
        }
        self.drain(leg);
        if let Some(l) = self.legs.get_mut(&leg) {
            if l.stats.rtp_in > rtp_before {
                // str0m authenticated RTP from there: that is where the peer's media comes from.
                l.media_from = Some(source);
            }
        }
        self.run_work(now);
    }

    /// The direct path for a leg whose SRTP is ours (see `srtp`): every RTP packet from it is
    /// opened here, so str0m never has to follow that stream's rollover counter. Returns false
    /// to leave the packet to str0m: keys not ready, a profile we leave to str0m, or a packet
    /// that is not authentic.
    fn receive_direct(
        &mut self,
        from: LegId,
        source: SocketAddr,
        bytes: &[u8],
        now: Instant,
    ) -> bool {
        if bytes.len() > self.scratch.len() {
            return false;
        }
        let Some(a) = self.legs.get_mut(&from) else {
            return false;
        };
        let Some(srtp) = a.srtp.as_deref_mut() else {
            return false;
        };
        let mut scratch = std::mem::take(&mut self.scratch);
        let buf = &mut scratch[..bytes.len()];
        buf.copy_from_slice(bytes);
        let opened = match srtp.open(buf) {
            Ok(o) => o,
            Err(e) => {
                self.scratch = scratch;
                // A replay is authentic but stale: drop it. Anything else is str0m's.
                return e == OpenError::Replay;
            }
        };
        let (header, rest) = buf.split_at(opened.header_len);
        let payload = &rest[..opened.payload_len];
        a.media_from = Some(source);
        let rtp_time = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        let pt = header[1] & 0x7f;
        let level = a
            .ext_level
            .and_then(|id| srtp::one_byte_ext(header, id))
            .and_then(|v| v.first().copied());
        let kind = note_rtp_in(
            from,
            a,
            opened.index,
            pt,
            rtp_time,
            payload,
            &mut self.events,
        );
        if let Some((to, kind)) = kind.and_then(|k| forward_target(a).map(|to| (to, k))) {
            let meta = Meta {
                from,
                to,
                kind,
                rtp_time,
                marker: header[1] & 0x80 != 0,
                arrival: now,
                level,
            };
            self.deliver(meta, &mut Payload::Borrowed(payload), now);
        }
        self.scratch = scratch;
        self.run_work(now);
        true
    }

    /// Hands one packet to the bridged peer: sealed with our SRTP when the peer is ready for
    /// it, else written into the peer's str0m; relayed when the peer is on another shard.
    fn deliver(&mut self, m: Meta, payload: &mut Payload<'_>, now: Instant) {
        let Some(to) = self.legs.get_mut(&m.to) else {
            let shard = Self::shard_of(m.to, self.config.shards);
            if shard != self.config.shard {
                if let Some(from) = self.legs.get_mut(&m.from) {
                    from.stats.forwarded += 1;
                }
                let payload = payload.shared();
                self.relay
                    .push_back((shard, Relayed(Forward { meta: m, payload })));
            }
            return;
        };
        // Hold tone and DTMF own the outgoing stream while they play.
        let busy = to.held || to.dtmf_tx.as_ref().is_some_and(|d| d.current.is_some());
        let (written, direct) = match (to.tx_pt(m.kind), busy) {
            (Some(pt), false) => match to.seal(pt, &m, payload.bytes(), &mut self.buffers, now) {
                Some(d) => {
                    self.transmits.push_back(d);
                    (true, true)
                }
                None => {
                    let ext = level_ext(m.level);
                    let p = payload.shared();
                    let ok = to.write(
                        pt,
                        m.rtp_time,
                        m.arrival,
                        m.marker,
                        ext,
                        p,
                        now,
                        Source::Forward,
                    );
                    if ok {
                        self.flush(m.to, now);
                    }
                    (ok, false)
                }
            },
            _ => (false, false),
        };
        if written {
            if let Some(tap) = &mut self.tap {
                tap(&TapPacket {
                    from: m.from,
                    to: m.to,
                    kind: m.kind,
                    rtp_time: m.rtp_time,
                    payload: payload.shared(),
                });
            }
        }
        if let Some(from) = self.legs.get_mut(&m.from) {
            if written {
                from.stats.forwarded += 1;
                from.stats.forwarded_direct += direct as u64;
            } else {
                from.stats.not_forwarded += 1;
            }
        }
    }

    /// Hands back a sent datagram's buffer for the next forward (no allocation per packet).
    pub fn recycle(&mut self, mut buf: Vec<u8>) {
        if self.buffers.len() < MAX_SPARE_BUFFERS && buf.capacity() >= 512 {
            buf.clear();
            self.buffers.push(buf);
        }
    }

    /// Advances time: str0m timers, the hold tone and DTMF generators.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((at, leg))) = self.heap.peek().copied() {
            if at > now {
                break;
            }
            self.heap.pop();
            let Some(l) = self.legs.get_mut(&leg) else {
                continue;
            };
            if l.scheduled != Some(at) {
                continue; // superseded by an earlier deadline
            }
            l.scheduled = None;
            self.generate(leg, now);
            let l = self.legs.get_mut(&leg).expect("still there");
            if l.rtc_timeout <= now {
                if let Err(e) = l.rtc.handle_input(Input::Timeout(now)) {
                    tracing::debug!(%leg, "timeout: {e}");
                }
                self.drain(leg);
            } else {
                self.schedule(leg);
            }
            self.run_work(now);
        }
    }

    /// The next moment [`MediaCore::handle_timeout`] must be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    pub fn poll_transmit(&mut self) -> Option<Datagram> {
        self.transmits.pop_front()
    }

    /// A packet for a leg on another shard: `(shard, packet)`.
    pub fn poll_relay(&mut self) -> Option<(usize, Relayed)> {
        self.relay.pop_front()
    }

    /// A packet relayed from another shard to one of this shard's legs.
    pub fn handle_relayed(&mut self, packet: Relayed, now: Instant) {
        self.work.push_back(packet.0);
        self.run_work(now);
    }

    pub fn poll_event(&mut self) -> Option<MediaEvent> {
        self.events.pop_front()
    }

    fn schedule(&mut self, leg: LegId) {
        let Some(l) = self.legs.get_mut(&leg) else {
            return;
        };
        let at = l.wake_at();
        if l.scheduled.is_none_or(|s| at < s) {
            l.scheduled = Some(at);
            self.heap.push(Reverse((at, leg)));
        }
    }

    /// Polls one leg's `Rtc` until it asks for a timeout, routing what comes out.
    fn drain(&mut self, leg: LegId) {
        let Some(l) = self.legs.get_mut(&leg) else {
            return;
        };
        loop {
            let out = match l.rtc.poll_output() {
                Ok(o) => o,
                Err(e) => {
                    tracing::debug!(%leg, "poll_output: {e}");
                    let _ = l.rtc.close();
                    break;
                }
            };
            match out {
                Output::Timeout(t) => {
                    l.rtc_timeout = t;
                    break;
                }
                Output::Transmit(t) => self.transmits.push_back(Datagram {
                    destination: t.destination,
                    contents: t.contents.into(),
                }),
                Output::Event(e) => match e {
                    Event::Connected => {
                        l.connected = true;
                        // str0m reports the connection after the handshake's keys.
                        l.srtp = l.keys.get().and_then(Srtp::new).map(Box::new);
                        let direct = l.srtp.is_some();
                        tracing::debug!(%leg, keys = ?l.keys.get(), direct, "leg SRTP");
                        l.refresh_payload_types();
                        self.events.push_back(MediaEvent::Connected { leg });
                    }
                    Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                        self.events.push_back(MediaEvent::Disconnected { leg });
                    }
                    Event::MediaAdded(m) => {
                        if m.kind == MediaKind::Audio && l.mid.is_none() {
                            l.mid = Some(m.mid);
                        }
                        l.refresh_payload_types();
                    }
                    Event::MediaChanged(_) => l.refresh_payload_types(),
                    Event::RtpPacket(p) => {
                        receive_rtp(leg, l, p, &mut self.events, &mut self.work);
                    }
                    _ => {}
                },
            }
        }
        if !l.rtc.is_alive() {
            self.remove_leg(leg);
            return;
        }
        self.schedule(leg);
    }

    /// Delivers queued forwards (from str0m's receive path, or relayed from another shard).
    fn run_work(&mut self, now: Instant) {
        while let Some(f) = self.work.pop_front() {
            self.deliver(f.meta, &mut Payload::Shared(f.payload), now);
        }
    }

    /// After a write: advance time so the packet leaves now (MEDIA-NOTES: without
    /// this a written packet waits for the next timer, adding 5–17 ms).
    fn flush(&mut self, leg: LegId, now: Instant) {
        if let Some(l) = self.legs.get_mut(&leg) {
            let _ = l.rtc.handle_input(Input::Timeout(now));
            self.drain(leg);
        }
    }

    /// Hold tone and DTMF packets that are due on `leg`.
    fn generate(&mut self, leg: LegId, now: Instant) {
        let Some(l) = self.legs.get_mut(&leg) else {
            return;
        };
        let mut wrote = false;
        let mut tapped: Option<TapPacket> = None;
        // DTMF first: while a digit plays, it replaces the tone and forwarded audio.
        if let Some(tx) = &mut l.dtmf_tx {
            if tx.next_at <= now {
                if tx.current.is_none() {
                    if let Some(event) = tx.queue.pop_front() {
                        let rtp_time = l.own_rtp_time(now, Source::Dtmf);
                        l.dtmf_tx.as_mut().expect("present").current = Some(DtmfCurrent {
                            event,
                            rtp_time,
                            elapsed: Duration::ZERO,
                            end_sent: 0,
                        });
                    }
                }
                let tx = l.dtmf_tx.as_mut().expect("present");
                match (&mut tx.current, l.tx_tele) {
                    (Some(cur), Some((pt, rate))) => {
                        let first = cur.elapsed.is_zero();
                        if cur.elapsed < DTMF_TONE {
                            cur.elapsed += FRAME;
                        }
                        let end = cur.elapsed >= DTMF_TONE;
                        if end {
                            cur.end_sent += 1;
                        }
                        let report = TelephoneEvent {
                            event: cur.event,
                            end,
                            volume: DTMF_VOLUME,
                            duration: cur.elapsed,
                        };
                        let bytes = report
                            .to_bytes(Frequency::new(rate).unwrap_or(Frequency::FORTY_EIGHT_KHZ))
                            .unwrap_or([cur.event, 0, 0, 0]);
                        let rtp_time = cur.rtp_time;
                        let done = cur.end_sent >= DTMF_END_REPEATS;
                        tx.next_at = now + FRAME;
                        if done {
                            tx.current = None;
                            tx.next_at = now + DTMF_GAP;
                        }
                        let payload: Arc<[u8]> = Arc::from(&bytes[..]);
                        wrote = l.write(
                            pt,
                            rtp_time,
                            now,
                            first,
                            ExtensionValues::default(),
                            payload.clone(),
                            now,
                            Source::Dtmf,
                        );
                        tapped = Some(TapPacket {
                            from: leg,
                            to: leg,
                            kind: PayloadKind::Tele(rate),
                            rtp_time,
                            payload,
                        });
                    }
                    (Some(_), None) => {
                        // The peer negotiated no telephone-event: drop the digits.
                        tx.current = None;
                        tx.queue.clear();
                    }
                    (None, _) => {}
                }
                let tx = l.dtmf_tx.as_ref().expect("present");
                if tx.current.is_none() && tx.queue.is_empty() && tx.next_at <= now {
                    l.dtmf_tx = None;
                }
            }
        }
        if let Some(at) = l.tone_at {
            if at <= now {
                // Catch up at most one frame: after a stall, do not burst.
                let next = at + FRAME;
                l.tone_at = Some(if next + FRAME < now {
                    now + FRAME
                } else {
                    next
                });
                let dtmf_playing = l.dtmf_tx.as_ref().is_some_and(|d| d.current.is_some());
                if let (Some(pt), false) = (l.tx_opus, dtmf_playing) {
                    let payload = self.tone.packet(l.tone_index).clone();
                    let first = l.last_tx.is_none_or(|(_, _, s)| s != Source::Tone);
                    let rtp_time = l.own_rtp_time(now, Source::Tone);
                    l.tone_index = l.tone_index.wrapping_add(1);
                    wrote |= l.write(
                        pt,
                        rtp_time,
                        now,
                        first,
                        ExtensionValues::default(),
                        payload,
                        now,
                        Source::Tone,
                    );
                }
            }
        }
        if let (Some(p), Some(tap)) = (&tapped, &mut self.tap) {
            tap(p);
        }
        if wrote {
            self.flush(leg, now);
        } else {
            self.schedule(leg);
        }
    }
}

/// Bookkeeping for one incoming RTP packet, on either path: counters, loss, the first-media
/// event and incoming digits. Returns the payload's codec, or `None` if it is not one we forward.
fn note_rtp_in(
    leg: LegId,
    l: &mut Leg,
    index: u64,
    pt: u8,
    rtp_time: u32,
    payload: &[u8],
    events: &mut VecDeque<MediaEvent>,
) -> Option<PayloadKind> {
    l.stats.rtp_in += 1;
    l.stats.bytes_in += payload.len() as u64;
    match l.highest_seq_in {
        Some(h) if index > h => {
            l.stats.lost_in += index - h - 1;
            l.highest_seq_in = Some(index);
        }
        Some(_) => {}
        None => l.highest_seq_in = Some(index),
    }
    if !l.media_started {
        l.media_started = true;
        events.push_back(MediaEvent::MediaStarted { leg });
    }
    let Some(kind) = l.rx_kinds.get(pt as usize).copied().flatten() else {
        l.stats.not_forwarded += 1;
        return None;
    };
    if let PayloadKind::Tele(rate) = kind {
        if l.last_dtmf_rx != Some(rtp_time) {
            let freq = Frequency::new(rate).unwrap_or(Frequency::FORTY_EIGHT_KHZ);
            if let Some(digit) =
                TelephoneEvent::parse(payload, freq).and_then(|e| dtmf_digit(e.event))
            {
                l.last_dtmf_rx = Some(rtp_time);
                events.push_back(MediaEvent::Dtmf { leg, digit });
            }
        }
    }
    Some(kind)
}

/// The leg a packet from `l` goes to, if any; counts it as not forwarded otherwise.
fn forward_target(l: &mut Leg) -> Option<LegId> {
    match l.peer {
        Some(to) if !l.muted && !l.held => Some(to),
        _ => {
            l.stats.not_forwarded += 1;
            None
        }
    }
}

/// str0m's receive path: bookkeeping, then a forward queued if the leg is bridged.
fn receive_rtp(
    leg: LegId,
    l: &mut Leg,
    p: RtpPacket,
    events: &mut VecDeque<MediaEvent>,
    work: &mut VecDeque<Forward>,
) {
    let h = &p.header;
    let (pt, rtp_time) = (*h.payload_type, h.timestamp);
    let Some(kind) = note_rtp_in(leg, l, *p.seq_no, pt, rtp_time, &p.payload, events) else {
        return;
    };
    if let Some(to) = forward_target(l) {
        let meta = Meta {
            from: leg,
            to,
            kind,
            rtp_time,
            marker: h.marker,
            arrival: p.timestamp,
            level: level_octet(&h.ext_vals),
        };
        work.push_back(Forward {
            meta,
            payload: p.payload,
        });
    }
}

/// The RFC 6464 octet (voice activity bit, level in -dBov) of str0m's extension values.
fn level_octet(ext: &ExtensionValues) -> Option<u8> {
    let level = ext.audio_level?;
    let vad = if ext.voice_activity == Some(true) {
        0x80
    } else {
        0
    };
    Some(vad | (level.unsigned_abs() & 0x7f))
}

/// str0m's extension values for an RFC 6464 octet.
fn level_ext(octet: Option<u8>) -> ExtensionValues {
    ExtensionValues {
        audio_level: octet.map(|o| -((o & 0x7f) as i8)),
        voice_activity: octet.map(|o| o & 0x80 != 0),
        ..Default::default()
    }
}

/// The `a=mid` of the first audio m-line of an SDP.
fn audio_mid(sdp: &str) -> Option<Mid> {
    let mut in_audio = false;
    for line in sdp.lines() {
        let line = line.trim_end();
        if let Some(m) = line.strip_prefix("m=") {
            in_audio = m.starts_with("audio");
        } else if in_audio {
            if let Some(mid) = line.strip_prefix("a=mid:") {
                return Some(mid.into());
            }
        }
    }
    None
}

/// RFC 4733 §3.2 event codes of the DTMF digits.
pub fn dtmf_event(digit: char) -> Option<u8> {
    match digit.to_ascii_uppercase() {
        c @ '0'..='9' => Some(c as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        c @ 'A'..='D' => Some(c as u8 - b'A' + 12),
        _ => None,
    }
}

/// The digit of an RFC 4733 event code, if it is one.
pub fn dtmf_digit(event: u8) -> Option<char> {
    match event {
        0..=9 => Some((b'0' + event) as char),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some((b'A' + event - 12) as char),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtmf_codes_round_trip() {
        for c in "0123456789*#ABCD".chars() {
            assert_eq!(dtmf_digit(dtmf_event(c).unwrap()), Some(c));
        }
        assert_eq!(dtmf_event('x'), None);
        assert_eq!(dtmf_digit(16), None);
    }

    #[test]
    fn audio_mid_is_read_from_the_audio_section() {
        let sdp =
            "v=0\r\nm=application 9 x\r\na=mid:1\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n";
        assert_eq!(audio_mid(sdp), Some("0".into()));
    }
}
