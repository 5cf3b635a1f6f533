//! What goes in (events) and what comes out (decisions).

use serde::{Deserialize, Serialize};

/// The runtime's id of one dialled customer call (Webitel: the attempt id).
pub type CallId = i64;
/// The runtime's id of an agent.
pub type AgentId = i64;
/// Wall-clock time, Unix epoch milliseconds. Must never go backwards between inputs.
pub type Millis = i64;

/// Who picked up, as the answering-machine detection (or its absence) says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnsweredBy {
    /// A person (AMD said HUMAN, or no AMD): the call needs an agent within
    /// `abandon_after_s`.
    Human,
    /// AMD said MACHINE: the call is over as far as pacing goes (hung up or a message left).
    Machine,
}

/// Why a dialled call ended without an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unanswered {
    NoAnswer,
    Busy,
    /// Not routable, congestion, a fax, a wrong number…
    Failed,
}

/// One thing that happened to the campaign. Feed each with [`crate::Dialer::handle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The runtime placed a call (normally because a decision asked for it).
    CallStarted { call: CallId },
    /// The callee picked up. A human answer waits for an agent; a machine ends the call.
    Answered { call: CallId, by: AnsweredBy },
    /// The call ended before anyone picked up.
    NotAnswered { call: CallId, why: Unanswered },
    /// A waiting human answer was connected to the agent (the agent now talks).
    Bridged { call: CallId, agent: AgentId },
    /// A human answer found no agent in time (or the callee hung up while waiting).
    Abandoned { call: CallId },
    /// The agent found an answering machine the AMD had let through (Ofcom's `AM_agent`).
    MachineAtAgent { call: CallId },
    /// The agent is ready for a call (logged in, not paused, not wrapping up).
    AgentFree { agent: AgentId },
    /// The agent talks on something the dialer did not bridge (counted as busy).
    AgentBusy { agent: AgentId },
    /// The agent's call ended; wrap-up (after-call work) starts.
    AgentWrap { agent: AgentId },
    /// The agent will pause or log out after the current call: not counted on to free up.
    AgentLeaving { agent: AgentId },
    /// The agent paused or logged out: not counted on until `AgentFree` again.
    AgentAway { agent: AgentId },
}

/// Why a predictive campaign dials progressively at the moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fallback {
    /// Fewer than `min_attempts` finished attempts in the statistics window.
    Warmup,
    /// Fewer than `min_agents` agents logged in.
    FewAgents,
    /// Today's UK figure or the US 30-day figure is at `max_abandoned_rate`.
    AbandonGuard,
}

/// How the number in a [`Decision`] was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// One call per free agent not already covered by a call in progress.
    Progressive,
    /// Look-ahead over the agents about to free up and the calls in flight.
    Predictive,
    /// A predictive campaign dialing progressively for the reason given.
    Fallback(Fallback),
    /// The pacer did not look this time (its own loop period has not elapsed).
    Idle,
}

/// What to do now: dial `dial` more numbers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub dial: u32,
    pub mode: Mode,
    /// The pacer's current dial level: calls in progress plus `dial`, per agent it counts on
    /// (1.0 = progressive). For reports and stability metrics only.
    pub level: f64,
}

impl Decision {
    pub fn none(mode: Mode) -> Self {
        Decision {
            dial: 0,
            mode,
            level: 0.0,
        }
    }
}
