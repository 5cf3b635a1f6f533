//! Our own SRTP for the forwarding path: RFC 3711 key derivation and RFC 7714 AEAD-AES-GCM.
//!
//! Why: forwarding through str0m costs two `Rtc` timeout passes, a queue and four output polls
//! per packet, more than the crypto itself. With the leg's DTLS-SRTP keys in hand the bridge
//! decrypts, rewrites the header and re-encrypts a packet in one step. str0m still runs
//! everything else on the leg (ICE, DTLS, RTCP, the tone and DTMF it writes): both share the
//! leg's sequence-number space, so the browser sees one stream.
//!
//! The keys come from the DTLS handshake str0m runs: [`crypto_provider`] wraps the aws-lc-rs
//! provider's DTLS so the keying material the handshake exports is also put into the leg's
//! [`KeySlot`].

use std::cell::RefCell;
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM, AES_256_GCM};
use str0m::crypto::dtls::{
    DtlsCert, DtlsImplError, DtlsInstance, DtlsOutput, DtlsProvider, DtlsVersion, ProtocolVersion,
    SrtpProfile,
};
use str0m::crypto::{CryptoError, CryptoProvider};

const TAG_LEN: usize = 16;
const SALT_LEN: usize = 12;
/// RFC 3711 §4.3.1 labels.
const LABEL_RTP_KEY: u8 = 0;
const LABEL_RTP_SALT: u8 = 2;
/// Packets older than this many indices behind the newest are refused (RFC 3711 §3.3.2).
const REPLAY_WINDOW: u64 = 64;

/// The keying material one leg's DTLS handshake exported, and the role it played.
pub(crate) struct Keying {
    profile: SrtpProfile,
    material: Vec<u8>,
    /// DTLS client: sends with the client half of the material.
    active: bool,
}

impl fmt::Debug for Keying {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the key bytes.
        write!(f, "Keying({:?}, active: {})", self.profile, self.active)
    }
}

/// Where a leg's DTLS instance puts the keys once the handshake is done.
#[derive(Debug, Default)]
pub(crate) struct KeySlot(OnceLock<Keying>);

impl KeySlot {
    pub(crate) fn get(&self) -> Option<&Keying> {
        self.0.get()
    }
}

thread_local! {
    /// The slot the next DTLS instance built on this thread writes to (see [`build_with_slot`]).
    static NEXT_SLOT: RefCell<Option<Arc<KeySlot>>> = const { RefCell::new(None) };
}

/// Runs `build` (which constructs one `Rtc`) so that its DTLS instance reports into a new slot.
pub(crate) fn build_with_slot<T>(build: impl FnOnce() -> T) -> (T, Arc<KeySlot>) {
    let slot = Arc::new(KeySlot::default());
    NEXT_SLOT.with(|s| *s.borrow_mut() = Some(slot.clone()));
    let built = build();
    NEXT_SLOT.with(|s| s.borrow_mut().take());
    (built, slot)
}

fn base() -> &'static CryptoProvider {
    static BASE: OnceLock<CryptoProvider> = OnceLock::new();
    BASE.get_or_init(str0m::crypto::from_feature_flags)
}

/// str0m's aws-lc-rs provider with a DTLS that also hands its SRTP keys to the leg.
pub(crate) fn crypto_provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    static DTLS: CapturingDtls = CapturingDtls;
    PROVIDER
        .get_or_init(|| {
            let mut p = base().clone();
            p.dtls_provider = &DTLS;
            Arc::new(p)
        })
        .clone()
}

#[derive(Debug)]
struct CapturingDtls;

impl DtlsProvider for CapturingDtls {
    fn generate_certificate(&self) -> Option<DtlsCert> {
        base().dtls_provider.generate_certificate()
    }

    fn new_dtls(
        &self,
        cert: &DtlsCert,
        now: Instant,
        dtls_version: DtlsVersion,
        mtu: Option<usize>,
    ) -> Result<Box<dyn DtlsInstance>, CryptoError> {
        let inner = base()
            .dtls_provider
            .new_dtls(cert, now, dtls_version, mtu)?;
        let slot = NEXT_SLOT.with(|s| s.borrow().clone());
        Ok(Box::new(CapturingInstance { inner, slot }))
    }
}

#[derive(Debug)]
struct CapturingInstance {
    inner: Box<dyn DtlsInstance>,
    slot: Option<Arc<KeySlot>>,
}

impl DtlsInstance for CapturingInstance {
    fn set_active(&mut self, active: bool) {
        self.inner.set_active(active)
    }

    fn handle_packet(&mut self, packet: &[u8]) -> Result<(), DtlsImplError> {
        self.inner.handle_packet(packet)
    }

    fn poll_output<'a>(&mut self, buf: &'a mut [u8]) -> DtlsOutput<'a> {
        let out = self.inner.poll_output(buf);
        if let (DtlsOutput::KeyingMaterial(km, profile), Some(slot)) = (&out, &self.slot) {
            let _ = slot.0.set(Keying {
                profile: *profile,
                material: km.to_vec(),
                active: self.inner.is_active(),
            });
        }
        out
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), DtlsImplError> {
        self.inner.handle_timeout(now)
    }

    fn send_application_data(&mut self, data: &[u8]) -> Result<usize, DtlsImplError> {
        self.inner.send_application_data(data)
    }

    fn is_active(&self) -> bool {
        self.inner.is_active()
    }

    fn protocol_version(&self) -> Option<ProtocolVersion> {
        self.inner.protocol_version()
    }

    fn is_closing(&self) -> bool {
        self.inner.is_closing()
    }

    fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    fn close(&mut self) -> Result<(), DtlsImplError> {
        self.inner.close()
    }
}

/// One direction of an AEAD SRTP session: the session key and salt (RFC 7714 §8).
struct Session {
    key: LessSafeKey,
    salt: [u8; SALT_LEN],
}

impl Session {
    fn nonce(&self, ssrc: u32, roc: u32, seq: u16) -> Nonce {
        let mut iv = [0u8; SALT_LEN];
        iv[2..6].copy_from_slice(&ssrc.to_be_bytes());
        iv[6..10].copy_from_slice(&roc.to_be_bytes());
        iv[10..12].copy_from_slice(&seq.to_be_bytes());
        for (b, s) in iv.iter_mut().zip(self.salt) {
            *b ^= s;
        }
        Nonce::assume_unique_for_key(iv)
    }
}

/// Receive state of the one stream a leg sends us (browsers send audio on one SSRC).
#[derive(Default)]
struct RxStream {
    ssrc: Option<u32>,
    /// Highest index (ROC << 16 | seq) authenticated so far, and the replay bitmap below it.
    highest: u64,
    seen: u64,
}

impl RxStream {
    /// RFC 3711 §3.3.1: the packet index closest to the highest one seen.
    fn guess_index(&self, ssrc: u32, seq: u16) -> u64 {
        if self.ssrc != Some(ssrc) {
            return seq as u64;
        }
        let roc = self.highest >> 16;
        let s_l = (self.highest & 0xffff) as i64;
        let seq_i = seq as i64;
        let roc = if s_l < 0x8000 {
            if seq_i - s_l > 0x8000 && roc > 0 {
                roc - 1
            } else {
                roc
            }
        } else if s_l - 0x8000 > seq_i {
            roc + 1
        } else {
            roc
        };
        (roc << 16) | seq as u64
    }

    fn is_replay(&self, ssrc: u32, index: u64) -> bool {
        if self.ssrc != Some(ssrc) || index > self.highest {
            return false;
        }
        let behind = self.highest - index;
        behind >= REPLAY_WINDOW || self.seen & (1 << behind) != 0
    }

    fn accept(&mut self, ssrc: u32, index: u64) {
        if self.ssrc != Some(ssrc) {
            self.ssrc = Some(ssrc);
            self.highest = index;
            self.seen = 1;
        } else if index > self.highest {
            let shift = index - self.highest;
            self.seen = if shift >= REPLAY_WINDOW {
                0
            } else {
                self.seen << shift
            } | 1;
            self.highest = index;
        } else {
            self.seen |= 1 << (self.highest - index);
        }
    }
}

/// Why a packet was not opened.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum OpenError {
    /// Not an RTP packet we can parse, or its tag does not verify: let str0m look at it.
    Unusable,
    /// Authentic but already seen (or too old): drop it.
    Replay,
}

/// An opened packet: where its parts are in the buffer that was opened.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Opened {
    pub header_len: usize,
    pub payload_len: usize,
    /// Extended sequence number (ROC << 16 | seq).
    pub index: u64,
}

/// A leg's SRTP in both directions, for the AEAD profiles (Chromium's and str0m's choice).
pub(crate) struct Srtp {
    tx: Session,
    rx: Session,
    rx_stream: RxStream,
}

impl Srtp {
    /// The leg's contexts, or `None` for a profile we leave to str0m (AES-CM with HMAC).
    pub(crate) fn new(keying: &Keying) -> Option<Srtp> {
        let (alg, key_len) = match keying.profile {
            SrtpProfile::AEAD_AES_256_GCM => (&AES_256_GCM, 32),
            SrtpProfile::AEAD_AES_128_GCM => (&AES_128_GCM, 16),
            _ => return None,
        };
        let m = &keying.material;
        if m.len() != 2 * key_len + 2 * SALT_LEN {
            return None;
        }
        // RFC 5764 §4.2: client key, server key, client salt, server salt.
        let half = |client: bool| -> Option<Session> {
            let k = if client { 0 } else { key_len };
            let s = 2 * key_len + if client { 0 } else { SALT_LEN };
            let master = &m[k..k + key_len];
            let master_salt = &m[s..s + SALT_LEN];
            let mut key = [0u8; 32];
            derive(master, master_salt, LABEL_RTP_KEY, &mut key[..key_len]);
            let mut salt = [0u8; SALT_LEN];
            derive(master, master_salt, LABEL_RTP_SALT, &mut salt);
            let key = LessSafeKey::new(UnboundKey::new(alg, &key[..key_len]).ok()?);
            Some(Session { key, salt })
        };
        Some(Srtp {
            tx: half(keying.active)?,
            rx: half(!keying.active)?,
            rx_stream: RxStream::default(),
        })
    }

    /// Authenticates and decrypts an SRTP packet in place. Padding is removed from the payload.
    pub(crate) fn open(&mut self, buf: &mut [u8]) -> Result<Opened, OpenError> {
        let header_len = rtp_header_len(buf).ok_or(OpenError::Unusable)?;
        if buf.len() < header_len + TAG_LEN {
            return Err(OpenError::Unusable);
        }
        let seq = u16::from_be_bytes([buf[2], buf[3]]);
        let ssrc = u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]);
        let index = self.rx_stream.guess_index(ssrc, seq);
        let nonce = self.rx.nonce(ssrc, (index >> 16) as u32, seq);
        let (header, body) = buf.split_at_mut(header_len);
        let plain = self
            .rx
            .key
            .open_in_place(nonce, Aad::from(&*header), body)
            .map_err(|_| OpenError::Unusable)?;
        let mut payload_len = plain.len();
        if header[0] & 0x20 != 0 {
            // RFC 3550 §5.1: the last octet counts the padding, itself included.
            let pad = plain.last().copied().unwrap_or(0) as usize;
            if pad == 0 || pad > payload_len {
                return Err(OpenError::Unusable);
            }
            payload_len -= pad;
        }
        if self.rx_stream.is_replay(ssrc, index) {
            return Err(OpenError::Replay);
        }
        self.rx_stream.accept(ssrc, index);
        Ok(Opened {
            header_len,
            payload_len,
            index,
        })
    }

    /// Encrypts `buf[header_len..]` in place and appends the tag. `index` is the extended
    /// sequence number written in the header.
    pub(crate) fn seal(&self, buf: &mut Vec<u8>, header_len: usize, index: u64) {
        let ssrc = u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]);
        let nonce = self.tx.nonce(ssrc, (index >> 16) as u32, index as u16);
        let (header, body) = buf.split_at_mut(header_len);
        let tag = self
            .tx
            .key
            .seal_in_place_separate_tag(nonce, Aad::from(&*header), body)
            .expect("AES-GCM seals any packet size we send");
        buf.extend_from_slice(tag.as_ref());
    }
}

/// RFC 3711 §4.3.3 AES-CM key derivation (key derivation rate 0): the salt left-aligned in the
/// counter block, the label XORed into its eighth octet, the block counter in the last two.
fn derive(master: &[u8], master_salt: &[u8], label: u8, out: &mut [u8]) {
    let mut block = [0u8; 16];
    block[..master_salt.len()].copy_from_slice(master_salt);
    block[7] ^= label;
    let srtp = base().srtp_provider;
    let mut stream = [0u8; 32];
    for (round, chunk) in out.chunks_mut(16).enumerate() {
        block[14..].copy_from_slice(&(round as u16).to_be_bytes());
        if master.len() == 32 {
            srtp.srtp_aes_256_ecb_round(master, &block, &mut stream);
        } else {
            srtp.srtp_aes_128_ecb_round(master, &block, &mut stream);
        }
        chunk.copy_from_slice(&stream[..chunk.len()]);
    }
}

/// Length of an RTP header (fixed part, CSRCs, extension), if `buf` holds a whole RTP header.
pub(crate) fn rtp_header_len(buf: &[u8]) -> Option<usize> {
    if buf.len() < 12 || buf[0] >> 6 != 2 {
        return None;
    }
    let mut len = 12 + 4 * (buf[0] & 0x0f) as usize;
    if buf[0] & 0x10 != 0 {
        let words = buf.get(len + 2..len + 4)?;
        len += 4 + 4 * u16::from_be_bytes([words[0], words[1]]) as usize;
    }
    (buf.len() >= len).then_some(len)
}

/// An RTP (not RTCP) packet by its first two octets (RFC 5761 §4: RTCP types 192–223).
pub(crate) fn is_rtp(buf: &[u8]) -> bool {
    buf.len() >= 12 && buf[0] >> 6 == 2 && !(192..=223).contains(&buf[1])
}

/// The value of the one-byte-header extension element `id` (RFC 8285 §4.2), if present.
pub(crate) fn one_byte_ext(header: &[u8], id: u8) -> Option<&[u8]> {
    if header[0] & 0x10 == 0 {
        return None;
    }
    let at = 12 + 4 * (header[0] & 0x0f) as usize;
    if header.get(at..at + 2)? != [0xbe, 0xde] {
        return None;
    }
    let ext = header.get(at + 4..)?;
    let mut i = 0;
    while i < ext.len() {
        let b = ext[i];
        if b == 0 {
            i += 1; // padding
            continue;
        }
        let (eid, len) = (b >> 4, (b & 0x0f) as usize + 1);
        if eid == 15 {
            return None;
        }
        let value = ext.get(i + 1..i + 1 + len)?;
        if eid == id {
            return Some(value);
        }
        i += 1 + len;
    }
    None
}

/// Appends a one-byte-header extension block (RFC 8285 §4.2) with the audio level (RFC 6464)
/// and the mid (RFC 8843), each as `(id, value)`, and sets the header's X bit. Elements whose
/// id does not fit the one-byte form are left out.
pub(crate) fn write_one_byte_ext(
    out: &mut Vec<u8>,
    level: Option<(u8, u8)>,
    mid: Option<(u8, &[u8])>,
) {
    let level = level.filter(|(id, _)| (1..=14).contains(id));
    let mid = mid.filter(|(id, m)| (1..=14).contains(id) && (1..=16).contains(&m.len()));
    if level.is_none() && mid.is_none() {
        return;
    }
    out[0] |= 0x10;
    let start = out.len();
    out.extend_from_slice(&[0xbe, 0xde, 0, 0]);
    if let Some((id, v)) = level {
        out.extend_from_slice(&[id << 4, v]);
    }
    if let Some((id, m)) = mid {
        out.push((id << 4) | (m.len() as u8 - 1));
        out.extend_from_slice(m);
    }
    while (out.len() - start) % 4 != 0 {
        out.push(0);
    }
    let words = ((out.len() - start - 4) / 4) as u16;
    out[start + 2..start + 4].copy_from_slice(&words.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keying(profile: SrtpProfile, key_len: usize, active: bool) -> Keying {
        Keying {
            profile,
            material: (0..(2 * key_len + 2 * SALT_LEN) as u8).collect(),
            active,
        }
    }

    fn packet(seq: u16, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x80, 111];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&960u32.to_be_bytes());
        p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn what_one_side_seals_the_other_opens() {
        for (profile, key_len) in [
            (SrtpProfile::AEAD_AES_256_GCM, 32),
            (SrtpProfile::AEAD_AES_128_GCM, 16),
        ] {
            let client = Srtp::new(&keying(profile, key_len, true)).expect("aead");
            let mut server = Srtp::new(&keying(profile, key_len, false)).expect("aead");
            let mut p = packet(7, b"opus frame");
            client.seal(&mut p, 12, 7);
            assert_ne!(&p[12..22], b"opus frame");
            let opened = server.open(&mut p).expect("opens");
            assert_eq!((opened.header_len, opened.payload_len), (12, 10));
            assert_eq!(&p[12..22], b"opus frame");
        }
    }

    #[test]
    fn a_tampered_header_or_the_wrong_direction_does_not_open() {
        let k = keying(SrtpProfile::AEAD_AES_256_GCM, 32, true);
        let client = Srtp::new(&k).expect("aead");
        let mut p = packet(1, b"abc");
        client.seal(&mut p, 12, 1);
        let mut tampered = p.clone();
        tampered[5] ^= 1; // RTP time is authenticated (AAD)
        let mut server = Srtp::new(&keying(k.profile, 32, false)).expect("aead");
        assert_eq!(server.open(&mut tampered), Err(OpenError::Unusable));
        // Our own packets do not open with our receive key.
        let mut same_side = Srtp::new(&k).expect("aead");
        assert_eq!(same_side.open(&mut p.clone()), Err(OpenError::Unusable));
        assert!(server.open(&mut p).is_ok());
    }

    #[test]
    fn rfc3711_replay_protection_and_rollover() {
        let client = Srtp::new(&keying(SrtpProfile::AEAD_AES_256_GCM, 32, true)).expect("aead");
        let mut server =
            Srtp::new(&keying(SrtpProfile::AEAD_AES_256_GCM, 32, false)).expect("aead");
        let sealed = |index: u64| {
            let mut p = packet(index as u16, b"x");
            client.seal(&mut p, 12, index);
            p
        };
        // Across the 16-bit wrap: the receiver follows the rollover counter.
        for index in 65_530..65_545u64 {
            let opened = server.open(&mut sealed(index)).expect("in order");
            assert_eq!(opened.index, index);
        }
        // A duplicate is refused.
        assert_eq!(server.open(&mut sealed(65_540)), Err(OpenError::Replay));
        // Older than the window.
        assert_eq!(server.open(&mut sealed(65_400)), Err(OpenError::Replay));
        // A gap, then a reordered packet inside the window is accepted once.
        assert!(server.open(&mut sealed(65_600)).is_ok());
        assert!(server.open(&mut sealed(65_590)).is_ok());
        assert_eq!(server.open(&mut sealed(65_590)), Err(OpenError::Replay));
    }

    #[test]
    fn arbitrary_datagrams_never_panic_and_never_open() {
        let mut server =
            Srtp::new(&keying(SrtpProfile::AEAD_AES_256_GCM, 32, false)).expect("aead");
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for n in 0..20_000usize {
            let len = n % 200;
            let mut buf: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            if let Some(b) = buf.first_mut() {
                *b = 0x80 | (*b & 0x3f); // mostly RTP-shaped
            }
            if let Some(h) = rtp_header_len(&buf) {
                let _ = one_byte_ext(&buf[..h], 1);
            }
            assert!(server.open(&mut buf).is_err());
        }
    }

    #[test]
    fn aes_cm_is_left_to_str0m() {
        assert!(Srtp::new(&keying(SrtpProfile::AES128_CM_SHA1_80, 16, true)).is_none());
    }

    #[test]
    fn header_parsing() {
        let mut p = packet(1, b"payload");
        assert_eq!(rtp_header_len(&p), Some(12));
        assert!(is_rtp(&p));
        // With a one-byte extension block: audio level (id 1) and mid (id 4, "0").
        p[0] |= 0x10;
        let ext = [0xbe, 0xde, 0, 1, 0x10, 0x85, 0x40, b'0'];
        p.splice(12..12, ext);
        assert_eq!(rtp_header_len(&p), Some(20));
        assert_eq!(one_byte_ext(&p[..20], 1), Some(&[0x85][..]));
        assert_eq!(one_byte_ext(&p[..20], 4), Some(&b"0"[..]));
        assert_eq!(one_byte_ext(&p[..20], 3), None);
        // What we write reads back.
        let mut h = p[..12].to_vec();
        h[0] &= !0x10;
        write_one_byte_ext(&mut h, Some((1, 0x85)), Some((4, b"0")));
        assert_eq!(h, p[..20]);
        let mut bare = p[..12].to_vec();
        bare[0] &= !0x10;
        write_one_byte_ext(&mut bare, None, Some((15, b"0")));
        assert_eq!(bare.len(), 12, "id 15 has no one-byte form");
        // Truncated: the extension claims more than there is.
        assert_eq!(rtp_header_len(&p[..18]), None);
        // RTCP sender report.
        assert!(!is_rtp(&[0x80, 200, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0]));
    }
}
