//! Hangup causes as FreeSWITCH names them (the strings webitel-sdk sees in `hangup` events), and
//! their mapping to and from SIP status codes (after FreeSWITCH `sofia_glue` / RFC 3398).

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub enum HangupCause {
    NormalClearing,
    UserBusy,
    NoAnswer,
    NoUserResponse,
    OriginatorCancel,
    UnallocatedNumber,
    UserNotRegistered,
    CallRejected,
    SystemShutdown,
    BlindTransfer,
    AttendedTransfer,
    NormalTemporaryFailure,
    IncompatibleDestination,
    RecoveryOnTimerExpire,
    /// Any other cause string a client sends; kept verbatim.
    Other(String),
}

impl HangupCause {
    pub fn as_str(&self) -> &str {
        match self {
            HangupCause::NormalClearing => "NORMAL_CLEARING",
            HangupCause::UserBusy => "USER_BUSY",
            HangupCause::NoAnswer => "NO_ANSWER",
            HangupCause::NoUserResponse => "NO_USER_RESPONSE",
            HangupCause::OriginatorCancel => "ORIGINATOR_CANCEL",
            HangupCause::UnallocatedNumber => "UNALLOCATED_NUMBER",
            HangupCause::UserNotRegistered => "USER_NOT_REGISTERED",
            HangupCause::CallRejected => "CALL_REJECTED",
            HangupCause::SystemShutdown => "SYSTEM_SHUTDOWN",
            HangupCause::BlindTransfer => "BLIND_TRANSFER",
            HangupCause::AttendedTransfer => "ATTENDED_TRANSFER",
            HangupCause::NormalTemporaryFailure => "NORMAL_TEMPORARY_FAILURE",
            HangupCause::IncompatibleDestination => "INCOMPATIBLE_DESTINATION",
            HangupCause::RecoveryOnTimerExpire => "RECOVERY_ON_TIMER_EXPIRE",
            HangupCause::Other(s) => s,
        }
    }

    /// Parses a cause string (case-insensitive for the known ones); unknown strings are kept.
    pub fn parse(s: &str) -> Self {
        let known = [
            HangupCause::NormalClearing,
            HangupCause::UserBusy,
            HangupCause::NoAnswer,
            HangupCause::NoUserResponse,
            HangupCause::OriginatorCancel,
            HangupCause::UnallocatedNumber,
            HangupCause::UserNotRegistered,
            HangupCause::CallRejected,
            HangupCause::SystemShutdown,
            HangupCause::BlindTransfer,
            HangupCause::AttendedTransfer,
            HangupCause::NormalTemporaryFailure,
            HangupCause::IncompatibleDestination,
            HangupCause::RecoveryOnTimerExpire,
        ];
        known
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s.trim()))
            .unwrap_or_else(|| HangupCause::Other(s.trim().to_owned()))
    }

    /// The cause of a failed INVITE with this final status.
    pub fn from_sip(code: u16) -> Self {
        match code {
            404 | 484 | 604 => HangupCause::UnallocatedNumber,
            486 | 600 => HangupCause::UserBusy,
            480 => HangupCause::NoUserResponse,
            408 => HangupCause::RecoveryOnTimerExpire,
            487 => HangupCause::OriginatorCancel,
            488 | 606 => HangupCause::IncompatibleDestination,
            403 | 603 => HangupCause::CallRejected,
            500..=599 => HangupCause::NormalTemporaryFailure,
            _ => HangupCause::CallRejected,
        }
    }

    /// The final response to send on an unanswered incoming INVITE that ends with this cause.
    pub fn sip_reject(&self) -> (u16, &'static str) {
        match self {
            HangupCause::UnallocatedNumber => (404, "Not Found"),
            HangupCause::UserBusy => (486, "Busy Here"),
            HangupCause::NoAnswer
            | HangupCause::NoUserResponse
            | HangupCause::UserNotRegistered
            | HangupCause::NormalClearing => (480, "Temporarily Unavailable"),
            HangupCause::RecoveryOnTimerExpire => (408, "Request Timeout"),
            HangupCause::OriginatorCancel => (487, "Request Terminated"),
            HangupCause::CallRejected => (603, "Decline"),
            HangupCause::IncompatibleDestination => (488, "Not Acceptable Here"),
            HangupCause::SystemShutdown | HangupCause::NormalTemporaryFailure => {
                (503, "Service Unavailable")
            }
            _ => (480, "Temporarily Unavailable"),
        }
    }

    /// Whether this cause is how a user says "no" to a ringing call.
    pub fn is_rejection(&self) -> bool {
        matches!(self, HangupCause::UserBusy | HangupCause::CallRejected)
    }
}

impl fmt::Display for HangupCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<HangupCause> for String {
    fn from(c: HangupCause) -> String {
        c.as_str().to_owned()
    }
}

impl From<String> for HangupCause {
    fn from(s: String) -> Self {
        HangupCause::parse(&s)
    }
}

/// Which of several forks' failures is reported upstream (RFC 3261 §16.7 step 6, with the
/// preferences FreeSWITCH applies): any 6xx wins; otherwise busy beats unavailable beats the rest;
/// otherwise the lowest class, then the lowest code.
pub(crate) fn best_failure(codes: impl IntoIterator<Item = u16>) -> Option<u16> {
    fn rank(code: u16) -> (u8, u16) {
        match code {
            600..=699 => (0, code),
            486 => (1, code),
            480 => (2, code),
            487 => (9, code),
            _ => (3 + (code / 100) as u8, code),
        }
    }
    codes.into_iter().min_by_key(|c| rank(*c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_round_trip_through_strings() {
        for s in [
            "NORMAL_CLEARING",
            "USER_BUSY",
            "NO_ANSWER",
            "ORIGINATOR_CANCEL",
            "UNALLOCATED_NUMBER",
            "USER_NOT_REGISTERED",
            "CALL_REJECTED",
            "SYSTEM_SHUTDOWN",
            "BLIND_TRANSFER",
        ] {
            assert_eq!(HangupCause::parse(s).as_str(), s);
            assert!(!matches!(HangupCause::parse(s), HangupCause::Other(_)));
        }
        assert_eq!(HangupCause::parse("user_busy"), HangupCause::UserBusy);
        assert_eq!(
            HangupCause::parse("LOSE_RACE"),
            HangupCause::Other("LOSE_RACE".into())
        );
    }

    #[test]
    fn sip_codes_map_both_ways() {
        let table = [
            (404, HangupCause::UnallocatedNumber, 404),
            (486, HangupCause::UserBusy, 486),
            (600, HangupCause::UserBusy, 486),
            (603, HangupCause::CallRejected, 603),
            (480, HangupCause::NoUserResponse, 480),
            (487, HangupCause::OriginatorCancel, 487),
            (503, HangupCause::NormalTemporaryFailure, 503),
            (488, HangupCause::IncompatibleDestination, 488),
        ];
        for (code, cause, back) in table {
            assert_eq!(HangupCause::from_sip(code), cause, "{code}");
            assert_eq!(cause.sip_reject().0, back, "{code}");
        }
    }

    #[test]
    fn best_failure_prefers_6xx_then_busy() {
        let table: [(&[u16], Option<u16>); 6] = [
            (&[], None),
            (&[480, 486], Some(486)),
            (&[486, 603], Some(603)),
            (&[408, 480], Some(480)),
            (&[500, 404], Some(404)),
            (&[487, 503], Some(503)),
        ];
        for (codes, want) in table {
            assert_eq!(best_failure(codes.iter().copied()), want, "{codes:?}");
        }
    }
}
