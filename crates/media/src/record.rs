//! Call recording: each party's Opus packets are remuxed into one Ogg Opus stream with two mono
//! streams (channel mapping family 1, RFC 7845 §5.1.1), caller left and callee right. A party
//! that talks G.711 (a phone, or a browser bridged to one) is decoded to 8 kHz PCM and encoded
//! to Opus here, on the recorder's thread, in 20 ms frames whatever its packet time, so its
//! side is heard too; digits are left out. The first stream's packet is converted to
//! self-delimiting framing (RFC 6716 Appendix B) so both fit in one Ogg packet.
//!
//! The recorder is a thread fed by a bounded channel from the media tap ([`Recorder::tap`]):
//! the forwarding path only does a `try_send` and counts drops. A 20 ms slot clock (started at
//! the first attach, 60 ms behind real time to absorb jitter) takes one packet per party per
//! slot, or a zero-length (lost) frame when a party sent nothing (hold, transfer, loss). Pages
//! are flushed to the file at least every second, so a `kill -9` leaves a playable file.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::codec::{OpusEncoder, MAX_PACKET};
use crate::core::{LegId, PayloadKind, Tap, TapPacket};
use crate::g711::Law;

const SLOT: Duration = Duration::from_millis(20);
const SLOT_SAMPLES: u64 = 960;
/// Slots held back from real time so late packets still land in their slot.
const LAG_SLOTS: u64 = 3;
/// Packets queued per party before the oldest is dropped (bounds latency and memory).
const MAX_QUEUED: usize = 10;
/// Audio pages are written at least this often (50 × 20 ms = 1 s).
const PACKETS_PER_PAGE: usize = 50;
/// A lost 20 ms CELT fullband mono frame (TOC config 31, code 0, no data).
const LOST_TOC: u8 = 31 << 3;

/// What the telephony side tells the recorder thread.
#[derive(Debug)]
pub enum RecordControl {
    /// Start (or continue) recording `key` into `path`; `leg` is heard on `channel` (0 or 1).
    Attach {
        key: String,
        path: PathBuf,
        leg: LegId,
        channel: usize,
    },
    /// `leg` left the call; the recording ends when it has no legs left.
    Detach { leg: LegId },
}

/// A recording that ended (its file is complete).
#[derive(Debug, Clone)]
pub struct RecordDone {
    pub key: String,
    pub path: PathBuf,
    pub bytes: u64,
    pub duration: Duration,
}

/// Handle of the recorder thread.
#[derive(Clone)]
pub struct Recorder {
    packets: SyncSender<TapPacket>,
    control: mpsc::Sender<RecordControl>,
    dropped: Arc<AtomicU64>,
}

impl Recorder {
    /// Spawns the recorder thread. `queue` bounds the packets in flight from the media task;
    /// finished recordings are reported on the returned receiver.
    pub fn start(queue: usize) -> io::Result<(Recorder, Receiver<RecordDone>)> {
        let (packets, prx) = mpsc::sync_channel(queue);
        let (control, crx) = mpsc::channel();
        let (done_tx, done) = mpsc::channel();
        std::thread::Builder::new()
            .name("recorder".into())
            .spawn(move || run(prx, crx, done_tx))?;
        Ok((
            Recorder {
                packets,
                control,
                dropped: Arc::new(AtomicU64::new(0)),
            },
            done,
        ))
    }

    /// The media tap: hands each audio packet (Opus or G.711) off without blocking, dropping it
    /// when full. Digits are left out here, before any copy.
    pub fn tap(&self) -> Tap {
        let tx = self.packets.clone();
        let dropped = self.dropped.clone();
        Box::new(move |p: &TapPacket| {
            if !matches!(p.kind, PayloadKind::Tele(_)) && tx.try_send(p.clone()).is_err() {
                dropped.fetch_add(1, Ordering::Relaxed);
            }
        })
    }

    pub fn control(&self, c: RecordControl) {
        let _ = self.control.send(c);
    }

    /// Packets the tap dropped because the recorder fell behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

struct Recording {
    key: String,
    path: PathBuf,
    ogg: OggWriter<BufWriter<File>>,
    legs: Vec<LegId>,
    queues: [VecDeque<Arc<[u8]>>; 2],
    /// A G.711 party's way into the Opus stream, per channel (made at its first packet).
    g711: [Option<G711Channel>; 2],
    started: Instant,
    slots: u64,
    scratch: Vec<u8>,
}

impl Recording {
    fn open(key: String, path: PathBuf, now: Instant) -> io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut ogg = OggWriter::new(BufWriter::new(File::create(&path)?), rand_serial());
        ogg.write_headers()?;
        Ok(Recording {
            key,
            path,
            ogg,
            legs: Vec::new(),
            queues: [VecDeque::new(), VecDeque::new()],
            g711: [None, None],
            started: now,
            slots: 0,
            scratch: Vec::with_capacity(1024),
        })
    }

    fn push(&mut self, channel: usize, payload: Arc<[u8]>) {
        let q = &mut self.queues[channel];
        if q.len() >= MAX_QUEUED {
            q.pop_front();
        }
        q.push_back(payload);
    }

    /// G.711 from the party on `channel`: decoded, and encoded to Opus 20 ms at a time.
    fn push_g711(&mut self, channel: usize, law: Law, payload: &[u8]) {
        if self.g711[channel].is_none() {
            match OpusEncoder::voip(8000) {
                Ok(encoder) => {
                    self.g711[channel] = Some(G711Channel {
                        encoder,
                        pcm: Vec::with_capacity(2 * G711_FRAME),
                        out: vec![0; MAX_PACKET],
                    })
                }
                Err(e) => {
                    tracing::warn!(key = %self.key, "no Opus encoder for a G.711 party: {e}");
                    return;
                }
            }
        }
        let Some(c) = self.g711[channel].as_mut() else {
            return;
        };
        c.pcm.extend(payload.iter().map(|&b| law.decode(b)));
        while c.pcm.len() >= G711_FRAME {
            let n = c.encoder.encode(&c.pcm[..G711_FRAME], &mut c.out);
            c.pcm.drain(..G711_FRAME);
            match n {
                Ok(n) => {
                    let q = &mut self.queues[channel];
                    if q.len() >= MAX_QUEUED {
                        q.pop_front();
                    }
                    q.push_back(Arc::from(&c.out[..n]));
                }
                Err(e) => tracing::debug!(key = %self.key, "G.711 frame not encoded: {e}"),
            }
        }
    }

    /// Writes every slot that is due; `all` drains to the end (closing).
    fn emit(&mut self, now: Instant, all: bool) -> io::Result<()> {
        let elapsed = now.saturating_duration_since(self.started).as_millis() as u64 / 20;
        let due = if all {
            elapsed.max(self.slots)
        } else {
            elapsed.saturating_sub(LAG_SLOTS)
        };
        while self.slots < due {
            self.scratch.clear();
            let a = self.queues[0].pop_front();
            let b = self.queues[1].pop_front();
            match a.as_deref().filter(|p| !p.is_empty()) {
                Some(p) if self_delimited(p, &mut self.scratch) => {}
                _ => {
                    self.scratch.clear();
                    self.scratch.extend_from_slice(&[LOST_TOC, 0]);
                }
            }
            match b.as_deref().filter(|p| !p.is_empty()) {
                Some(p) => self.scratch.extend_from_slice(p),
                None => self.scratch.push(LOST_TOC),
            }
            self.slots += 1;
            self.ogg
                .packet(&self.scratch, self.slots * SLOT_SAMPLES, PACKETS_PER_PAGE)?;
        }
        Ok(())
    }

    fn finish(mut self, now: Instant) -> io::Result<RecordDone> {
        self.emit(now, true)?;
        self.ogg.finish()?;
        let bytes = self.ogg.written;
        Ok(RecordDone {
            key: self.key,
            path: self.path,
            bytes,
            duration: SLOT * self.slots as u32,
        })
    }
}

/// 20 ms of 8 kHz G.711.
const G711_FRAME: usize = 160;

/// One G.711 party of a recording: its PCM waiting for a whole frame, and the encoder.
struct G711Channel {
    encoder: OpusEncoder,
    pcm: Vec<i16>,
    out: Vec<u8>,
}

fn rand_serial() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
    );
    h.finish() as u32
}

/// Applies one control message; returns the recordings it ended.
///
/// A leg is in one recording at a time. An attended transfer bridges the parties of two calls
/// to each other, and both join the first call's recording: a party that moves leaves the
/// recording it was in, which ends once nobody is left in it (else its file would stay open
/// for ever, its party gone without a detach for it).
fn apply(
    recs: &mut HashMap<String, Recording>,
    legs: &mut HashMap<LegId, (String, usize)>,
    c: RecordControl,
    now: Instant,
) -> Vec<RecordDone> {
    let mut ended = Vec::new();
    match c {
        RecordControl::Attach {
            key,
            path,
            leg,
            channel,
        } => {
            if legs.get(&leg).is_some_and(|(k, _)| *k != key) {
                ended.extend(leave(recs, legs, leg, now));
            }
            if !recs.contains_key(&key) {
                match Recording::open(key.clone(), path, now) {
                    Ok(r) => {
                        recs.insert(key.clone(), r);
                    }
                    Err(e) => {
                        tracing::warn!(%key, "recording not started: {e}");
                        return ended;
                    }
                }
            }
            let r = recs.get_mut(&key).expect("present");
            if !r.legs.contains(&leg) {
                r.legs.push(leg);
            }
            legs.insert(leg, (key, channel.min(1)));
        }
        RecordControl::Detach { leg } => ended.extend(leave(recs, legs, leg, now)),
    }
    ended
}

/// Takes `leg` out of its recording, finishing the recording when it was the last one in.
fn leave(
    recs: &mut HashMap<String, Recording>,
    legs: &mut HashMap<LegId, (String, usize)>,
    leg: LegId,
    now: Instant,
) -> Option<RecordDone> {
    let (key, _) = legs.remove(&leg)?;
    let r = recs.get_mut(&key)?;
    r.legs.retain(|l| *l != leg);
    if !r.legs.is_empty() {
        return None;
    }
    let r = recs.remove(&key).expect("present");
    match r.finish(now) {
        Ok(d) => Some(d),
        Err(e) => {
            tracing::warn!(%key, "recording not finished: {e}");
            None
        }
    }
}

fn run(
    packets: Receiver<TapPacket>,
    control: Receiver<RecordControl>,
    done: mpsc::Sender<RecordDone>,
) {
    let mut recs: HashMap<String, Recording> = HashMap::new();
    let mut legs: HashMap<LegId, (String, usize)> = HashMap::new();
    let mut next_tick = Instant::now() + SLOT;
    loop {
        // Control first: an attach must be in place before its packets are sorted.
        loop {
            match control.try_recv() {
                Ok(c) => {
                    for d in apply(&mut recs, &mut legs, c, Instant::now()) {
                        let _ = done.send(d);
                    }
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return,
            }
        }
        let wait = next_tick.saturating_duration_since(Instant::now());
        match packets.recv_timeout(wait) {
            Ok(p) => {
                sort(&mut recs, &legs, p);
                while let Ok(p) = packets.try_recv() {
                    sort(&mut recs, &legs, p);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        let now = Instant::now();
        if now >= next_tick {
            next_tick = now + SLOT;
            for r in recs.values_mut() {
                if let Err(e) = r.emit(now, false) {
                    tracing::warn!(key = %r.key, "recording write failed: {e}");
                }
            }
        }
    }
}

/// Files a tapped packet under the recording and channel of the party it comes from. Tone
/// packets (sent to a leg by the server) count for the other party, whose place they take.
fn sort(
    recs: &mut HashMap<String, Recording>,
    legs: &HashMap<LegId, (String, usize)>,
    p: TapPacket,
) {
    let Some((key, ch)) = legs.get(&p.from) else {
        return;
    };
    let ch = if p.from == p.to { 1 - ch } else { *ch };
    let Some(r) = recs.get_mut(key) else {
        return;
    };
    match p.kind {
        // Opus is remuxed as it came.
        PayloadKind::Opus => r.push(ch, p.payload),
        PayloadKind::Pcmu => r.push_g711(ch, Law::Ulaw, &p.payload),
        PayloadKind::Pcma => r.push_g711(ch, Law::Alaw, &p.payload),
        // Digits would be garbage in an Opus stream.
        PayloadKind::Tele(_) => {}
    }
}

fn push_len(out: &mut Vec<u8>, n: usize) {
    if n < 252 {
        out.push(n as u8);
    } else {
        let first = 252 + (n & 3);
        out.push(first as u8);
        out.push(((n - first) >> 2) as u8);
    }
}

/// Reads a frame length (RFC 6716 §3.2.1); returns (length, bytes used).
fn read_len(b: &[u8]) -> Option<(usize, usize)> {
    match *b.first()? {
        n @ 0..=251 => Some((n as usize, 1)),
        n => Some((n as usize + 4 * *b.get(1)? as usize, 2)),
    }
}

/// Appends `p` in self-delimiting framing (RFC 6716 Appendix B): the packet with one more
/// length field that says how long its last (or only, or every CBR) frame is. False if `p`
/// is malformed.
pub fn self_delimited(p: &[u8], out: &mut Vec<u8>) -> bool {
    let Some(&toc) = p.first() else {
        return false;
    };
    let start = out.len();
    out.push(toc);
    let ok = (|| -> Option<()> {
        match toc & 3 {
            0 => {
                push_len(out, p.len() - 1);
                out.extend_from_slice(&p[1..]);
            }
            1 => {
                let body = p.len() - 1;
                if body % 2 != 0 {
                    return None;
                }
                push_len(out, body / 2);
                out.extend_from_slice(&p[1..]);
            }
            2 => {
                let (n1, used) = read_len(&p[1..])?;
                let rest = p.len().checked_sub(1 + used + n1)?;
                out.extend_from_slice(&p[1..1 + used]);
                push_len(out, rest);
                out.extend_from_slice(&p[1 + used..]);
            }
            _ => {
                let fc = *p.get(1)?;
                let (vbr, padded, count) = (fc & 0x80 != 0, fc & 0x40 != 0, (fc & 0x3f) as usize);
                if count == 0 {
                    return None;
                }
                let mut i = 2;
                let mut padding = 0usize;
                if padded {
                    loop {
                        let b = *p.get(i)?;
                        i += 1;
                        padding += if b == 255 { 254 } else { b as usize };
                        if b != 255 {
                            break;
                        }
                    }
                }
                let mut sum = 0;
                if vbr {
                    for _ in 0..count - 1 {
                        let (n, used) = read_len(p.get(i..)?)?;
                        sum += n;
                        i += used;
                    }
                }
                let data = p.len().checked_sub(i + padding)?;
                let last = if vbr {
                    data.checked_sub(sum)?
                } else {
                    if data % count != 0 {
                        return None;
                    }
                    data / count
                };
                out.extend_from_slice(&p[1..i]);
                push_len(out, last);
                out.extend_from_slice(&p[i..]);
            }
        }
        Some(())
    })();
    if ok.is_none() {
        out.truncate(start);
    }
    ok.is_some()
}

/// A minimal Ogg (RFC 3533) writer for one logical Opus stream.
pub struct OggWriter<W: Write> {
    out: W,
    serial: u32,
    seq: u32,
    /// Segment table and body of the page being filled.
    lacing: Vec<u8>,
    body: Vec<u8>,
    packets: usize,
    granule: u64,
    first: bool,
    /// Bytes written to `out` so far.
    pub written: u64,
}

impl<W: Write> OggWriter<W> {
    pub fn new(out: W, serial: u32) -> Self {
        OggWriter {
            out,
            serial,
            seq: 0,
            lacing: Vec::with_capacity(255),
            body: Vec::with_capacity(16 * 1024),
            packets: 0,
            granule: 0,
            first: true,
            written: 0,
        }
    }

    /// OpusHead (2 channels, two uncoupled streams) and OpusTags, each on its own page.
    pub fn write_headers(&mut self) -> io::Result<()> {
        let mut head = Vec::with_capacity(21);
        head.extend_from_slice(b"OpusHead");
        head.push(1);
        head.push(2);
        head.extend_from_slice(&0u16.to_le_bytes());
        head.extend_from_slice(&48_000u32.to_le_bytes());
        head.extend_from_slice(&0i16.to_le_bytes());
        head.extend_from_slice(&[1, 2, 0, 0, 1]);
        self.packet(&head, 0, 1)?;
        let vendor = b"switchboard";
        let mut tags = Vec::new();
        tags.extend_from_slice(b"OpusTags");
        tags.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
        tags.extend_from_slice(vendor);
        tags.extend_from_slice(&0u32.to_le_bytes());
        self.packet(&tags, 0, 1)
    }

    /// Adds a packet ending at `granule`; the page goes out after `per_page` packets or when
    /// its segment table is full.
    pub fn packet(&mut self, data: &[u8], granule: u64, per_page: usize) -> io::Result<()> {
        let segments = data.len() / 255 + 1;
        if self.lacing.len() + segments > 255 {
            self.flush_page(false)?;
        }
        let mut n = data.len();
        while n >= 255 {
            self.lacing.push(255);
            n -= 255;
        }
        self.lacing.push(n as u8);
        self.body.extend_from_slice(data);
        self.granule = granule;
        self.packets += 1;
        if self.packets >= per_page {
            self.flush_page(false)?;
        }
        Ok(())
    }

    fn flush_page(&mut self, last: bool) -> io::Result<()> {
        if self.lacing.is_empty() && !last {
            return Ok(());
        }
        let mut flags = 0u8;
        if self.first {
            flags |= 2;
        }
        if last {
            flags |= 4;
        }
        let mut page = Vec::with_capacity(27 + self.lacing.len() + self.body.len());
        page.extend_from_slice(b"OggS");
        page.push(0);
        page.push(flags);
        page.extend_from_slice(&self.granule.to_le_bytes());
        page.extend_from_slice(&self.serial.to_le_bytes());
        page.extend_from_slice(&self.seq.to_le_bytes());
        page.extend_from_slice(&[0; 4]);
        page.push(self.lacing.len() as u8);
        page.extend_from_slice(&self.lacing);
        page.extend_from_slice(&self.body);
        let crc = ogg_crc(&page);
        page[22..26].copy_from_slice(&crc.to_le_bytes());
        self.out.write_all(&page)?;
        self.out.flush()?;
        self.written += page.len() as u64;
        self.seq += 1;
        self.first = false;
        self.lacing.clear();
        self.body.clear();
        self.packets = 0;
        Ok(())
    }

    /// Writes what is pending as the last page (end of stream).
    pub fn finish(&mut self) -> io::Result<()> {
        self.flush_page(true)
    }
}

/// Ogg's CRC-32 (polynomial 0x04c11db7, no reflection, zero init).
fn ogg_crc(data: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let t = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (i, e) in t.iter_mut().enumerate() {
            let mut r = (i as u32) << 24;
            for _ in 0..8 {
                r = if r & 0x8000_0000 != 0 {
                    (r << 1) ^ 0x04c1_1db7
                } else {
                    r << 1
                };
            }
            *e = r;
        }
        t
    });
    data.iter().fold(0u32, |crc, &b| {
        (crc << 8) ^ t[((crc >> 24) as u8 ^ b) as usize]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_g711_party_is_encoded_into_the_recording_and_digits_are_left_out() {
        use crate::codec::OpusDecoder;
        let dir = std::env::temp_dir().join(format!("sb-rec-g711-{}", std::process::id()));
        let path = dir.join("call.ogg");
        let now = Instant::now();
        let mut recs = HashMap::new();
        recs.insert(
            "k".to_string(),
            Recording::open("k".into(), path, now).unwrap(),
        );
        let mut legs = HashMap::new();
        legs.insert(LegId(1), ("k".to_string(), 0));
        legs.insert(LegId(2), ("k".to_string(), 1));
        // A 1 kHz tone from a phone in 30 ms packets (µ-law), A-law from the other party.
        let tone: Vec<i16> = (0..240 * 5)
            .map(|i| (8000.0 * (2.0 * std::f64::consts::PI * i as f64 / 8.0).sin()) as i16)
            .collect();
        for (i, chunk) in tone.chunks(240).enumerate() {
            for (from, law, kind) in [
                (1, Law::Ulaw, PayloadKind::Pcmu),
                (2, Law::Alaw, PayloadKind::Pcma),
            ] {
                let payload: Vec<u8> = chunk.iter().map(|&s| law.encode(s)).collect();
                let p = TapPacket {
                    from: LegId(from),
                    to: LegId(3 - from),
                    kind,
                    rtp_time: i as u32 * 240,
                    payload: Arc::from(&payload[..]),
                };
                sort(&mut recs, &legs, p);
            }
        }
        let digit = TapPacket {
            from: LegId(1),
            to: LegId(2),
            kind: PayloadKind::Tele(8000),
            rtp_time: 0,
            payload: Arc::from(&[1u8, 0, 0, 160][..]),
        };
        sort(&mut recs, &legs, digit);
        let r = recs.remove("k").unwrap();
        // 1200 samples: seven whole 20 ms frames a party (the rest waits for more).
        assert_eq!(r.queues[0].len(), 7);
        assert_eq!(r.queues[1].len(), 7);
        let mut dec = OpusDecoder::new(8000).unwrap();
        let mut pcm = [0i16; 960];
        let mut energy = 0.0;
        for (i, p) in r.queues[0].iter().enumerate() {
            assert_eq!(crate::codec::packet_samples(p, 48_000), Some(960));
            let n = dec.decode(p, &mut pcm).unwrap();
            if i >= 2 {
                energy += pcm[..n].iter().map(|&s| f64::from(s).powi(2)).sum::<f64>();
            }
        }
        let rms = (energy / (5.0 * 160.0)).sqrt();
        assert!(
            (4500.0..7000.0).contains(&rms),
            "the phone is heard: rms {rms}"
        );
        let done = r.finish(now + Duration::from_millis(200)).unwrap();
        assert_eq!(done.duration, Duration::from_millis(200));
        let bytes = std::fs::read(&done.path).unwrap();
        assert_eq!(&bytes[..4], b"OggS");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_party_bridged_into_another_call_leaves_its_first_recording() {
        let dir = std::env::temp_dir().join(format!("sb-rec-move-{}", std::process::id()));
        let (mut recs, mut legs) = (HashMap::new(), HashMap::new());
        let now = Instant::now();
        let attach = |key: &str, leg: u64, channel: usize| RecordControl::Attach {
            key: key.to_string(),
            path: dir.join(format!("{key}.ogg")),
            leg: LegId(leg),
            channel,
        };
        let detach = |leg: u64| RecordControl::Detach { leg: LegId(leg) };
        // Call 1: A's first leg (1) with B (2); call 2: A's second leg (3) with C (4).
        for c in [attach("one", 1, 0), attach("one", 2, 1)] {
            assert!(apply(&mut recs, &mut legs, c, now).is_empty());
        }
        for c in [attach("two", 3, 0), attach("two", 4, 1)] {
            assert!(apply(&mut recs, &mut legs, c, now).is_empty());
        }
        // The attended transfer: B and C are bridged, recorded under call 1.
        for c in [attach("one", 2, 0), attach("one", 4, 1)] {
            assert!(apply(&mut recs, &mut legs, c, now).is_empty());
        }
        assert_eq!(legs[&LegId(4)], ("one".to_string(), 1));
        assert!(apply(&mut recs, &mut legs, detach(1), now).is_empty());
        // A's second leg hangs up: nobody is left in call 2's recording.
        let ended = apply(&mut recs, &mut legs, detach(3), now);
        assert_eq!(
            ended.iter().map(|d| d.key.as_str()).collect::<Vec<_>>(),
            ["two"]
        );
        assert!(apply(&mut recs, &mut legs, detach(2), now).is_empty());
        let ended = apply(&mut recs, &mut legs, detach(4), now);
        assert_eq!(ended.len(), 1);
        assert_eq!(ended[0].key, "one");
        assert!(recs.is_empty() && legs.is_empty());
        // A party that moves into a call when it was the last one in its own ends that one.
        for c in [attach("three", 5, 0), attach("four", 6, 0)] {
            assert!(apply(&mut recs, &mut legs, c, now).is_empty());
        }
        let ended = apply(&mut recs, &mut legs, attach("four", 5, 1), now);
        assert_eq!(ended.len(), 1);
        assert_eq!(ended[0].key, "three");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn crc_matches_a_known_ogg_page() {
        assert_eq!(ogg_crc(b""), 0);
        assert_eq!(ogg_crc(b"123456789"), ogg_crc_bitwise(b"123456789"));
        // CRC-32/MPEG-2 without the init/xorout is this for "123456789".
        assert_eq!(ogg_crc(b"123456789"), 0x89a1_897f);
    }

    fn ogg_crc_bitwise(data: &[u8]) -> u32 {
        let mut crc = 0u32;
        for &b in data {
            crc ^= (b as u32) << 24;
            for _ in 0..8 {
                crc = if crc & 0x8000_0000 != 0 {
                    (crc << 1) ^ 0x04c1_1db7
                } else {
                    crc << 1
                };
            }
        }
        crc
    }

    #[test]
    fn self_delimiting_adds_the_last_frame_length() {
        let mut out = Vec::new();
        // Code 0: TOC, then the frame's length.
        assert!(self_delimited(&[0xf8, 1, 2, 3], &mut out));
        assert_eq!(out, [0xf8, 3, 1, 2, 3]);
        // Code 1: two equal frames, one length.
        out.clear();
        assert!(self_delimited(&[0xf9, 1, 2, 3, 4], &mut out));
        assert_eq!(out, [0xf9, 2, 1, 2, 3, 4]);
        // Code 2: first length kept, second added.
        out.clear();
        assert!(self_delimited(&[0xfa, 1, 9, 7, 7], &mut out));
        assert_eq!(out, [0xfa, 1, 2, 9, 7, 7]);
        // Code 3 CBR, 2 frames of 2 bytes.
        out.clear();
        assert!(self_delimited(&[0xfb, 2, 1, 2, 3, 4], &mut out));
        assert_eq!(out, [0xfb, 2, 2, 1, 2, 3, 4]);
        // Long frame: two-byte length.
        out.clear();
        let long = [vec![0xf8], vec![5; 300]].concat();
        assert!(self_delimited(&long, &mut out));
        assert_eq!((out[1], out[2]), (252, 12));
        out.clear();
        assert!(!self_delimited(&[0xf9, 1, 2, 3], &mut out));
        assert!(out.is_empty());
    }

    #[test]
    fn pages_carry_granules_and_flags() {
        let mut buf = Vec::new();
        let mut w = OggWriter::new(&mut buf, 7);
        w.write_headers().unwrap();
        for i in 1..=120u64 {
            w.packet(&[0xf8, 0, 0xf8], i * 960, 50).unwrap();
        }
        w.finish().unwrap();
        let mut pages = Vec::new();
        let mut at = 0;
        while at < buf.len() {
            assert_eq!(&buf[at..at + 4], b"OggS");
            let n = buf[at + 26] as usize;
            let body: usize = buf[at + 27..at + 27 + n].iter().map(|&x| x as usize).sum();
            let len = 27 + n + body;
            let mut page = buf[at..at + len].to_vec();
            let crc = u32::from_le_bytes(page[22..26].try_into().unwrap());
            page[22..26].copy_from_slice(&[0; 4]);
            assert_eq!(ogg_crc(&page), crc);
            let granule = u64::from_le_bytes(buf[at + 6..at + 14].try_into().unwrap());
            pages.push((buf[at + 5], granule, n));
            at += len;
        }
        assert_eq!(pages[0], (2, 0, 1));
        assert_eq!(pages[1], (0, 0, 1));
        assert_eq!(pages[2], (0, 50 * 960, 50));
        assert_eq!(pages[3], (0, 100 * 960, 50));
        assert_eq!(pages[4], (4, 120 * 960, 20));
    }
}
