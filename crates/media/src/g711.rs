//! G.711 (ITU-T G.711, 1988): µ-law and A-law companding of 16-bit linear samples, and the
//! conversion between the two laws that a PCMU↔PCMA bridge does per byte.
//!
//! Linear values are 16-bit: the 14-bit (µ-law) and 13-bit (A-law) scales of the
//! Recommendation shifted left by 2 and 3. Decoding gives the middle of each quantisation
//! interval, encoding truncates into the interval that holds the sample, as the ITU reference
//! code (G.191 STL) does. All tables are built at compile time.

/// µ-law bias (33 on the 14-bit scale) that makes its segments start at powers of two.
const ULAW_BIAS: i32 = 0x84;
/// Largest magnitude µ-law can encode before the bias would overflow segment 7.
const ULAW_CLIP: i32 = 32635;

/// The two G.711 laws, as RTP names them (RFC 3551 §4.5.14): static payload types 0 and 8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Law {
    /// PCMU, µ-law (North America, Japan).
    Ulaw,
    /// PCMA, A-law (elsewhere).
    Alaw,
}

impl Law {
    /// The static RTP payload type.
    pub fn pt(self) -> u8 {
        match self {
            Law::Ulaw => 0,
            Law::Alaw => 8,
        }
    }

    /// The `a=rtpmap` encoding name.
    pub fn name(self) -> &'static str {
        match self {
            Law::Ulaw => "PCMU",
            Law::Alaw => "PCMA",
        }
    }

    /// The code of a linear sample.
    pub fn encode(self, sample: i16) -> u8 {
        match self {
            Law::Ulaw => encode_ulaw(sample),
            Law::Alaw => encode_alaw(sample),
        }
    }

    /// The linear sample of a code.
    pub fn decode(self, code: u8) -> i16 {
        match self {
            Law::Ulaw => ULAW_DECODE[code as usize],
            Law::Alaw => ALAW_DECODE[code as usize],
        }
    }
}

/// µ-law code of a linear sample.
pub const fn encode_ulaw(sample: i16) -> u8 {
    let mut x = sample as i32;
    let sign = if x < 0 {
        x = -x;
        0x80
    } else {
        0
    };
    if x > ULAW_CLIP {
        x = ULAW_CLIP;
    }
    x += ULAW_BIAS;
    // x is in 132..=32767: its top bit (7..=14) names the segment.
    let segment = (31 - (x as u32).leading_zeros()) as i32 - 7;
    let mantissa = (x >> (segment + 3)) & 0x0f;
    !(sign | (segment << 4) | mantissa) as u8
}

/// Linear sample of a µ-law code.
pub const fn decode_ulaw(code: u8) -> i16 {
    let u = !code;
    let segment = ((u >> 4) & 0x07) as i32;
    let mantissa = (u & 0x0f) as i32;
    let x = (((mantissa << 3) + ULAW_BIAS) << segment) - ULAW_BIAS;
    if u & 0x80 != 0 {
        -x as i16
    } else {
        x as i16
    }
}

/// A-law code of a linear sample.
pub const fn encode_alaw(sample: i16) -> u8 {
    // 13-bit magnitude; negative values are one's complement (-1 → 0), as in G.711.
    let mut x = (sample as i32) >> 3;
    let mask = if x >= 0 {
        0xd5
    } else {
        x = -x - 1;
        0x55
    };
    let code = if x < 32 {
        // Segments 0 and 1 share a step of 2 (13-bit scale).
        x >> 1
    } else {
        // x is in 32..=4095: its top bit (5..=11) names the segment 1..=7.
        let segment = (31 - (x as u32).leading_zeros()) as i32 - 4;
        (segment << 4) | ((x >> segment) & 0x0f)
    };
    (code ^ mask) as u8
}

/// Linear sample of an A-law code.
pub const fn decode_alaw(code: u8) -> i16 {
    let a = code ^ 0x55;
    let mantissa = ((a & 0x0f) as i32) << 4;
    let segment = ((a >> 4) & 0x07) as i32;
    let x = match segment {
        0 => mantissa + 8,
        1 => mantissa + 0x108,
        s => (mantissa + 0x108) << (s - 1),
    };
    if a & 0x80 != 0 {
        x as i16
    } else {
        -x as i16
    }
}

const fn decode_table(law: Law) -> [i16; 256] {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = match law {
            Law::Ulaw => decode_ulaw(i as u8),
            Law::Alaw => decode_alaw(i as u8),
        };
        i += 1;
    }
    t
}

const fn convert_table(from: Law) -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = match from {
            Law::Ulaw => encode_alaw(decode_ulaw(i as u8)),
            Law::Alaw => encode_ulaw(decode_alaw(i as u8)),
        };
        i += 1;
    }
    t
}

static ULAW_DECODE: [i16; 256] = decode_table(Law::Ulaw);
static ALAW_DECODE: [i16; 256] = decode_table(Law::Alaw);
/// µ-law code → the A-law code of the same level, and back.
static ULAW_TO_ALAW: [u8; 256] = convert_table(Law::Ulaw);
static ALAW_TO_ULAW: [u8; 256] = convert_table(Law::Alaw);

/// The A-law code nearest below the level of a µ-law code.
pub fn ulaw_to_alaw(code: u8) -> u8 {
    ULAW_TO_ALAW[code as usize]
}

/// The µ-law code nearest below the level of an A-law code.
pub fn alaw_to_ulaw(code: u8) -> u8 {
    ALAW_TO_ULAW[code as usize]
}

/// Appends `payload` (coded in `from`) to `out` coded in `to`: a copy when the laws match.
pub fn transcode_into(from: Law, to: Law, payload: &[u8], out: &mut Vec<u8>) {
    match (from, to) {
        (Law::Ulaw, Law::Alaw) => out.extend(payload.iter().map(|&c| ULAW_TO_ALAW[c as usize])),
        (Law::Alaw, Law::Ulaw) => out.extend(payload.iter().map(|&c| ALAW_TO_ULAW[c as usize])),
        _ => out.extend_from_slice(payload),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Reference points of G.711 Tables 1 and 2 (decoder outputs at the Recommendation's scale,
    // here ×4 for µ-law and ×8 for A-law) and of the G.191 reference encoder.
    #[test]
    fn ulaw_matches_the_reference_values() {
        assert_eq!(decode_ulaw(0xff), 0);
        assert_eq!(decode_ulaw(0x7f), 0);
        assert_eq!(decode_ulaw(0xfe), 8, "smallest step: 2 at 14 bits");
        assert_eq!(decode_ulaw(0xf0), 120);
        assert_eq!(decode_ulaw(0x80), 32124, "8031 at 14 bits");
        assert_eq!(decode_ulaw(0x00), -32124);
        assert_eq!(encode_ulaw(0), 0xff);
        assert_eq!(encode_ulaw(1000), 0xce);
        assert_eq!(encode_ulaw(-1000), 0x4e);
        assert_eq!(encode_ulaw(i16::MAX), 0x80);
        assert_eq!(encode_ulaw(i16::MIN), 0x00);
    }

    #[test]
    fn alaw_matches_the_reference_values() {
        assert_eq!(decode_alaw(0xd5), 8, "1 at 13 bits");
        assert_eq!(decode_alaw(0x55), -8);
        assert_eq!(decode_alaw(0xaa), 32256, "4032 at 13 bits");
        assert_eq!(decode_alaw(0x2a), -32256);
        assert_eq!(encode_alaw(0), 0xd5);
        assert_eq!(encode_alaw(-1), 0x55);
        assert_eq!(encode_alaw(1000), 0xfa);
        assert_eq!(encode_alaw(i16::MAX), 0xaa);
        assert_eq!(encode_alaw(i16::MIN), 0x2a);
    }

    #[test]
    fn every_code_survives_decode_then_encode() {
        for c in 0..=255u8 {
            assert_eq!(encode_alaw(decode_alaw(c)), c, "A-law {c:#04x}");
            // µ-law has two zeros; negative zero comes back positive.
            if c != 0x7f {
                assert_eq!(encode_ulaw(decode_ulaw(c)), c, "µ-law {c:#04x}");
            }
        }
    }

    #[test]
    fn encoding_is_monotonic_and_keeps_the_sign() {
        for law in [Law::Ulaw, Law::Alaw] {
            let mut last = law.decode(law.encode(i16::MIN));
            for s in (i16::MIN..=i16::MAX).step_by(7) {
                let d = law.decode(law.encode(s));
                assert!(d >= last, "{law:?} not monotonic at {s}");
                assert!(
                    d == 0 || (d > 0) == (s > 0) || (s as i32).abs() < 16,
                    "{law:?} sign at {s}"
                );
                last = d;
            }
        }
    }

    #[test]
    fn law_conversion_keeps_the_level_within_one_step() {
        for c in 0..=255u8 {
            let u = decode_ulaw(c) as i32;
            let a = decode_alaw(ulaw_to_alaw(c)) as i32;
            // A-law's step at a level is at most 1/16 of it (and 16 near zero).
            assert!(
                (u - a).abs() <= (u.abs() / 16).max(16),
                "µ {c:#04x}: {u} vs {a}"
            );
            assert!(u.signum() * a.signum() >= 0, "µ {c:#04x} changed sign");
            let a = decode_alaw(c) as i32;
            let u = decode_ulaw(alaw_to_ulaw(c)) as i32;
            assert!(
                (u - a).abs() <= (a.abs() / 16).max(16),
                "A {c:#04x}: {a} vs {u}"
            );
        }
    }

    #[test]
    fn converting_there_and_back_is_stable() {
        // A→µ→A: µ-law's step is rarely coarser than A-law's at the same level, so most codes
        // come back unchanged and the rest stay within one A-law step.
        let mut same = 0;
        for c in 0..=255u8 {
            let back = ulaw_to_alaw(alaw_to_ulaw(c));
            let (x, y) = (decode_alaw(c) as i32, decode_alaw(back) as i32);
            assert!(
                (x - y).abs() <= (x.abs() / 16).max(16),
                "A {c:#04x} came back as {back:#04x}"
            );
            same += (back == c) as u32;
        }
        assert!(same >= 200, "unchanged: {same}");
        // A payload is converted byte by byte; the same law is a copy.
        let mut out = Vec::new();
        transcode_into(Law::Ulaw, Law::Alaw, &[0xff, 0x80, 0x00], &mut out);
        assert_eq!(out, [0xd5, 0xaa, 0x2a]);
        out.clear();
        transcode_into(Law::Alaw, Law::Alaw, &[1, 2, 3], &mut out);
        assert_eq!(out, [1, 2, 3]);
    }
}
