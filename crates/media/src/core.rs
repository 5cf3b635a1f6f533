//! The sans-IO media engine: many WebRTC legs behind one UDP address and plain RTP legs (desk
//! phones, G.711) on port pairs of their own, bridged by forwarding RTP.
//!
//! Datagrams and time go in (`handle_receive`, `handle_timeout`); datagrams, events and the next
//! deadline come out (`poll_transmit`, `poll_event`, `poll_timeout`). No sockets, no clocks: an
//! RTP leg's ports are bound by the I/O edge and handed in ([`MediaCore::add_rtp_port`]), and
//! every datagram names the local port it arrived on or leaves from.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::config::DtlsCert;
use str0m::format::{Codec, FormatParams};
use str0m::media::{Direction, Frequency, MediaKind, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{Extension, ExtensionValues, RtpPacket, RtpWrite, SeqNo};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcConfig};

use crate::bridge::{self, AudioCodec, Codecs, Plan};
use crate::dtmf::{self, DtmfTx, Report};
use crate::error::{MediaError, Result};
use crate::g711::{self, Law};
use crate::plain::sdp::{sdp_kind, LegKind};
use crate::plain::{self, PlainLeg};
use crate::srtp::{self, KeySlot, OpenError, Srtp};
use crate::transcode::{Codec as Tc, Transcoder};

/// Leg maps are looked up several times per packet: a fast non-cryptographic hash (the keys are
/// our own leg numbers and the peers' addresses, which only select among legs).
type HashMap<K, V> = rustc_hash::FxHashMap<K, V>;
use crate::tone::{G711Tone, ToneLoop, FRAME};

/// Datagram buffers kept for reuse: a receive batch's worth of forwards, with room.
const MAX_SPARE_BUFFERS: usize = 1024;
/// Payload type we offer for telephone-event at 48 kHz (Chromium's choice too).
const PT_TELE_48K: u8 = 110;
/// Payload type we offer for telephone-event at 8 kHz.
const PT_TELE_8K: u8 = 126;

/// Which audio codec a WebRTC leg asks its browser to send. Our offers and answers always list
/// Opus, PCMU and PCMA (RFC 7874); this picks the order, and the browser sends the first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Prefer {
    /// Opus first: browser to browser.
    #[default]
    Opus,
    /// PCMU, PCMA, then Opus: a browser bridged to a desk phone or trunk, so the bridge only
    /// relays (SRTP↔RTP) instead of transcoding.
    G711,
}

/// Identifies one leg (a browser's peer connection or a phone's RTP session).
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
    /// ICE and DTLS are up (an RTP leg: its offer/answer is complete): media can flow.
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
    /// RTP legs: packets from other sources than the latched one (dropped).
    pub rtp_ignored: u64,
    /// RTP legs: RTCP packets received (counted, not used) and reports sent.
    pub rtcp_in: u64,
    pub rtcp_out: u64,
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
    /// Of those, how many went through a transcoder (Opus↔G.711) on their way.
    pub transcoded: u64,
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
    /// G.711 µ-law and A-law, 8 kHz.
    Pcmu,
    Pcma,
    /// RFC 4733 telephone-event at the given clock rate.
    Tele(u32),
}

/// Receiver of bridged packets (the future recorder). Called on the forwarding path: it must
/// only hand the packet off (e.g. a bounded channel's `try_send`), never block.
pub type Tap = Box<dyn FnMut(&TapPacket) + Send>;

impl PayloadKind {
    fn law(self) -> Option<Law> {
        match self {
            PayloadKind::Pcmu => Some(Law::Ulaw),
            PayloadKind::Pcma => Some(Law::Alaw),
            _ => None,
        }
    }
}

/// The bridge's view of a payload's codec.
fn audio_codec(k: PayloadKind) -> Option<AudioCodec> {
    match k {
        PayloadKind::Opus => Some(AudioCodec::Opus),
        PayloadKind::Pcmu => Some(AudioCodec::Pcmu),
        PayloadKind::Pcma => Some(AudioCodec::Pcma),
        PayloadKind::Tele(_) => None,
    }
}

/// What a forwarded payload must become for its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Convert {
    None,
    /// G.711 from one law to the other.
    Law(Law, Law),
    /// A telephone-event from one clock rate to another.
    Clock(u32, u32),
}

impl Convert {
    /// The converted payload, or `None` when it passes as is.
    fn apply(self, payload: &[u8]) -> Option<Arc<[u8]>> {
        match self {
            Convert::None => None,
            Convert::Law(from, to) => {
                let mut out = Vec::with_capacity(payload.len());
                g711::transcode_into(from, to, payload, &mut out);
                Some(out.into())
            }
            Convert::Clock(from, to) => dtmf::rescale(payload, from, to).map(|b| Arc::from(&b[..])),
        }
    }
}

/// A datagram to send from one of the media sockets.
#[derive(Debug)]
pub struct Datagram {
    pub destination: SocketAddr,
    pub contents: Vec<u8>,
    /// The local port it leaves from: `None` for the shard's shared (WebRTC) socket, else an
    /// RTP leg's own RTP or RTCP port (see [`MediaCore::add_rtp_port`]).
    pub local_port: Option<u16>,
}

/// Where a received packet goes and what its header carries across the bridge.
pub(crate) struct Meta {
    pub from: LegId,
    pub to: LegId,
    pub kind: PayloadKind,
    pub rtp_time: u32,
    pub marker: bool,
    /// The source stream's SSRC: a new one starts a new timeline mapping on RTP legs.
    pub ssrc: u32,
    /// When it arrived (the wallclock str0m pairs with the RTP time).
    pub arrival: Instant,
    /// RFC 6464 audio level octet, if the packet had one.
    pub level: Option<u8>,
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

/// Who wrote the last packet toward a leg: own timestamps continue from it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    Forward,
    Tone,
    Dtmf,
}

/// Receive-side bookkeeping shared by both leg kinds.
#[derive(Default)]
pub(crate) struct RxBook {
    pub media_started: bool,
    pub highest_seq_in: Option<u64>,
    pub last_dtmf_rx: Option<u32>,
}

impl RxBook {
    /// Extends a 16-bit sequence number to the index nearest the highest seen (RFC 3550 A.1).
    pub(crate) fn extend_seq(&self, seq: u16) -> u64 {
        let Some(h) = self.highest_seq_in else {
            // Start one cycle up, so a packet just before the first does not wrap below zero.
            return (1 << 16) | u64::from(seq);
        };
        let candidate = (h & !0xffff) | u64::from(seq);
        let (lower, upper) = (candidate.wrapping_sub(1 << 16), candidate + (1 << 16));
        [lower, candidate, upper]
            .into_iter()
            .filter(|c| *c >= 1 << 16)
            .min_by_key(|c| c.abs_diff(h))
            .unwrap_or(candidate)
    }
}

struct Leg {
    rtc: Rtc,
    mid: Option<Mid>,
    pending: Option<SdpPendingOffer>,
    peer: Option<LegId>,
    muted: bool,
    held: bool,
    connected: bool,
    /// Whether we wrote the last answer: then the browser sends the first of our codecs (in
    /// the order of our [`Prefer`]) that it has; else the first of its answer.
    answered: bool,
    /// Negotiated payload types toward the peer.
    tx_opus: Option<Pt>,
    tx_pcmu: Option<Pt>,
    tx_pcma: Option<Pt>,
    /// telephone-event at 8 and 48 kHz; `tx_tele` is the one our own digits use.
    tx_tele8: Option<Pt>,
    tx_tele48: Option<Pt>,
    tx_tele: Option<(Pt, u32)>,
    /// The codec the browser sends us, once negotiated.
    sends: Option<AudioCodec>,
    /// Incoming payload type → codec, indexed by PT (0..128).
    rx_kinds: [Option<PayloadKind>; 128],
    /// Our own sequence-number space toward this leg (never the source's).
    next_seq: SeqNo,
    last_tx: Option<(u32, Instant, Source)>,
    tone_at: Option<Instant>,
    tone_index: usize,
    dtmf_tx: Option<DtmfTx>,
    rx: RxBook,
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
    /// Audio in a codec this leg does not take becomes its codec here (kept across re-bridges).
    transcoder: Option<Box<Transcoder>>,
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
            answered: false,
            tx_opus: None,
            tx_pcmu: None,
            tx_pcma: None,
            tx_tele8: None,
            tx_tele48: None,
            tx_tele: None,
            sends: None,
            rx_kinds: [None; 128],
            next_seq: SeqNo::default(),
            last_tx: None,
            tone_at: None,
            tone_index: 0,
            dtmf_tx: None,
            rx: RxBook::default(),
            stats: LegStats::default(),
            rtc_timeout: now,
            scheduled: None,
            keys,
            srtp: None,
            media_from: None,
            tx_ssrc: None,
            ext_level: None,
            ext_mid: None,
            transcoder: None,
        }
    }

    /// Earliest moment this leg needs attention.
    fn wake_at(&self) -> Instant {
        let mut t = self.rtc_timeout;
        if let Some(a) = self.tone_at {
            t = t.min(a);
        }
        if let Some(d) = &self.dtmf_tx {
            t = t.min(d.next_at());
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
        self.tx_pcmu = None;
        self.tx_pcma = None;
        self.tx_tele8 = None;
        self.tx_tele48 = None;
        let mut ours_first = None;
        for p in self.rtc.codec_config().params() {
            let spec = p.spec();
            let kind = match spec.codec {
                Codec::Opus => PayloadKind::Opus,
                Codec::PCMU => PayloadKind::Pcmu,
                Codec::PCMA => PayloadKind::Pcma,
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
            let slot = match kind {
                PayloadKind::Opus => &mut self.tx_opus,
                PayloadKind::Pcmu => &mut self.tx_pcmu,
                PayloadKind::Pcma => &mut self.tx_pcma,
                PayloadKind::Tele(8000) => &mut self.tx_tele8,
                PayloadKind::Tele(48_000) => &mut self.tx_tele48,
                PayloadKind::Tele(_) => continue,
            };
            slot.get_or_insert(pt);
            if ours_first.is_none() {
                ours_first = audio_codec(kind);
            }
        }
        let theirs_first = remote.iter().find_map(|pt| {
            self.rx_kinds
                .get(**pt as usize)
                .copied()
                .flatten()
                .and_then(audio_codec)
        });
        self.sends = if remote.is_empty() {
            None
        } else if self.answered {
            ours_first
        } else {
            theirs_first
        };
        // Our digits share the clock of the audio the browser hears from us.
        let g711 = self.sends.is_some_and(AudioCodec::is_g711);
        let (near, far) = if g711 {
            ((self.tx_tele8, 8000), (self.tx_tele48, 48_000))
        } else {
            ((self.tx_tele48, 48_000), (self.tx_tele8, 8000))
        };
        self.tx_tele = near.0.map(|p| (p, near.1)).or(far.0.map(|p| (p, far.1)));
    }

    /// What the bridge needs to know of this leg's codecs.
    fn codecs(&self) -> Codecs {
        let known = self.sends.is_some();
        Codecs {
            sends: self.sends,
            takes_opus: known.then_some(self.tx_opus.is_some()),
            takes_g711: known.then_some(self.tx_pcmu.is_some() || self.tx_pcma.is_some()),
        }
    }

    /// The payload type for a forwarded `kind`, and what the payload must become first (the
    /// other G.711 law, or a digit at the other telephone-event clock).
    fn tx_pt(&self, kind: PayloadKind) -> Option<(Pt, Convert)> {
        match kind {
            PayloadKind::Opus => self.tx_opus.map(|p| (p, Convert::None)),
            PayloadKind::Pcmu | PayloadKind::Pcma => {
                let same = if kind == PayloadKind::Pcmu {
                    self.tx_pcmu
                } else {
                    self.tx_pcma
                };
                let from = kind.law()?;
                let (other, to) = match from {
                    Law::Ulaw => (self.tx_pcma, Law::Alaw),
                    Law::Alaw => (self.tx_pcmu, Law::Ulaw),
                };
                same.map(|p| (p, Convert::None))
                    .or(other.map(|p| (p, Convert::Law(from, to))))
            }
            PayloadKind::Tele(rate) => {
                let (same, other, other_rate) = match rate {
                    8000 => (self.tx_tele8, self.tx_tele48, 48_000),
                    48_000 => (self.tx_tele48, self.tx_tele8, 8000),
                    _ => return None,
                };
                same.map(|p| (p, Convert::None))
                    .or(other.map(|p| (p, Convert::Clock(rate, other_rate))))
            }
        }
    }

    /// What a transcoder toward this leg encodes, and its payload type: Opus if the browser
    /// takes it, else G.711.
    fn transcode_target(&self) -> Option<(Pt, Tc)> {
        if let Some(pt) = self.tx_opus {
            return Some((pt, Tc::Opus));
        }
        match (self.tx_pcmu, self.tx_pcma) {
            (Some(pt), _) => Some((pt, Tc::G711(Law::Ulaw))),
            (None, Some(pt)) => Some((pt, Tc::G711(Law::Alaw))),
            _ => None,
        }
    }

    /// The RTP clock of what we send this leg (its tone and digits continue it).
    fn clock(&self) -> u32 {
        if self.sends.is_some_and(AudioCodec::is_g711) {
            8000
        } else {
            48_000
        }
    }

    /// RTP time for a packet we generate now, continuing whatever was sent before.
    fn own_rtp_time(&self, now: Instant, source: Source) -> u32 {
        let frame = self.clock() / 50;
        match self.last_tx {
            None => 0,
            Some((ts, _, s)) if s == source && source == Source::Tone => ts.wrapping_add(frame),
            Some((ts, at, _)) => {
                let elapsed = now.saturating_duration_since(at);
                let samples = (elapsed.as_micros() * u128::from(self.clock()) / 1_000_000) as u32;
                ts.wrapping_add(samples.max(frame))
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
            local_port: None,
        })
    }
}

/// Many WebRTC legs on one UDP address and RTP legs on ports of their own, with bridging, hold
/// tone and DTMF.
pub struct MediaCore {
    config: MediaConfig,
    cert: DtlsCert,
    tone: ToneLoop,
    g711_tone: G711Tone,
    legs: HashMap<LegId, Leg>,
    by_remote: HashMap<SocketAddr, LegId>,
    /// Plain RTP legs, and the leg of each of their local ports (`true`: the RTCP port).
    plain: HashMap<LegId, PlainLeg>,
    by_port: HashMap<u16, (LegId, bool)>,
    /// Bound port pairs (their advertised RTP address) waiting for a leg, and the RTP ports of
    /// closed legs, whose sockets the I/O edge may close.
    spare_ports: VecDeque<SocketAddr>,
    freed_ports: VecDeque<u16>,
    /// An instant and the wallclock then: RTCP's NTP timestamps.
    epoch: (Instant, SystemTime),
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
            g711_tone: G711Tone::hold(),
            legs: HashMap::default(),
            by_remote: HashMap::default(),
            plain: HashMap::default(),
            by_port: HashMap::default(),
            spare_ports: VecDeque::new(),
            freed_ports: VecDeque::new(),
            // The one wallclock reading, for RTCP only; everything else runs on `now`.
            epoch: (Instant::now(), SystemTime::now()),
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

    /// Hands the engine a bound port pair for a future RTP leg: `rtp` is the address put in
    /// its SDP (an even port; RTCP is on the next one). Datagrams for the pair come in through
    /// [`MediaCore::handle_receive`] with that port as destination, and leave with it as
    /// [`Datagram::local_port`].
    pub fn add_rtp_port(&mut self, rtp: SocketAddr) {
        self.spare_ports.push_back(rtp);
    }

    /// Port pairs handed in and not used by a leg yet.
    pub fn spare_rtp_ports(&self) -> usize {
        self.spare_ports.len()
    }

    /// The RTP port of a pair no leg uses any more (its leg closed): close both sockets.
    pub fn poll_freed_port(&mut self) -> Option<u16> {
        self.freed_ports.pop_front()
    }

    /// A new `Rtc` and the slot its DTLS handshake will put the SRTP keys in.
    fn new_rtc(&self, prefer: Prefer, now: Instant) -> Result<(Rtc, Arc<KeySlot>)> {
        let mut cfg = RtcConfig::new()
            .set_crypto_provider(srtp::crypto_provider())
            .set_rtp_mode(true)
            .set_ice_lite(self.config.ice_lite)
            .set_dtls_cert(self.cert.clone())
            .clear_codecs()
            // Audio only needs the level (forwarded) and the mid. Transport-wide congestion
            // control would add a feedback packet every 100 ms each way per leg for a bitrate
            // estimate nobody uses: Opus is forwarded as the browser encoded it.
            .clear_extension_map()
            .set_extension(1, Extension::AudioLevel)
            .set_extension(4, Extension::RtpMid);
        // str0m writes codecs in the order they are configured, and narrows answers in that
        // order too: the browser sends the first one.
        cfg = match prefer {
            Prefer::Opus => cfg
                .enable_opus(true, false)
                .enable_pcmu(true, false)
                .enable_pcma(true, false),
            Prefer::G711 => cfg
                .enable_pcmu(true, false)
                .enable_pcma(true, false)
                .enable_opus(true, false),
        };
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

    fn next_id(&mut self) -> LegId {
        self.next_leg += 1;
        let shards = self.config.shards.max(1) as u64;
        LegId(self.next_leg * shards + self.config.shard as u64)
    }

    fn insert_leg(&mut self, leg: Leg) -> LegId {
        let id = self.next_id();
        self.legs.insert(id, leg);
        id
    }

    /// A leg for an incoming offer (a browser's or a phone's INVITE): returns the answer SDP.
    /// An `RTP/AVP` offer (see [`sdp_kind`]) makes an RTP leg on a spare port pair; a browser's
    /// offer a WebRTC leg that asks for Opus first.
    pub fn create_answerer(&mut self, offer_sdp: &str, now: Instant) -> Result<(LegId, String)> {
        self.create_answerer_preferring(offer_sdp, Prefer::Opus, now)
    }

    /// As [`MediaCore::create_answerer`]; a WebRTC leg lists its codecs in the order of
    /// `prefer` (the browser sends the first it has).
    pub fn create_answerer_preferring(
        &mut self,
        offer_sdp: &str,
        prefer: Prefer,
        now: Instant,
    ) -> Result<(LegId, String)> {
        if sdp_kind(offer_sdp) == LegKind::Rtp {
            return self.create_plain_answerer(offer_sdp, now);
        }
        let offer =
            SdpOffer::from_sdp_string(offer_sdp).map_err(|e| MediaError::Sdp(e.to_string()))?;
        let (mut rtc, keys) = self.new_rtc(prefer, now)?;
        let answer = rtc.sdp_api().accept_offer(offer)?;
        let mut leg = Leg::new(rtc, keys, now);
        leg.mid = audio_mid(offer_sdp);
        leg.answered = true;
        let id = self.insert_leg(leg);
        self.after_negotiation(id, now);
        Ok((id, answer.to_sdp_string()))
    }

    fn create_plain_answerer(&mut self, offer_sdp: &str, now: Instant) -> Result<(LegId, String)> {
        let local = *self.spare_ports.front().ok_or(MediaError::NoPorts)?;
        let mut leg = PlainLeg::new(local, now);
        // Refused offers (no G.711) leave the port pair spare.
        let answer = leg.accept_offer(offer_sdp)?;
        self.spare_ports.pop_front();
        let id = self.insert_plain(leg);
        self.plain_negotiated(id);
        Ok((id, answer))
    }

    fn insert_plain(&mut self, leg: PlainLeg) -> LegId {
        let id = self.next_id();
        let port = leg.rtp_port();
        self.by_port.insert(port, (id, false));
        self.by_port.insert(port.wrapping_add(1), (id, true));
        self.plain.insert(id, leg);
        self.schedule(id);
        id
    }

    /// An RTP leg's offer/answer completed: there is no handshake, so it is connected.
    fn plain_negotiated(&mut self, leg: LegId) {
        if let Some(p) = self.plain.get_mut(&leg) {
            if !p.connected {
                p.connected = true;
                self.events.push_back(MediaEvent::Connected { leg });
            }
        }
    }

    /// A WebRTC leg we call out on (the server's INVITE to a browser): returns the offer SDP;
    /// finish with [`MediaCore::accept_answer`].
    pub fn create_offerer(&mut self, now: Instant) -> Result<(LegId, String)> {
        self.create_webrtc_offerer(Prefer::Opus, now)
    }

    /// A leg of `kind` we call out on: a WebRTC offer (Opus first) or an RTP/AVP offer of PCMU,
    /// PCMA and telephone-event on a spare port pair.
    pub fn create_offerer_kind(&mut self, kind: LegKind, now: Instant) -> Result<(LegId, String)> {
        match kind {
            LegKind::WebRtc => self.create_offerer(now),
            LegKind::Rtp => {
                let local = self.spare_ports.pop_front().ok_or(MediaError::NoPorts)?;
                let mut leg = PlainLeg::new(local, now);
                let offer = leg.offer(Direction::SendRecv);
                let id = self.insert_plain(leg);
                Ok((id, offer))
            }
        }
    }

    /// A WebRTC offerer whose codecs are listed in the order of `prefer`.
    pub fn create_webrtc_offerer(
        &mut self,
        prefer: Prefer,
        now: Instant,
    ) -> Result<(LegId, String)> {
        let (mut rtc, keys) = self.new_rtc(prefer, now)?;
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

    /// The kind of `leg`.
    pub fn leg_kind(&self, leg: LegId) -> Option<LegKind> {
        if self.legs.contains_key(&leg) {
            Some(LegKind::WebRtc)
        } else {
            self.plain.contains_key(&leg).then_some(LegKind::Rtp)
        }
    }

    /// Applies the peer's answer to our last offer on `leg`.
    pub fn accept_answer(&mut self, leg: LegId, answer_sdp: &str, now: Instant) -> Result<()> {
        if let Some(p) = self.plain.get_mut(&leg) {
            p.accept_answer(leg, answer_sdp)?;
            self.plain_negotiated(leg);
            self.schedule(leg);
            return Ok(());
        }
        let answer =
            SdpAnswer::from_sdp_string(answer_sdp).map_err(|e| MediaError::Sdp(e.to_string()))?;
        let l = self.legs.get_mut(&leg).ok_or(MediaError::UnknownLeg(leg))?;
        let pending = l.pending.take().ok_or(MediaError::NoPendingOffer(leg))?;
        let r = l.rtc.sdp_api().accept_answer(pending, answer);
        l.answered = false;
        self.after_negotiation(leg, now);
        r.map_err(Into::into)
    }

    /// A new offer on an existing leg with our audio direction changed: `SendOnly` to put the
    /// peer on hold, `Inactive`, or `SendRecv` to resume. Finish with `accept_answer`. On an
    /// RTP leg this always makes an offer (also for an unchanged direction: the answer to a
    /// re-INVITE without SDP).
    pub fn reoffer(&mut self, leg: LegId, direction: Direction, now: Instant) -> Result<String> {
        if let Some(p) = self.plain.get_mut(&leg) {
            return Ok(p.offer(direction));
        }
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

    /// The peer's re-INVITE offer (its hold/unhold, ICE restart, a phone's new address) on an
    /// existing leg: returns our answer.
    pub fn accept_offer_on(&mut self, leg: LegId, offer_sdp: &str, now: Instant) -> Result<String> {
        if let Some(p) = self.plain.get_mut(&leg) {
            let answer = p.accept_offer(offer_sdp)?;
            self.plain_negotiated(leg);
            return Ok(answer);
        }
        let offer =
            SdpOffer::from_sdp_string(offer_sdp).map_err(|e| MediaError::Sdp(e.to_string()))?;
        let l = self.legs.get_mut(&leg).ok_or(MediaError::UnknownLeg(leg))?;
        l.pending = None;
        let r = l.rtc.sdp_api().accept_offer(offer);
        l.answered = true;
        self.after_negotiation(leg, now);
        Ok(r?.to_sdp_string())
    }

    /// Our current audio direction on `leg` as negotiated.
    pub fn direction(&self, leg: LegId) -> Option<Direction> {
        if let Some(p) = self.plain.get(&leg) {
            return Some(p.direction());
        }
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

    /// What the bridge needs to know of `leg`'s codecs.
    pub(crate) fn codecs(&self, leg: LegId) -> Option<Codecs> {
        if let Some(l) = self.legs.get(&leg) {
            return Some(l.codecs());
        }
        let p = self.plain.get(&leg)?;
        Some(Codecs {
            sends: p.law().map(|l| match l {
                Law::Ulaw => AudioCodec::Pcmu,
                Law::Alaw => AudioCodec::Pcma,
            }),
            takes_opus: Some(false),
            takes_g711: Some(true),
        })
    }

    /// How `a` and `b` will be bridged (see [`crate::bridge`]): any pair can be, by relaying
    /// or, where one leg sends a codec the other cannot take, through a transcoder that the
    /// receiving leg sets up with the first packet.
    pub(crate) fn check_bridge(a: (LegId, Codecs), b: (LegId, Codecs)) -> Result<()> {
        if let Plan::Transcode { from, to } = bridge::plan(a, b) {
            tracing::debug!(%from, %to, "bridge transcodes");
        }
        Ok(())
    }

    fn peer_mut(&mut self, leg: LegId) -> Option<&mut Option<LegId>> {
        match self.legs.get_mut(&leg) {
            Some(l) => Some(&mut l.peer),
            None => self.plain.get_mut(&leg).map(|p| &mut p.peer),
        }
    }

    fn stats_mut(&mut self, leg: LegId) -> Option<&mut LegStats> {
        match self.legs.get_mut(&leg) {
            Some(l) => Some(&mut l.stats),
            None => self.plain.get_mut(&leg).map(|p| &mut p.stats),
        }
    }

    /// Forward RTP between `a` and `b` both ways (replacing any earlier bridge of either).
    /// Legs that share no codec (an Opus browser and a phone) are bridged through a
    /// transcoder in each direction that needs one (Opus↔G.711, see `transcode`).
    pub fn bridge(&mut self, a: LegId, b: LegId) -> Result<()> {
        if a == b {
            return Err(MediaError::SelfBridge);
        }
        let ca = self.codecs(a).ok_or(MediaError::UnknownLeg(a))?;
        let cb = self.codecs(b).ok_or(MediaError::UnknownLeg(b))?;
        Self::check_bridge((a, ca), (b, cb))?;
        self.unbridge(a)?;
        self.unbridge(b)?;
        *self.peer_mut(a).expect("checked") = Some(b);
        *self.peer_mut(b).expect("checked") = Some(a);
        Ok(())
    }

    /// Stops forwarding between `leg` and its peer (both ways).
    pub fn unbridge(&mut self, leg: LegId) -> Result<()> {
        let slot = self.peer_mut(leg).ok_or(MediaError::UnknownLeg(leg))?;
        if let Some(p) = slot.take() {
            if let Some(ps) = self.peer_mut(p) {
                if *ps == Some(leg) {
                    *ps = None;
                }
            }
        }
        Ok(())
    }

    /// Forwards `leg`'s audio to `peer`, which lives on another shard (that shard links back).
    pub fn link(&mut self, leg: LegId, peer: LegId) -> Result<()> {
        *self.peer_mut(leg).ok_or(MediaError::UnknownLeg(leg))? = Some(peer);
        Ok(())
    }

    /// Stops `leg` forwarding to `peer` (its peer on another shard was unbridged or closed).
    pub fn unlink(&mut self, leg: LegId, peer: LegId) {
        if let Some(slot) = self.peer_mut(leg).filter(|s| **s == Some(peer)) {
            *slot = None;
        }
    }

    /// The leg `leg` is bridged to.
    pub fn peer(&self, leg: LegId) -> Option<LegId> {
        match self.legs.get(&leg) {
            Some(l) => l.peer,
            None => self.plain.get(&leg)?.peer,
        }
    }

    /// Muting `leg` stops its audio reaching its peer (the other direction keeps flowing).
    pub fn mute(&mut self, leg: LegId, on: bool) -> Result<()> {
        match self.legs.get_mut(&leg) {
            Some(l) => l.muted = on,
            None => {
                self.plain
                    .get_mut(&leg)
                    .ok_or(MediaError::UnknownLeg(leg))?
                    .muted = on
            }
        }
        Ok(())
    }

    /// Holding `leg` stops forwarding to and from it and plays the hold tone to it instead
    /// (Opus, or G.711 to RTP legs and to browsers that send G.711).
    pub fn hold(&mut self, leg: LegId, on: bool, now: Instant) -> Result<()> {
        if let Some(p) = self.plain.get_mut(&leg) {
            if p.held != on {
                p.set_hold(on, now);
                self.schedule(leg);
            }
            return Ok(());
        }
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
        let tx = match self.legs.get_mut(&leg) {
            Some(l) => &mut l.dtmf_tx,
            None => {
                &mut self
                    .plain
                    .get_mut(&leg)
                    .ok_or(MediaError::UnknownLeg(leg))?
                    .dtmf_tx
            }
        };
        tx.get_or_insert_with(|| DtmfTx::new(now)).push(events);
        self.schedule(leg);
        Ok(())
    }

    /// Ends the leg (DTLS close, or an RTCP BYE toward a phone) and forgets it.
    pub fn close(&mut self, leg: LegId, now: Instant) -> Result<()> {
        self.unbridge(leg)?;
        if let Some(p) = self.plain.get_mut(&leg) {
            if let Some(bye) = p.bye() {
                self.transmits.push_back(bye);
            }
            self.remove_leg(leg);
            return Ok(());
        }
        let l = self.legs.get_mut(&leg).ok_or(MediaError::UnknownLeg(leg))?;
        let _ = l.rtc.close();
        self.flush(leg, now);
        self.remove_leg(leg);
        Ok(())
    }

    fn remove_leg(&mut self, leg: LegId) {
        let removed = if self.legs.remove(&leg).is_some() {
            self.by_remote.retain(|_, l| *l != leg);
            true
        } else if let Some(p) = self.plain.remove(&leg) {
            let port = p.rtp_port();
            self.by_port.remove(&port);
            self.by_port.remove(&port.wrapping_add(1));
            self.freed_ports.push_back(port);
            true
        } else {
            false
        };
        if removed {
            let peers = self
                .legs
                .values_mut()
                .map(|l| &mut l.peer)
                .chain(self.plain.values_mut().map(|p| &mut p.peer));
            for peer in peers {
                if *peer == Some(leg) {
                    *peer = None;
                }
            }
            self.events.push_back(MediaEvent::Closed { leg });
        }
    }

    pub fn stats(&self, leg: LegId) -> Option<LegStats> {
        match self.legs.get(&leg) {
            Some(l) => Some(l.stats),
            None => self.plain.get(&leg).map(|p| p.stats),
        }
    }

    pub fn is_connected(&self, leg: LegId) -> bool {
        match self.legs.get(&leg) {
            Some(l) => l.connected,
            None => self.plain.get(&leg).is_some_and(|p| p.connected),
        }
    }

    pub fn leg_count(&self) -> usize {
        self.legs.len() + self.plain.len()
    }

    /// Feeds one datagram received on a media socket (`destination`: the local address it
    /// arrived on). Junk is dropped silently.
    pub fn handle_receive(
        &mut self,
        source: SocketAddr,
        destination: SocketAddr,
        bytes: &[u8],
        now: Instant,
    ) {
        let port = destination.port();
        if port != self.config.candidate_addr.port() {
            if let Some(&(leg, rtcp)) = self.by_port.get(&port) {
                self.receive_plain(leg, rtcp, source, bytes, now);
                return;
            }
        }
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

    /// A datagram on one of an RTP leg's ports: RTCP is counted; RTP from the latched source
    /// is noted and forwarded straight from the receive buffer.
    fn receive_plain(
        &mut self,
        leg: LegId,
        rtcp: bool,
        source: SocketAddr,
        bytes: &[u8],
        now: Instant,
    ) {
        let Some(p) = self.plain.get_mut(&leg) else {
            return;
        };
        if rtcp || !srtp::is_rtp(bytes) {
            // RTCP on the RTP port too: RFC 5761 muxing, which some phones do unasked.
            p.receive_rtcp(source, bytes, now);
            return;
        }
        let Some(header_len) = srtp::rtp_header_len(bytes) else {
            return;
        };
        let mut end = bytes.len();
        if bytes[0] & 0x20 != 0 {
            // RFC 3550 §5.1 padding: its length is the last octet.
            let pad = bytes[end - 1] as usize;
            if pad == 0 || header_len + pad > end {
                return;
            }
            end -= pad;
        }
        let payload = &bytes[header_len..end];
        let seq = u16::from_be_bytes([bytes[2], bytes[3]]);
        let rtp_time = u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
        let ssrc = u32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        if !p.admit(source, ssrc) {
            return;
        }
        let index = p.rx.extend_seq(seq);
        let pt = bytes[1] & 0x7f;
        let kind = note_rtp_in(
            leg,
            &mut p.stats,
            &mut p.rx,
            &p.rx_kinds,
            index,
            pt,
            rtp_time,
            payload,
            &mut self.events,
        );
        let Some(kind) = kind else {
            return;
        };
        let to = match p.peer {
            Some(to) if !p.muted && !p.held && p.receiving() => to,
            _ => {
                p.stats.not_forwarded += 1;
                return;
            }
        };
        let meta = Meta {
            from: leg,
            to,
            kind,
            rtp_time,
            marker: bytes[1] & 0x80 != 0,
            ssrc,
            arrival: now,
            level: None,
        };
        self.deliver(meta, &mut Payload::Borrowed(payload), now);
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
        let ssrc = u32::from_be_bytes([header[8], header[9], header[10], header[11]]);
        let pt = header[1] & 0x7f;
        let level = a
            .ext_level
            .and_then(|id| srtp::one_byte_ext(header, id))
            .and_then(|v| v.first().copied());
        let kind = note_rtp_in(
            from,
            &mut a.stats,
            &mut a.rx,
            &a.rx_kinds,
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
                ssrc,
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
    /// it, else written into the peer's str0m, or sent as plain RTP to a phone; relayed when
    /// the peer is on another shard.
    fn deliver(&mut self, m: Meta, payload: &mut Payload<'_>, now: Instant) {
        if let Some(to) = self.plain.get_mut(&m.to) {
            if m.kind == PayloadKind::Opus {
                // A phone takes G.711 only.
                let transmits = &mut self.transmits;
                let written = to.transcode(&m, payload.bytes(), &mut self.buffers, now, &mut |d| {
                    transmits.push_back(d)
                });
                self.tapped(&m, payload, written);
                self.count_forward(m.from, written, false);
                if written {
                    if let Some(stats) = self.stats_mut(m.from) {
                        stats.transcoded += 1;
                    }
                }
                return;
            }
            let d = to.forward(&m, payload.bytes(), &mut self.buffers, now);
            let written = d.is_some();
            if let Some(d) = d {
                self.transmits.push_back(d);
            }
            self.tapped(&m, payload, written);
            self.count_forward(m.from, written, false);
            return;
        }
        let Some(to) = self.legs.get_mut(&m.to) else {
            let shard = Self::shard_of(m.to, self.config.shards);
            if shard != self.config.shard {
                if let Some(stats) = self.stats_mut(m.from) {
                    stats.forwarded += 1;
                }
                let payload = payload.shared();
                self.relay
                    .push_back((shard, Relayed(Forward { meta: m, payload })));
            }
            return;
        };
        // Hold tone and DTMF own the outgoing stream while they play.
        let busy = to.held || to.dtmf_tx.as_ref().is_some_and(DtmfTx::playing);
        let transcode = to.tx_pt(m.kind).is_none() && audio_codec(m.kind).is_some();
        if transcode && !busy {
            let written = self.transcode_to_webrtc(&m, payload.bytes(), now);
            self.tapped(&m, payload, written);
            self.count_forward(m.from, written, false);
            if written {
                if let Some(stats) = self.stats_mut(m.from) {
                    stats.transcoded += 1;
                }
            }
            return;
        }
        let (written, direct) = match (to.tx_pt(m.kind), busy) {
            (Some((pt, convert)), false) => {
                if let Some(converted) = convert.apply(payload.bytes()) {
                    *payload = Payload::Shared(converted);
                }
                match to.seal(pt, &m, payload.bytes(), &mut self.buffers, now) {
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
                }
            }
            _ => (false, false),
        };
        self.tapped(&m, payload, written);
        self.count_forward(m.from, written, direct);
    }

    /// Audio `m.to` (a browser) cannot take, through its transcoder: each 20 ms frame that
    /// comes out is sealed with our SRTP (or written into str0m before the keys are ready) in
    /// the leg's own sequence space, continuing its timestamps.
    fn transcode_to_webrtc(&mut self, m: &Meta, payload: &[u8], now: Instant) -> bool {
        let from = match m.kind {
            PayloadKind::Opus => Tc::Opus,
            PayloadKind::Pcmu => Tc::G711(Law::Ulaw),
            PayloadKind::Pcma => Tc::G711(Law::Alaw),
            PayloadKind::Tele(_) => return false,
        };
        let Some(to) = self.legs.get_mut(&m.to) else {
            return false;
        };
        let Some((pt, target)) = to.transcode_target() else {
            return false;
        };
        let mut t = match to.transcoder.take() {
            Some(t) if t.converts(from, target) => t,
            _ => match Transcoder::new(from, target) {
                Ok(t) => t,
                Err(e) => {
                    tracing::warn!(leg = %m.to, "no transcoder: {e}");
                    return false;
                }
            },
        };
        t.push(m.from, m.ssrc, m.rtp_time, payload);
        let kind = match target {
            Tc::Opus => PayloadKind::Opus,
            Tc::G711(Law::Ulaw) => PayloadKind::Pcmu,
            Tc::G711(Law::Alaw) => PayloadKind::Pcma,
        };
        let mut through_str0m = false;
        loop {
            let last = match to.last_tx {
                Some((ts, _, Source::Forward)) => Some(ts),
                _ => None,
            };
            let start = to.own_rtp_time(now, Source::Forward);
            let Some(f) = t.next_frame(last, start) else {
                break;
            };
            let meta = Meta {
                from: m.from,
                to: m.to,
                kind,
                rtp_time: f.rtp_time,
                marker: f.marker,
                ssrc: m.ssrc,
                arrival: now,
                level: None,
            };
            match to.seal(pt, &meta, f.payload, &mut self.buffers, now) {
                Some(d) => self.transmits.push_back(d),
                None => {
                    // Before the direct path is ready only (the first packets of a leg).
                    through_str0m |= to.write(
                        pt,
                        f.rtp_time,
                        now,
                        f.marker,
                        ExtensionValues::default(),
                        Arc::from(f.payload),
                        now,
                        Source::Forward,
                    );
                }
            }
        }
        to.transcoder = Some(t);
        if through_str0m {
            self.flush(m.to, now);
        }
        true
    }

    /// Hands a forwarded packet to the recording tap.
    fn tapped(&mut self, m: &Meta, payload: &mut Payload<'_>, written: bool) {
        if let (true, Some(tap)) = (written, &mut self.tap) {
            tap(&TapPacket {
                from: m.from,
                to: m.to,
                kind: m.kind,
                rtp_time: m.rtp_time,
                payload: payload.shared(),
            });
        }
    }

    fn count_forward(&mut self, from: LegId, written: bool, direct: bool) {
        if let Some(stats) = self.stats_mut(from) {
            if written {
                stats.forwarded += 1;
                stats.forwarded_direct += direct as u64;
            } else {
                stats.not_forwarded += 1;
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

    /// Advances time: str0m timers, the hold tone, DTMF generators and RTCP of RTP legs.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((at, leg))) = self.heap.peek().copied() {
            if at > now {
                break;
            }
            self.heap.pop();
            if let Some(p) = self.plain.get_mut(&leg) {
                if p.scheduled != Some(at) {
                    continue;
                }
                p.scheduled = None;
                self.generate_plain(leg, now);
                self.schedule(leg);
                continue;
            }
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
        let (at, scheduled) = if let Some(l) = self.legs.get_mut(&leg) {
            (l.wake_at(), &mut l.scheduled)
        } else if let Some(p) = self.plain.get_mut(&leg) {
            (p.wake_at(), &mut p.scheduled)
        } else {
            return;
        };
        if scheduled.is_none_or(|s| at < s) {
            *scheduled = Some(at);
            self.heap.push(Reverse((at, leg)));
        }
    }

    /// NTP time of `now` (RFC 3550 §4), for RTCP.
    fn ntp(&self, now: Instant) -> u64 {
        let (at, wall) = self.epoch;
        let wall = match now.checked_duration_since(at) {
            Some(d) => wall + d,
            None => wall - at.duration_since(now),
        };
        plain::ntp_time(wall)
    }

    /// Tone, digits and RTCP due on an RTP leg.
    fn generate_plain(&mut self, leg: LegId, now: Instant) {
        let ntp = self.ntp(now);
        let Some(p) = self.plain.get_mut(&leg) else {
            return;
        };
        let transmits = &mut self.transmits;
        p.generate(now, &self.g711_tone, ntp, &mut self.buffers, &mut |d| {
            transmits.push_back(d)
        });
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
                    local_port: None,
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
        if l.dtmf_tx.is_some() && l.tx_tele.is_none() {
            // The peer negotiated no telephone-event: drop the digits.
            l.dtmf_tx = None;
        }
        let start = l.own_rtp_time(now, Source::Dtmf);
        if let (Some(tx), Some((pt, rate))) = (&mut l.dtmf_tx, l.tx_tele) {
            let tick = tx.tick(now, start);
            if tx.finished(now) {
                l.dtmf_tx = None;
            }
            if let Some(tick) = tick {
                let payload: Arc<[u8]> = Arc::from(&tick.payload(rate)[..]);
                wrote = l.write(
                    pt,
                    tick.rtp_time,
                    now,
                    tick.first,
                    ExtensionValues::default(),
                    payload.clone(),
                    now,
                    Source::Dtmf,
                );
                tapped = Some(TapPacket {
                    from: leg,
                    to: leg,
                    kind: PayloadKind::Tele(rate),
                    rtp_time: tick.rtp_time,
                    payload,
                });
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
                let dtmf_playing = l.dtmf_tx.as_ref().is_some_and(DtmfTx::playing);
                // The tone in the codec the browser talks in: G.711 to one that sends G.711.
                let g711 = match l.sends {
                    Some(AudioCodec::Pcmu) => l.tx_pcmu.map(|p| (p, Law::Ulaw)),
                    Some(AudioCodec::Pcma) => l.tx_pcma.map(|p| (p, Law::Alaw)),
                    _ => None,
                };
                let tone = match g711 {
                    Some((pt, law)) => Some((pt, self.g711_tone.frame(law, l.tone_index).clone())),
                    None => l
                        .tx_opus
                        .map(|pt| (pt, self.tone.packet(l.tone_index).clone())),
                };
                if let (Some((pt, payload)), false) = (tone, dtmf_playing) {
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

/// Bookkeeping for one incoming RTP packet, on any path and leg kind: counters, loss, the
/// first-media event and incoming digits (reported once per event: its reports and the three
/// end reports share one timestamp). Returns the payload's codec, or `None` if it is not one
/// we forward.
#[allow(clippy::too_many_arguments)]
fn note_rtp_in(
    leg: LegId,
    stats: &mut LegStats,
    rx: &mut RxBook,
    kinds: &[Option<PayloadKind>; 128],
    index: u64,
    pt: u8,
    rtp_time: u32,
    payload: &[u8],
    events: &mut VecDeque<MediaEvent>,
) -> Option<PayloadKind> {
    stats.rtp_in += 1;
    stats.bytes_in += payload.len() as u64;
    match rx.highest_seq_in {
        Some(h) if index > h => {
            stats.lost_in += index - h - 1;
            rx.highest_seq_in = Some(index);
        }
        Some(_) => {}
        None => rx.highest_seq_in = Some(index),
    }
    if !rx.media_started {
        rx.media_started = true;
        events.push_back(MediaEvent::MediaStarted { leg });
    }
    let Some(kind) = kinds.get(pt as usize).copied().flatten() else {
        stats.not_forwarded += 1;
        return None;
    };
    if let PayloadKind::Tele(_) = kind {
        if rx.last_dtmf_rx != Some(rtp_time) {
            if let Some(digit) = Report::parse(payload).and_then(|r| dtmf_digit(r.event)) {
                rx.last_dtmf_rx = Some(rtp_time);
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
    let index = *p.seq_no;
    let (stats, rx, kinds) = (&mut l.stats, &mut l.rx, &l.rx_kinds);
    let Some(kind) = note_rtp_in(
        leg, stats, rx, kinds, index, pt, rtp_time, &p.payload, events,
    ) else {
        return;
    };
    if let Some(to) = forward_target(l) {
        let meta = Meta {
            from: leg,
            to,
            kind,
            rtp_time,
            marker: h.marker,
            ssrc: *h.ssrc,
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
