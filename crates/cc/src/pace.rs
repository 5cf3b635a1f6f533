//! The pacing seam: how many customers a dialer queue calls now. The engine asks its queue's
//! [`Pacer`] at every dialling round (each tick, and after any input that frees an agent) and
//! tells it what happened to the calls it placed, so a predictive controller can measure
//! answer and handle times and its abandonment. The default, [`Progressive`], places one call
//! per free agent not already covered by a call in flight.
//!
//! The engine enforces what no pacer may break: never more than `max_calls` live calls, never
//! more calls than callable members, and (progressive queues) one reserved agent per call.

use std::time::{Duration, Instant};

/// Dialer queue types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialKind {
    /// Type 4: an agent is reserved before each call.
    Progressive,
    /// Type 5: calls go out without agents; an answered customer takes any free agent.
    Predictive,
}

/// What a pacer sees of one dialer queue at one dialling round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaceView {
    pub domain_id: i64,
    pub queue_id: i64,
    pub kind: DialKind,
    pub now: Instant,
    /// Epoch ms at `now`.
    pub wall_ms: i64,
    /// Eligible agents online with an idle call channel.
    pub free_agents: u32,
    /// Eligible agents online (any channel state).
    pub online_agents: u32,
    /// Customer legs ringing (dialled, not answered yet).
    pub dialing: u32,
    /// Answered customers waiting for an agent.
    pub waiting: u32,
    /// Every live attempt of the queue (dialling, waiting, with an agent, in processing).
    pub active: u32,
    /// The queue's `max_calls` (`None`: unlimited).
    pub max_calls: Option<u32>,
    /// Members the engine holds that may be called now.
    pub callable: u32,
}

/// What happened to a call the queue placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaceEvent {
    Dialed {
        attempt_id: i64,
    },
    /// The customer answered after ringing `ring`.
    Answered {
        attempt_id: i64,
        ring: Duration,
    },
    /// Not reached after `ring` (no answer, busy, failure).
    Failed {
        attempt_id: i64,
        ring: Duration,
    },
    /// Connected to an agent after waiting `wait` since the answer.
    Bridged {
        attempt_id: i64,
        wait: Duration,
    },
    /// Answered and no agent came in time (or the customer hung up first).
    Abandoned {
        attempt_id: i64,
        wait: Duration,
    },
    /// The conversation (and any processing) ended: the agent's handle time.
    Ended {
        attempt_id: i64,
        handle: Duration,
    },
}

/// A dialer queue's pacing controller. Deterministic code is expected (the same engine runs
/// live and in simulations): no clocks but `view.now`, no randomness of its own.
pub trait Pacer: std::fmt::Debug + Send {
    /// How many customers to call now (the engine caps the answer).
    fn calls_to_place(&mut self, view: &PaceView) -> u32;
    /// A placed call moved on (`now` is the engine's clock).
    fn observe(&mut self, _event: PaceEvent, _now: Instant) {}
}

/// One call per free agent. In a progressive queue each call in flight holds its reserved
/// agent (who is then not free), so that is every free agent; in a predictive queue the calls
/// ringing or waiting for an agent are set against the free agents.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progressive;

impl Pacer for Progressive {
    fn calls_to_place(&mut self, v: &PaceView) -> u32 {
        match v.kind {
            DialKind::Progressive => v.free_agents,
            DialKind::Predictive => v.free_agents.saturating_sub(v.dialing + v.waiting),
        }
    }
}

/// Makes the pacer of each dialer queue (called when the queue first appears, and again when
/// its type changes).
pub type PacerFactory = Box<dyn Fn(i64, DialKind) -> Box<dyn Pacer> + Send>;
