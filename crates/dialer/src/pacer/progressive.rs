//! Webitel queue type 4: one customer call per free agent, never more.

use super::{progressive_count, Pacing};
use crate::state::State;
use crate::types::{Decision, Millis, Mode};

/// Dials one call per free agent that no call in progress is already meant for. With a
/// reserved agent for every call, no live answer waits (no abandons, barring agents who
/// leave while their call rings).
#[derive(Debug, Clone, Copy, Default)]
pub struct Progressive;

impl Pacing for Progressive {
    fn name(&self) -> &'static str {
        "progressive"
    }

    fn decide(&mut self, s: &State, _now: Millis) -> Decision {
        let dial = progressive_count(s);
        let free = s.free_agents();
        Decision {
            dial,
            mode: Mode::Progressive,
            level: if free == 0 {
                0.0
            } else {
                f64::from(s.ringing_calls() + s.waiting_calls() + dial) / f64::from(free)
            },
        }
    }
}
