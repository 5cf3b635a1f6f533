//! The little RTCP (RFC 3550 §6) an RTP leg needs: a periodic report with our CNAME so phones
//! see a live sender, a BYE on close, and recognising what phones send us (counted, not used).

pub(crate) const PT_SR: u8 = 200;
const PT_RR: u8 = 201;
const PT_SDES: u8 = 202;
const PT_BYE: u8 = 203;
const SDES_CNAME: u8 = 1;

/// An RTCP packet (first of a compound) by its header: version 2, SR..APP (RFC 5761 §4).
pub(crate) fn is_rtcp(b: &[u8]) -> bool {
    b.len() >= 8 && b[0] >> 6 == 2 && (200..=204).contains(&b[1])
}

/// The middle 32 bits of the NTP time of a sender report, for our next report's LSR.
pub(crate) fn sr_ntp_middle(b: &[u8]) -> Option<u32> {
    if !is_rtcp(b) || b[1] != PT_SR || b.len() < 28 {
        return None;
    }
    Some(u32::from_be_bytes([b[10], b[11], b[12], b[13]]))
}

/// What we sent, for a sender report.
pub(crate) struct SenderInfo {
    pub ntp: u64,
    pub rtp_time: u32,
    pub packets: u32,
    pub octets: u32,
}

/// What we received from the phone's stream (RFC 3550 §6.4.1; jitter not measured).
pub(crate) struct ReportBlock {
    pub ssrc: u32,
    pub lost: u32,
    pub highest_seq: u32,
    pub lsr: u32,
    /// Delay since that report, in 1/65536 s.
    pub dlsr: u32,
}

fn header(out: &mut Vec<u8>, count: u8, pt: u8, words: usize) {
    out.push(0x80 | (count & 0x1f));
    out.push(pt);
    out.extend_from_slice(&((words - 1) as u16).to_be_bytes());
}

/// A compound report: SR (or RR when we have sent nothing) and an SDES with our CNAME.
pub(crate) fn write_report(
    out: &mut Vec<u8>,
    ssrc: u32,
    sender: Option<&SenderInfo>,
    block: Option<&ReportBlock>,
) {
    let blocks = block.is_some() as usize;
    match sender {
        Some(s) => {
            header(out, blocks as u8, PT_SR, 7 + 6 * blocks);
            out.extend_from_slice(&ssrc.to_be_bytes());
            out.extend_from_slice(&s.ntp.to_be_bytes());
            out.extend_from_slice(&s.rtp_time.to_be_bytes());
            out.extend_from_slice(&s.packets.to_be_bytes());
            out.extend_from_slice(&s.octets.to_be_bytes());
        }
        None => {
            header(out, blocks as u8, PT_RR, 2 + 6 * blocks);
            out.extend_from_slice(&ssrc.to_be_bytes());
        }
    }
    if let Some(b) = block {
        out.extend_from_slice(&b.ssrc.to_be_bytes());
        // Fraction lost 0: we keep no per-interval counts.
        out.extend_from_slice(&(b.lost.min(0x7f_ffff)).to_be_bytes());
        out.extend_from_slice(&b.highest_seq.to_be_bytes());
        out.extend_from_slice(&0u32.to_be_bytes());
        out.extend_from_slice(&b.lsr.to_be_bytes());
        out.extend_from_slice(&b.dlsr.to_be_bytes());
    }
    // CNAME "sb-<ssrc>": unique per stream is enough (RFC 7022 §4.2 short-term).
    let cname = format!("sb-{ssrc:08x}");
    let chunk = 4 + 2 + cname.len() + 1;
    let padded = chunk.div_ceil(4) * 4;
    header(out, 1, PT_SDES, 1 + padded / 4);
    out.extend_from_slice(&ssrc.to_be_bytes());
    out.push(SDES_CNAME);
    out.push(cname.len() as u8);
    out.extend_from_slice(cname.as_bytes());
    out.resize(out.len() + padded - chunk + 1, 0);
}

/// A BYE for our stream (sent when the leg closes).
pub(crate) fn write_bye(out: &mut Vec<u8>, ssrc: u32) {
    header(out, 1, PT_BYE, 2);
    out.extend_from_slice(&ssrc.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sender_report_is_well_formed() {
        let mut out = Vec::new();
        let s = SenderInfo {
            ntp: 0x0102_0304_0506_0708,
            rtp_time: 160,
            packets: 3,
            octets: 480,
        };
        let b = ReportBlock {
            ssrc: 9,
            lost: 1,
            highest_seq: 65_540,
            lsr: 0,
            dlsr: 0,
        };
        write_report(&mut out, 0xdead_beef, Some(&s), Some(&b));
        assert!(is_rtcp(&out));
        assert_eq!(out[0], 0x81, "one report block");
        let sr_len = (u16::from_be_bytes([out[2], out[3]]) as usize + 1) * 4;
        assert_eq!(sr_len, 52);
        assert_eq!(sr_ntp_middle(&out), Some(0x0304_0506));
        let sdes = &out[sr_len..];
        assert_eq!(sdes[1], PT_SDES);
        let sdes_len = (u16::from_be_bytes([sdes[2], sdes[3]]) as usize + 1) * 4;
        assert_eq!(
            sdes_len,
            sdes.len(),
            "the compound ends with the padded SDES"
        );
        assert_eq!(&sdes[10..21], b"sb-deadbeef");

        let mut rr = Vec::new();
        write_report(&mut rr, 1, None, None);
        assert_eq!(rr[1], PT_RR);
        assert_eq!(sr_ntp_middle(&rr), None);
        let mut bye = Vec::new();
        write_bye(&mut bye, 1);
        assert_eq!(bye, [0x81, PT_BYE, 0, 1, 0, 0, 0, 1]);
        assert!(!is_rtcp(&[0x80, 0, 0, 0, 0, 0, 0, 0]));
    }
}
