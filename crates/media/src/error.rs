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
