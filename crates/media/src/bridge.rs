//! Whether two legs can be bridged by relaying packets, from what each negotiated.
//!
//! A bridge relays payloads; the only change it makes to audio is µ-law↔A-law, a table lookup
//! per byte. Opus on one side and G.711 on the other needs a decoder and an encoder: that is
//! [`Plan::Transcode`], done by the receiving leg's `crate::transcode::Transcoder`, which it
//! sets up when the first packet it cannot take arrives (so per direction, and on either shard).

use crate::core::LegId;

/// An audio codec as the bridge sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AudioCodec {
    Opus,
    Pcmu,
    Pcma,
}

impl AudioCodec {
    pub fn is_g711(self) -> bool {
        matches!(self, AudioCodec::Pcmu | AudioCodec::Pcma)
    }
}

/// What one leg sends and takes, as far as its negotiation is done (`None`: not known yet,
/// e.g. an offer still waiting for its answer; assumed compatible).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Codecs {
    /// The codec the peer sends us (the first of the answer).
    pub sends: Option<AudioCodec>,
    /// Whether we may send it Opus, and G.711 (either law: we convert between them).
    pub takes_opus: Option<bool>,
    pub takes_g711: Option<bool>,
}

impl Codecs {
    fn takes(&self, c: AudioCodec) -> bool {
        let t = if c.is_g711() {
            self.takes_g711
        } else {
            self.takes_opus
        };
        t.unwrap_or(true)
    }
}

/// How packets get from one leg of a bridge to the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Payloads pass through (G.711 laws converted per byte).
    Relay,
    /// `from` sends a codec `to` cannot take.
    Transcode { from: LegId, to: LegId },
}

pub(crate) fn plan(a: (LegId, Codecs), b: (LegId, Codecs)) -> Plan {
    for ((from, x), (to, y)) in [(a, b), (b, a)] {
        if let Some(c) = x.sends {
            if !y.takes(c) {
                return Plan::Transcode { from, to };
            }
        }
    }
    Plan::Relay
}

#[cfg(test)]
mod tests {
    use super::*;

    const PHONE_PCMA: Codecs = Codecs {
        sends: Some(AudioCodec::Pcma),
        takes_opus: Some(false),
        takes_g711: Some(true),
    };
    const OPUS_BROWSER: Codecs = Codecs {
        sends: Some(AudioCodec::Opus),
        takes_opus: Some(true),
        takes_g711: Some(false),
    };
    const G711_BROWSER: Codecs = Codecs {
        sends: Some(AudioCodec::Pcmu),
        takes_opus: Some(true),
        takes_g711: Some(true),
    };

    #[test]
    fn g711_relays_and_opus_to_a_phone_needs_transcoding() {
        let (a, b) = (LegId(1), LegId(2));
        assert_eq!(plan((a, PHONE_PCMA), (b, G711_BROWSER)), Plan::Relay);
        assert_eq!(plan((a, PHONE_PCMA), (b, PHONE_PCMA)), Plan::Relay);
        assert_eq!(plan((a, OPUS_BROWSER), (b, OPUS_BROWSER)), Plan::Relay);
        assert_eq!(
            plan((a, OPUS_BROWSER), (b, G711_BROWSER)),
            Plan::Transcode { from: b, to: a },
            "the G.711 browser's audio cannot reach an Opus-only one"
        );
        assert_eq!(
            plan((a, PHONE_PCMA), (b, OPUS_BROWSER)),
            Plan::Transcode { from: a, to: b }
        );
        let unknown = Codecs {
            sends: None,
            takes_opus: None,
            takes_g711: None,
        };
        assert_eq!(plan((a, unknown), (b, OPUS_BROWSER)), Plan::Relay);
    }
}
