//! A str0m peer configured as a browser is toward the server (RTP mode, Opus and 48 kHz
//! telephone-event, one host candidate), and its offer/answer steps. Shared by the media tests
//! and the calls bench.

use std::net::SocketAddr;
use std::time::Instant;

use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::config::DtlsCert;
use str0m::format::{Codec, FormatParams};
use str0m::media::{Direction, Frequency, MediaKind, Mid, Pt};
use str0m::{Candidate, Rtc, RtcConfig};

/// A browser-like `Rtc` with a host candidate on `local`; `cert` reuses a DTLS certificate
/// (making one per peer costs ~100 ms).
pub fn rtc(local: SocketAddr, cert: Option<&DtlsCert>, now: Instant) -> Rtc {
    let mut cfg = RtcConfig::new()
        .set_rtp_mode(true)
        .clear_codecs()
        .enable_opus(true, false);
    if let Some(cert) = cert {
        cfg = cfg.set_dtls_cert(cert.clone());
    }
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

/// Our audio offer, as a browser calling in sends it.
pub fn offer(rtc: &mut Rtc) -> (Mid, SdpPendingOffer, String) {
    let mut api = rtc.sdp_api();
    let mid = api.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
    let (offer, pending) = api.apply().unwrap();
    (mid, pending, offer.to_sdp_string())
}

pub fn accept_answer(rtc: &mut Rtc, pending: SdpPendingOffer, sdp: &str) {
    let answer = SdpAnswer::from_sdp_string(sdp).unwrap();
    rtc.sdp_api().accept_answer(pending, answer).unwrap();
}

/// Answers an offer (the server calling this browser, or a re-offer).
pub fn answer(rtc: &mut Rtc, sdp: &str) -> String {
    let offer = SdpOffer::from_sdp_string(sdp).unwrap();
    rtc.sdp_api().accept_offer(offer).unwrap().to_sdp_string()
}

/// The payload type this peer uses for `codec`.
pub fn pt(rtc: &Rtc, codec: Codec) -> Pt {
    rtc.codec_config()
        .params()
        .iter()
        .find(|p| p.spec().codec == codec)
        .map(|p| p.pt())
        .unwrap()
}
