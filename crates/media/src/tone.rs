//! The hold tone: Opus packets encoded once, offline, by `assets/make_hold_tone.py`, so playing it
//! costs a pointer copy per packet and the server needs no Opus encoder. For G.711 legs the same
//! cadence is synthesised once at start-up in both laws ([`G711Tone`]).

use std::sync::Arc;
use std::time::Duration;

use crate::g711::Law;

static HOLD_TONE: &[u8] = include_bytes!("../assets/hold-tone.bin");

/// Duration of one tone packet (20 ms, 960 samples at 48 kHz).
pub const FRAME: Duration = Duration::from_millis(20);

/// A loop of pre-encoded Opus packets.
#[derive(Clone)]
pub struct ToneLoop {
    packets: Arc<[Arc<[u8]>]>,
}

impl ToneLoop {
    /// The built-in hold tone: 0.5 s of 425 Hz then 1.5 s of silence, looping.
    pub fn hold() -> Self {
        Self::from_framed(HOLD_TONE).expect("built-in hold tone is well formed")
    }

    /// Parses packets stored as a big-endian u16 length followed by the packet.
    pub fn from_framed(mut bytes: &[u8]) -> Option<Self> {
        let mut packets = Vec::new();
        while !bytes.is_empty() {
            let [a, b, rest @ ..] = bytes else {
                return None;
            };
            let len = u16::from_be_bytes([*a, *b]) as usize;
            if rest.len() < len || len == 0 {
                return None;
            }
            packets.push(Arc::from(&rest[..len]));
            bytes = &rest[len..];
        }
        (!packets.is_empty()).then(|| Self {
            packets: packets.into(),
        })
    }

    pub fn len(&self) -> usize {
        self.packets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }

    /// The packet at `index`, wrapping around.
    pub fn packet(&self, index: usize) -> &Arc<[u8]> {
        &self.packets[index % self.packets.len()]
    }
}

/// G.711 frames per loop: 0.5 s of tone, 1.5 s of silence (the cadence of the Opus loop).
const G711_FRAMES: usize = 100;
const G711_TONE_FRAMES: usize = 25;
/// Samples of one 20 ms G.711 frame at 8 kHz.
pub(crate) const G711_FRAME_SAMPLES: usize = 160;
const TONE_HZ: f64 = 425.0;
/// About -16 dBm0: clearly audible, far from clipping.
const TONE_AMPLITUDE: f64 = 4000.0;
/// Linear fade in and out (5 ms), so the bursts start and stop without a click.
const RAMP_SAMPLES: usize = 40;

/// The hold tone as G.711 frames, both laws.
pub(crate) struct G711Tone {
    ulaw: Box<[Arc<[u8]>]>,
    alaw: Box<[Arc<[u8]>]>,
}

impl G711Tone {
    pub(crate) fn hold() -> Self {
        let on = G711_TONE_FRAMES * G711_FRAME_SAMPLES;
        let samples: Vec<i16> = (0..G711_FRAMES * G711_FRAME_SAMPLES)
            .map(|n| {
                if n >= on {
                    return 0;
                }
                let ramp = (n.min(on - 1 - n) as f64 / RAMP_SAMPLES as f64).min(1.0);
                let phase = 2.0 * std::f64::consts::PI * TONE_HZ * n as f64 / 8000.0;
                (TONE_AMPLITUDE * ramp * phase.sin()) as i16
            })
            .collect();
        let code = |law: Law| {
            samples
                .chunks(G711_FRAME_SAMPLES)
                .map(|f| f.iter().map(|&s| law.encode(s)).collect())
                .collect()
        };
        G711Tone {
            ulaw: code(Law::Ulaw),
            alaw: code(Law::Alaw),
        }
    }

    /// Frame `index` of the loop (wrapping around) in `law`.
    pub(crate) fn frame(&self, law: Law, index: usize) -> &Arc<[u8]> {
        let frames = match law {
            Law::Ulaw => &self.ulaw,
            Law::Alaw => &self.alaw,
        };
        &frames[index % G711_FRAMES]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_g711_tone_is_a_burst_then_silence_in_both_laws() {
        let t = G711Tone::hold();
        for law in [Law::Ulaw, Law::Alaw] {
            let level = |i: usize| -> i32 {
                t.frame(law, i)
                    .iter()
                    .map(|&c| (law.decode(c) as i32).abs())
                    .max()
                    .unwrap()
            };
            assert_eq!(t.frame(law, 0).len(), 160);
            assert!(
                (3000..=4200).contains(&level(10)),
                "{law:?} tone: {}",
                level(10)
            );
            assert!(level(50) <= 8, "{law:?} silence");
            assert_eq!(t.frame(law, 100), t.frame(law, 0), "loops");
        }
    }

    #[test]
    fn built_in_hold_tone_is_a_two_second_loop() {
        let t = ToneLoop::hold();
        assert_eq!(t.len(), 100);
        // The tone part is louder, hence bigger, than the silent part.
        assert!(t.packet(0).len() > t.packet(99).len());
    }

    #[test]
    fn truncated_tone_is_rejected() {
        assert!(ToneLoop::from_framed(&[0, 5, 1, 2]).is_none());
        assert!(ToneLoop::from_framed(&[]).is_none());
    }
}
