//! The SDP of plain RTP legs (RFC 4566, RFC 3264, RFC 3551 AVP): read a phone's offer or
//! answer, write our own lean one. Lean because desk phones over UDP move a request above
//! ~1300 bytes to TCP: no ICE, no SSRC lines, no fingerprint, only what a phone needs.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use str0m::media::Direction;

use crate::error::{MediaError, Result};
use crate::g711::Law;

/// Our telephone-event payload type in offers (the common choice of phones and PBXs).
pub(crate) const PT_TELE: u8 = 101;

/// Which kind of leg an SDP asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LegKind {
    /// A browser: ICE, DTLS-SRTP, Opus or G.711 (str0m).
    WebRtc,
    /// A desk phone or trunk: plain RTP/AVP with G.711, no ICE, no DTLS.
    Rtp,
}

/// The kind of leg `sdp` is for: `Rtp` for an `RTP/AVP` audio line without ICE or DTLS
/// attributes, `WebRtc` otherwise (str0m then judges the SDP).
pub fn sdp_kind(sdp: &str) -> LegKind {
    let mut avp = false;
    for line in sdp.lines().map(str::trim_end) {
        if line.starts_with("a=fingerprint:") || line.starts_with("a=ice-ufrag:") {
            return LegKind::WebRtc;
        }
        if let Some(m) = line.strip_prefix("m=audio ") {
            avp |= m.split_whitespace().nth(1) == Some("RTP/AVP");
        }
    }
    if avp {
        LegKind::Rtp
    } else {
        LegKind::WebRtc
    }
}

/// Whether `sdp` puts its sender's peer on hold: `sendonly` or `inactive` audio, or the legacy
/// RFC 2543 connection address `0.0.0.0`.
pub fn sdp_is_hold(sdp: &str) -> bool {
    match Remote::parse(sdp) {
        Ok(r) => r.is_hold(),
        Err(_) => sdp.contains("a=sendonly") || sdp.contains("a=inactive"),
    }
}

/// What a phone's SDP says about its audio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Remote {
    /// Connection address (media level over session level).
    pub conn: Option<IpAddr>,
    pub port: u16,
    /// RFC 3605 `a=rtcp` port, when not RTP + 1.
    pub rtcp_port: Option<u16>,
    /// The G.711 formats offered, in the sender's order of preference.
    pub audio: Vec<Law>,
    /// telephone-event at 8 kHz, if offered.
    pub tele: Option<u8>,
    pub direction: Direction,
}

impl Remote {
    pub(crate) fn parse(sdp: &str) -> Result<Remote> {
        let mut session_conn = None;
        let mut session_dir = None;
        let mut media_conn = None;
        let mut media_dir = None;
        let mut fmts: Vec<u8> = Vec::new();
        let mut maps: Vec<(u8, String)> = Vec::new();
        let mut port = None;
        let mut rtcp_port = None;
        // 0: session part, 1: our audio line, 2: any other m-line.
        let mut section = 0;
        for line in sdp.lines().map(str::trim_end) {
            if let Some(m) = line.strip_prefix("m=") {
                if port.is_none() && m.starts_with("audio ") {
                    let mut parts = m.split_whitespace().skip(1);
                    let p = parts.next().and_then(|p| p.split('/').next()?.parse().ok());
                    let _proto = parts.next();
                    port = Some(p.ok_or_else(|| bad("m= port"))?);
                    fmts = parts.filter_map(|f| f.parse().ok()).collect();
                    section = 1;
                } else {
                    section = 2;
                }
                continue;
            }
            if section == 2 {
                continue;
            }
            if let Some(c) = line.strip_prefix("c=") {
                let addr = c
                    .split_whitespace()
                    .nth(2)
                    .and_then(|a| a.split('/').next()?.parse::<IpAddr>().ok())
                    .ok_or_else(|| bad("c= address"))?;
                if section == 0 {
                    session_conn = Some(addr);
                } else {
                    media_conn = Some(addr);
                }
                continue;
            }
            let Some(a) = line.strip_prefix("a=") else {
                continue;
            };
            let dir = match a {
                "sendrecv" => Some(Direction::SendRecv),
                "sendonly" => Some(Direction::SendOnly),
                "recvonly" => Some(Direction::RecvOnly),
                "inactive" => Some(Direction::Inactive),
                _ => None,
            };
            if let Some(d) = dir {
                if section == 0 {
                    session_dir = Some(d);
                } else {
                    media_dir = Some(d);
                }
            } else if section == 1 {
                if let Some(map) = a.strip_prefix("rtpmap:") {
                    let mut it = map.splitn(2, ' ');
                    if let (Some(Ok(pt)), Some(enc)) = (it.next().map(str::parse), it.next()) {
                        maps.push((pt, enc.trim().to_ascii_lowercase()));
                    }
                } else if let Some(r) = a.strip_prefix("rtcp:") {
                    rtcp_port = r.split_whitespace().next().and_then(|p| p.parse().ok());
                }
            }
        }
        let port = port.ok_or(MediaError::NoAudio)?;
        let encoding = |pt: u8| maps.iter().find(|(p, _)| *p == pt).map(|(_, e)| e.as_str());
        let mut audio = Vec::new();
        let mut tele = None;
        for &pt in &fmts {
            let law = match (pt, encoding(pt)) {
                (_, Some("pcmu/8000" | "pcmu/8000/1")) | (0, None) => Some(Law::Ulaw),
                (_, Some("pcma/8000" | "pcma/8000/1")) | (8, None) => Some(Law::Alaw),
                (_, Some("telephone-event/8000")) if tele.is_none() => {
                    tele = Some(pt);
                    None
                }
                _ => None,
            };
            // Only the static payload types: a dynamic PCMU is legal but we always send 0 and 8.
            if let Some(law) = law.filter(|l| l.pt() == pt && !audio.contains(l)) {
                audio.push(law);
            }
        }
        Ok(Remote {
            conn: media_conn.or(session_conn),
            port,
            rtcp_port,
            audio,
            tele,
            direction: media_dir.or(session_dir).unwrap_or(Direction::SendRecv),
        })
    }

    /// Where to send RTP, as far as the SDP knows (not on hold by address, stream not refused).
    pub(crate) fn rtp_addr(&self) -> Option<SocketAddr> {
        let ip = self.conn.filter(|ip| !ip.is_unspecified())?;
        (self.port != 0).then(|| SocketAddr::new(ip, self.port))
    }

    pub(crate) fn rtcp_addr(&self) -> Option<SocketAddr> {
        let rtp = self.rtp_addr()?;
        let port = self.rtcp_port.unwrap_or(rtp.port().wrapping_add(1));
        Some(SocketAddr::new(rtp.ip(), port))
    }

    pub(crate) fn is_hold(&self) -> bool {
        self.conn.is_some_and(|ip| ip.is_unspecified())
            || matches!(self.direction, Direction::SendOnly | Direction::Inactive)
    }
}

fn bad(what: &str) -> MediaError {
    MediaError::Sdp(format!("bad {what}"))
}

/// Our side of an RTP leg's SDP.
pub(crate) struct Local<'a> {
    pub addr: SocketAddr,
    pub session: u64,
    pub version: u64,
    pub audio: &'a [Law],
    pub tele: Option<u8>,
    pub direction: Direction,
}

impl Local<'_> {
    pub(crate) fn write(&self) -> String {
        let ip = self.addr.ip();
        let family = if ip.is_ipv4() { "IP4" } else { "IP6" };
        let mut s = String::with_capacity(256);
        // Writing into a String cannot fail.
        let _ = write!(
            s,
            "v=0\r\no=- {} {} IN {family} {ip}\r\ns=-\r\nc=IN {family} {ip}\r\nt=0 0\r\nm=audio {} RTP/AVP",
            self.session,
            self.version,
            self.addr.port()
        );
        for law in self.audio {
            let _ = write!(s, " {}", law.pt());
        }
        if let Some(pt) = self.tele {
            let _ = write!(s, " {pt}");
        }
        s.push_str("\r\n");
        for law in self.audio {
            let _ = write!(s, "a=rtpmap:{} {}/8000\r\n", law.pt(), law.name());
        }
        if let Some(pt) = self.tele {
            let _ = write!(
                s,
                "a=rtpmap:{pt} telephone-event/8000\r\na=fmtp:{pt} 0-15\r\n"
            );
        }
        let _ = write!(s, "a=ptime:20\r\na={}\r\n", self.direction);
        s
    }
}

/// Fuzzing entry, not an API: everything the plain RTP leg reads from a peer's SDP
/// ([`sdp_kind`], [`sdp_is_hold`], the audio line, the addresses), with the invariants checked
/// by assertion: hold is judged the same both ways, only static G.711 formats are taken, each
/// once, and what we would write back from the result reads back the same.
#[doc(hidden)]
pub fn fuzz_remote_sdp(sdp: &str) {
    let _ = sdp_kind(sdp);
    let hold = sdp_is_hold(sdp);
    let Ok(r) = Remote::parse(sdp) else {
        return;
    };
    assert_eq!(
        hold,
        r.is_hold(),
        "sdp_is_hold disagrees with the parsed SDP"
    );
    for (i, law) in r.audio.iter().enumerate() {
        assert!(!r.audio[..i].contains(law), "a format is taken twice");
    }
    assert!(r.audio.len() <= 2);
    if let Some(pt) = r.tele {
        assert!(
            r.audio.iter().all(|l| l.pt() != pt),
            "telephone-event on a G.711 type"
        );
    }
    let rtp = r.rtp_addr();
    let rtcp = r.rtcp_addr();
    assert_eq!(rtp.is_some(), rtcp.is_some());
    if let (Some(rtp), Some(rtcp)) = (rtp, rtcp) {
        assert_eq!(rtp.ip(), rtcp.ip());
    }
    let addr = rtp.unwrap_or_else(|| SocketAddr::from(([192, 0, 2, 1], 4000)));
    let ours = Local {
        addr,
        session: 1,
        version: 1,
        audio: &r.audio,
        tele: r.tele,
        direction: r.direction,
    }
    .write();
    let back = Remote::parse(&ours).expect("our own SDP must parse");
    assert_eq!(back.audio, r.audio, "formats do not survive our SDP");
    assert_eq!(
        back.tele, r.tele,
        "telephone-event does not survive our SDP"
    );
    assert_eq!(
        back.direction, r.direction,
        "direction does not survive our SDP"
    );
    assert_eq!(back.rtp_addr(), Some(addr));
    assert_eq!(sdp_kind(&ours), LegKind::Rtp);
}

#[cfg(test)]
mod tests {
    use super::*;

    const PHONE: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=phone\r\nc=IN IP4 192.0.2.10\r\n\
        t=0 0\r\nm=audio 40000 RTP/AVP 9 8 0 96 18\r\na=rtpmap:9 G722/8000\r\n\
        a=rtpmap:8 PCMA/8000\r\na=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-15\r\n\
        a=ptime:20\r\na=sendrecv\r\n";

    #[test]
    fn a_phones_offer_is_read() {
        let r = Remote::parse(PHONE).unwrap();
        assert_eq!(
            r.audio,
            [Law::Alaw, Law::Ulaw],
            "offer order, no rtpmap needed for 0"
        );
        assert_eq!(r.tele, Some(96));
        assert_eq!(r.rtp_addr(), Some("192.0.2.10:40000".parse().unwrap()));
        assert_eq!(r.rtcp_addr(), Some("192.0.2.10:40001".parse().unwrap()));
        assert!(!r.is_hold());
        assert_eq!(sdp_kind(PHONE), LegKind::Rtp);
    }

    #[test]
    fn hold_is_read_from_the_direction_or_the_null_address() {
        let legacy = PHONE.replace("c=IN IP4 192.0.2.10", "c=IN IP4 0.0.0.0");
        let r = Remote::parse(&legacy).unwrap();
        assert!(r.is_hold() && sdp_is_hold(&legacy));
        assert_eq!(r.rtp_addr(), None, "nothing is sent to 0.0.0.0");
        assert!(sdp_is_hold(&PHONE.replace("a=sendrecv", "a=sendonly")));
        assert!(sdp_is_hold(&PHONE.replace("a=sendrecv", "a=inactive")));
        assert!(!sdp_is_hold(&PHONE.replace("a=sendrecv", "a=recvonly")));
    }

    #[test]
    fn media_level_lines_win_and_other_m_lines_are_skipped() {
        let sdp = "v=0\r\nc=IN IP4 192.0.2.1\r\na=sendonly\r\nm=video 5000 RTP/AVP 96\r\n\
            c=IN IP4 192.0.2.9\r\na=rtpmap:96 PCMU/8000\r\nm=audio 6000 RTP/AVP 0\r\n\
            c=IN IP4 192.0.2.2\r\na=rtcp:7000\r\na=recvonly\r\n";
        let r = Remote::parse(sdp).unwrap();
        assert_eq!(r.rtp_addr(), Some("192.0.2.2:6000".parse().unwrap()));
        assert_eq!(r.rtcp_addr(), Some("192.0.2.2:7000".parse().unwrap()));
        assert_eq!(r.direction, Direction::RecvOnly);
        assert_eq!(r.audio, [Law::Ulaw]);
    }

    #[test]
    fn webrtc_offers_are_not_rtp() {
        let browser = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 0 8\r\na=ice-ufrag:x\r\n";
        assert_eq!(sdp_kind(browser), LegKind::WebRtc);
        let avp_with_dtls = "v=0\r\nm=audio 9 RTP/AVP 0\r\na=fingerprint:sha-256 AA\r\n";
        assert_eq!(sdp_kind(avp_with_dtls), LegKind::WebRtc);
        assert!(matches!(Remote::parse("v=0\r\n"), Err(MediaError::NoAudio)));
    }

    #[test]
    fn the_fuzzing_entry_holds_on_the_samples() {
        fuzz_remote_sdp(PHONE);
        fuzz_remote_sdp(&PHONE.replace("c=IN IP4 192.0.2.10", "c=IN IP4 0.0.0.0"));
        fuzz_remote_sdp(&PHONE.replace("a=sendrecv", "a=inactive"));
        fuzz_remote_sdp(
            "v=0\r\nm=audio 0 RTP/AVP 0 0 8 101 101\r\na=rtpmap:0 telephone-event/8000\r\n",
        );
        fuzz_remote_sdp("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 0 8\r\na=ice-ufrag:x\r\n");
        fuzz_remote_sdp("v=0\r\n");
    }

    #[test]
    fn our_sdp_is_lean() {
        let sdp = Local {
            addr: "203.0.113.5:30000".parse().unwrap(),
            session: 42,
            version: 2,
            audio: &[Law::Ulaw, Law::Alaw],
            tele: Some(PT_TELE),
            direction: Direction::SendRecv,
        }
        .write();
        assert_eq!(
            sdp,
            "v=0\r\no=- 42 2 IN IP4 203.0.113.5\r\ns=-\r\nc=IN IP4 203.0.113.5\r\nt=0 0\r\n\
             m=audio 30000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
             a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n"
        );
        assert!(sdp.len() < 400);
        let back = Remote::parse(&sdp).unwrap();
        assert_eq!(back.audio, [Law::Ulaw, Law::Alaw]);
        assert_eq!(back.tele, Some(PT_TELE));
    }
}
