//! The hold tone: Opus packets encoded once, offline, by `assets/make_hold_tone.py`, so playing it
//! costs a pointer copy per packet and the server needs no Opus encoder.

use std::sync::Arc;
use std::time::Duration;

static HOLD_TONE: &[u8] = include_bytes!("../assets/hold-tone.bin");

/// Duration of one tone packet (20 ms, 960 samples at 48 kHz).
pub const FRAME: Duration = Duration::from_millis(20);
pub const FRAME_SAMPLES: u32 = 960;

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

#[cfg(test)]
mod tests {
    use super::*;

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
