//! The engine's one error type: why an input or command was not applied.

use crate::types::{LegId, LookupId};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// No live leg with this id (never existed, or already ended and forgotten).
    #[error("no such call leg: {0}")]
    UnknownLeg(LegId),
    /// A leg with this id already exists.
    #[error("call leg already exists: {0}")]
    LegExists(LegId),
    /// No pending lookup with this id.
    #[error("no such lookup: {0}")]
    UnknownLookup(LookupId),
    /// The leg is in a state where the action makes no sense (e.g. hold before answer).
    #[error("call leg {leg} cannot {action} while {state}")]
    InvalidState {
        leg: LegId,
        action: &'static str,
        state: &'static str,
    },
}
