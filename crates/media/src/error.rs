use crate::LegId;

/// Everything the media engine can refuse or fail at.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("unknown media leg {0}")]
    UnknownLeg(LegId),
    #[error("bad SDP: {0}")]
    Sdp(String),
    #[error("no offer of ours is waiting for an answer on leg {0}")]
    NoPendingOffer(LegId),
    #[error("the leg has no audio m-line yet")]
    NoAudio,
    #[error("nothing to renegotiate")]
    NoChange,
    #[error("WebRTC: {0}")]
    Rtc(String),
    #[error("a leg cannot be bridged to itself")]
    SelfBridge,
    /// The offer or answer has no codec we take (an RTP leg takes PCMU and PCMA): SIP 488.
    #[error("no codec in common (PCMU or PCMA needed)")]
    NoCommonCodec,
    /// `from` sends a codec `to` cannot take (Opus to a G.711 phone). No longer returned:
    /// such bridges are transcoded now; kept so callers that match on it still compile.
    #[error("{from} and {to} share no codec: bridging them needs transcoding")]
    NeedsTranscoding { from: LegId, to: LegId },
    /// No bound port pair is free for a new RTP leg.
    #[error("no RTP port pair free")]
    NoPorts,
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("the media server has stopped")]
    Stopped,
}

impl From<str0m::RtcError> for MediaError {
    fn from(e: str0m::RtcError) -> Self {
        match e {
            str0m::RtcError::RemoteSdp(s) => MediaError::Sdp(s),
            other => MediaError::Rtc(other.to_string()),
        }
    }
}

pub type Result<T, E = MediaError> = std::result::Result<T, E>;
