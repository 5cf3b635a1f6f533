//! Pacers: the policy that turns the campaign's state into a number of calls to place now.
//! Three named peers behind one trait, so the day simulation runs them on identical draws:
//! [`Progressive`] (Webitel type 4), [`Predictive`] (ours, type 5) and [`VicidialTapered`]
//! (a replica of VICIdial's ADAPT_TAPERED, DIALER-NOTES 2.2).

mod predictive;
mod progressive;
mod vicidial;

pub use predictive::Predictive;
pub use progressive::Progressive;
pub use vicidial::{VicidialConfig, VicidialTapered};

use crate::state::State;
use crate::types::{Decision, Millis};
use serde::{Deserialize, Serialize};

/// A pacing policy. It only reads the campaign's [`State`]; [`crate::Dialer`] calls it from
/// `tick`. Implementations must be deterministic: the same inputs give the same decisions.
pub trait Pacing: Send {
    /// A short name for reports.
    fn name(&self) -> &'static str;
    /// How many numbers to dial now.
    fn decide(&mut self, state: &State, now: Millis) -> Decision;
}

/// The pacers this crate ships, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pacer {
    Progressive,
    Predictive,
    VicidialTapered,
}

impl Pacer {
    pub const ALL: [Pacer; 3] = [
        Pacer::Predictive,
        Pacer::Progressive,
        Pacer::VicidialTapered,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Pacer::Progressive => "progressive",
            Pacer::Predictive => "predictive",
            Pacer::VicidialTapered => "vicidial_tapered",
        }
    }

    /// A fresh pacer of this kind; `vicidial` configures the replica.
    pub fn build(self, vicidial: &VicidialConfig) -> Box<dyn Pacing> {
        match self {
            Pacer::Progressive => Box::new(Progressive),
            Pacer::Predictive => Box::new(Predictive::default()),
            Pacer::VicidialTapered => Box::new(VicidialTapered::new(vicidial.clone())),
        }
    }
}

/// One call per free agent not already covered by a call ringing or waiting, within
/// `max_calls`.
pub(crate) fn progressive_count(s: &State) -> u32 {
    let covered = s.ringing_calls() + s.waiting_calls();
    let n = s.free_agents().saturating_sub(covered);
    cap(s, n)
}

/// `n` within what `max_calls` still allows.
pub(crate) fn cap(s: &State, n: u32) -> u32 {
    match s.room() {
        Some(room) => n.min(room),
        None => n,
    }
}
