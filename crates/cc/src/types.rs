//! What goes in and out of the engine: configuration, the directory (agents, teams, queues as
//! the store holds them), inputs, replies and outputs.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// How the engine makes the UUIDs of agent legs (and draws for the `random` team strategy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdSource {
    /// Random v4 UUIDs (production).
    Random,
    /// Deterministic v4-shaped UUIDs from a seed (tests and simulations).
    Seeded(u64),
}

#[derive(Debug, Clone)]
pub struct Config {
    /// The node id put in `distribute.app_id`; webitel-sdk echoes it back, so it must not be empty.
    pub app_id: String,
    pub ids: IdSource,
    /// Attempt ids count up from here (the runtime passes the highest stored id + 1, so ids
    /// stay unique across restarts).
    pub first_attempt_id: i64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            app_id: "switchboard".into(),
            ids: IdSource::Random,
            first_attempt_id: 1,
        }
    }
}

/// One domain's contact-center configuration as the store has it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Directory {
    pub agents: Vec<AgentConf>,
    pub teams: Vec<TeamConf>,
    pub queues: Vec<QueueConf>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AgentConf {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub extension: String,
    pub team_id: Option<i64>,
    pub skills: Vec<AgentSkill>,
    /// The stored status, used only when the agent is new to the engine (after a restart the
    /// store is the memory); later directories never override live state.
    pub status: String,
    pub status_payload: Option<String>,
    /// Epoch ms.
    pub last_status_change: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentSkill {
    pub skill_id: i64,
    pub capacity: i32,
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TeamConf {
    pub id: i64,
    pub name: String,
    pub strategy: TeamStrategy,
    /// Missed offers in a row before the agent goes `break_out` (0 = never).
    pub max_no_answer: u32,
    /// Seconds an agent stays `missed` after an unanswered offer.
    pub no_answer_delay_time: u32,
    /// Seconds of `wrap_time` after a conversation.
    pub wrap_up_time: u32,
    /// Seconds an offer rings the agent (0 → 15).
    pub call_timeout: u32,
}

/// How a team orders the free agents that are equal on skill level and capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TeamStrategy {
    /// The agent whose call channel has been waiting longest.
    #[default]
    LongestIdle,
    /// The agent offered a call longest ago.
    RoundRobin,
    /// Always the lowest agent id first.
    TopDown,
    /// The agent that answered the fewest calls.
    FewestCalls,
    /// The agent with the least talk time.
    LeastTalkTime,
    /// A (seeded) random draw each time the agent becomes free.
    Random,
    /// Skill level and capacity only (then longest idle).
    SkillCapacity,
}

impl TeamStrategy {
    /// Parses Webitel's team strategy names; anything unknown is longest idle.
    pub fn parse(s: &str) -> Self {
        match s {
            "round-robin" | "round-robin-bucket" => TeamStrategy::RoundRobin,
            "top-down" => TeamStrategy::TopDown,
            "fewest-calls" => TeamStrategy::FewestCalls,
            "least-talk-time" => TeamStrategy::LeastTalkTime,
            "random" => TeamStrategy::Random,
            "skill-capacity" => TeamStrategy::SkillCapacity,
            _ => TeamStrategy::LongestIdle,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TeamStrategy::LongestIdle => "longest-idle-agent",
            TeamStrategy::RoundRobin => "round-robin",
            TeamStrategy::TopDown => "top-down",
            TeamStrategy::FewestCalls => "fewest-calls",
            TeamStrategy::LeastTalkTime => "least-talk-time",
            TeamStrategy::Random => "random",
            TeamStrategy::SkillCapacity => "skill-capacity",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct QueueConf {
    pub id: i64,
    pub name: String,
    /// Webitel queue type; only 1 (inbound call) is distributed here.
    pub kind: i32,
    pub enabled: bool,
    /// Higher first across queues.
    pub priority: i32,
    pub strategy: QueueStrategy,
    pub team_id: Option<i64>,
    pub skills: Vec<QueueSkill>,
    /// Post-call processing (`task_processing.enabled`); also what `has_reporting` says.
    pub processing: bool,
    pub processing_sec: u32,
    pub processing_renewal_sec: u32,
    /// Seconds a caller waits for an agent (payload `max_wait_time`; 0 → 60).
    pub max_wait_time: u32,
    pub sticky_agent: bool,
    /// 0 → 30.
    pub sticky_agent_sec: u32,
    /// Queue variables; `wbt_auto_answer` becomes `offering.auto_answer`.
    pub variables: BTreeMap<String, String>,
    /// What a dialer queue (type 4 progressive, 5 predictive) dials with.
    pub dialer: DialerConf,
}

/// The payload keys of a dialer queue (CC-NOTES 2.3), as the engine uses them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialerConf {
    /// A member stops after this many attempts (`max_attempts`; 0 stops after the first).
    pub max_attempts: u32,
    /// Seconds before a member is called again (`wait_between_retries`).
    pub wait_between_retries: u32,
    /// Seconds a customer's phone rings (`originate_timeout`; 0 → 60).
    pub originate_timeout: u32,
    /// Concurrent calls of the queue (`max_calls`); `None` = unlimited.
    pub max_calls: Option<u32>,
    /// An abandoned member is called again (after 72 h at the earliest) instead of stopped.
    pub retry_abandoned: bool,
    /// Seconds an answered customer may wait for an agent before the call is abandoned
    /// (`max_wait_time`; the law's 2 s by default for predictive, 30 s after a progressive
    /// agent missed the offer).
    pub max_wait_time: u32,
    /// The gateway calls go out through (payload `gateway_id`); none: the queue does not dial.
    pub gateway_id: Option<i64>,
    /// Caller id shown to customers when a number has no display of its own (`display`).
    pub display: String,
    /// Local calling hours in the member's time zone, minutes after midnight `[from, to)`.
    pub hours: (u32, u32),
}

impl Default for DialerConf {
    fn default() -> Self {
        DialerConf {
            max_attempts: 3,
            wait_between_retries: 1800,
            originate_timeout: 60,
            max_calls: None,
            retry_abandoned: false,
            max_wait_time: 0,
            gateway_id: None,
            display: String::new(),
            hours: (8 * 60, 21 * 60),
        }
    }
}

/// One number of a member, with its own retry bookkeeping.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CommConf {
    pub destination: String,
    /// Higher first.
    pub priority: i32,
    /// Caller id for this number (empty: the queue's).
    pub display: String,
    pub attempts: u32,
    /// Barred or finished: not dialled again.
    pub stopped: bool,
    pub last_cause: String,
    /// Epoch ms.
    pub last_activity_at: i64,
}

/// A dialer member the store says may be called now.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemberConf {
    pub id: i64,
    pub name: String,
    /// Higher first.
    pub priority: i32,
    /// IANA zone; empty when unknown (then calling hours are not checked).
    pub timezone: String,
    /// Epoch ms from which it may be called.
    pub ready_at: i64,
    pub attempts: u32,
    pub communications: Vec<CommConf>,
}

/// A member's bookkeeping after an attempt (or a move of its `ready_at`), for the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRecord {
    pub domain_id: i64,
    pub member_id: i64,
    pub attempts: u32,
    /// Epoch ms.
    pub ready_at: i64,
    /// Set once the member is done: `success`, `failed`, `abandoned`, …
    pub stop_cause: Option<String>,
    pub stop_at: Option<i64>,
    pub last_activity_at: i64,
    pub communications: Vec<CommConf>,
}

/// Order of the calls waiting in one queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueueStrategy {
    /// Oldest first; a call no free agent may take lets the next one through.
    #[default]
    Fifo,
    /// Newest first.
    Lifo,
    /// Oldest first, and nobody overtakes the head.
    StrictFifo,
}

impl QueueStrategy {
    pub fn parse(s: &str) -> Self {
        match s {
            "lifo" => QueueStrategy::Lifo,
            "strict_fifo" => QueueStrategy::StrictFifo,
            _ => QueueStrategy::Fifo,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSkill {
    pub skill_id: i64,
    /// Lower levels are used first.
    pub lvl: i32,
    pub min_capacity: i32,
    pub max_capacity: i32,
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// `cc_agent_online`.
    Online { agent_id: i64, on_demand: bool },
    /// `cc_agent_pause`.
    Pause {
        agent_id: i64,
        payload: Option<String>,
        comment: Option<String>,
    },
    /// `cc_agent_offline`.
    Offline { agent_id: i64 },
    /// `cc_agent_waiting`: leave `wrap_time` or `missed` early.
    Waiting { agent_id: i64, channel: String },
    /// A caller's leg enters a queue (`joinQueue` in the routing schema).
    Join {
        domain_id: i64,
        queue_id: i64,
        member_leg: String,
        number: String,
        name: String,
        priority: i32,
    },
    /// The agent leg got 180 (informational).
    OfferRinging { attempt_id: i64 },
    /// The agent answered and the runtime bridged the two legs.
    OfferAnswered { attempt_id: i64 },
    /// The agent leg failed, rang out or was rejected.
    OfferFailed { attempt_id: i64 },
    /// The caller hung up.
    MemberLeft { attempt_id: i64 },
    /// The agent leg ended after the bridge.
    AgentLeft { attempt_id: i64 },
    /// `cc_reporting`.
    Reporting {
        attempt_id: i64,
        agent_id: Option<i64>,
        success: bool,
        description: Option<String>,
        next_distribute_at: Option<i64>,
    },
    /// `cc_renewal`.
    Renewal { attempt_id: i64, sec: u32 },
    /// A dialer queue's next members, best first (the store's answer to `LoadMembers`; may
    /// be empty). Replaces what the engine held for the queue.
    Members {
        queue_id: i64,
        members: Vec<MemberConf>,
    },
    /// The customer leg of a `Dial` answered; it waits in the queue now.
    MemberAnswered { attempt_id: i64 },
    /// The customer leg of a `Dial` was not reached (`cause`: `NO_ANSWER`, `USER_BUSY`, …).
    DialFailed { attempt_id: i64, cause: String },
    /// `poll_timeout` passed.
    Timeout,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Done,
    Joined { attempt_id: i64 },
}

/// The two webitel-sdk event streams of an agent's user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    AgentStatus,
    Channel,
}

impl EventKind {
    /// The WebSocket `event` name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::AgentStatus => "agent_status",
            EventKind::Channel => "channel",
        }
    }

    /// The WebSocket message: these two events carry their payload unwrapped in `data`.
    pub fn envelope(self, data: &Value) -> Value {
        serde_json::json!({"event": self.as_str(), "data": data})
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Ring `agent_leg` (a fresh UUID) with the member leg's call for `timeout`, and report
    /// the outcome as `OfferRinging`/`OfferAnswered`/`OfferFailed`. Comes right after the
    /// `distribute` event, so the agent leg's `ringing` event (with `queue.attempt_id`) can
    /// find the task.
    Offer {
        attempt_id: i64,
        domain_id: i64,
        queue_id: i64,
        queue_name: String,
        agent_id: i64,
        user_id: i64,
        member_leg: String,
        agent_leg: String,
        timeout: Duration,
        has_reporting: bool,
        /// The caller's number and name, for the agent leg's caller id.
        number: String,
        member_name: String,
    },
    /// Stop ringing the agent leg (caller left, agent went offline or paused, queue timeout);
    /// an answer that races this must be hung up.
    CancelOffer { attempt_id: i64, agent_leg: String },
    /// The caller leaves the queue without an agent (`timeout`, `cancel`): the runtime goes on
    /// with the caller's routing schema after `joinQueue`.
    Leave {
        attempt_id: i64,
        member_leg: String,
        result: String,
    },
    /// One event for one user's sockets; wrap it with [`EventKind::envelope`].
    Event {
        domain_id: i64,
        user_id: i64,
        kind: EventKind,
        data: Value,
    },
    /// Persist the agent's status (REST reads it from the store).
    AgentStatus {
        domain_id: i64,
        agent_id: i64,
        status: String,
        payload: Option<String>,
        at: i64,
    },
    /// The attempt as it stands now (upsert by id).
    Attempt(AttemptRecord),
    /// The live board of a domain changed (at most one per domain per `handle`).
    BoardChanged { domain_id: i64 },
    /// Read up to `limit` callable members of a dialer queue from the store and hand them in
    /// as `Input::Members`.
    LoadMembers {
        domain_id: i64,
        queue_id: i64,
        limit: usize,
    },
    /// Call a member (customer first) through `gateway_id`: the leg `member_leg` rings
    /// `destination` for `timeout` showing `display`; report `MemberAnswered` or `DialFailed`,
    /// then the usual `MemberLeft`/offers as for an inbound caller.
    Dial {
        attempt_id: i64,
        domain_id: i64,
        queue_id: i64,
        member_id: i64,
        member_name: String,
        destination: String,
        display: String,
        gateway_id: i64,
        member_leg: String,
        timeout: Duration,
    },
    /// Persist a member's bookkeeping.
    MemberUpdate(MemberRecord),
}

/// An attempt's row: history fills Webitel's contact-center fields (CC-NOTES 4) from it.
/// Times are epoch ms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptRecord {
    pub id: i64,
    pub domain_id: i64,
    pub queue_id: i64,
    pub queue_name: String,
    pub team_id: Option<i64>,
    pub agent_id: Option<i64>,
    pub agent_name: Option<String>,
    pub member_leg: String,
    pub agent_leg: Option<String>,
    pub number: String,
    pub member_name: String,
    pub joined_at: Option<i64>,
    pub offering_at: Option<i64>,
    pub bridged_at: Option<i64>,
    pub leaving_at: Option<i64>,
    pub reporting_at: Option<i64>,
    pub result: Option<String>,
    pub description: Option<String>,
    /// Webitel attempt state: `wait_agent`, `offering`, `bridged`, `processing`, `leaving`.
    pub state: String,
    /// The dialer member called (outbound queues).
    pub member_id: Option<i64>,
}

/// An agent's live state, for REST (which shows it over the stored status).
#[derive(Debug, Clone, PartialEq)]
pub struct AgentView {
    pub agent_id: i64,
    pub domain_id: i64,
    pub user_id: i64,
    pub status: String,
    pub status_payload: Option<String>,
    pub status_comment: Option<String>,
    pub on_demand: bool,
    /// Epoch ms.
    pub last_status_change: i64,
    /// Webitel REST `channel[]` items `{channel, state, joined_at, timeout}` (int64 as strings,
    /// proto3 JSON).
    pub channels: Vec<Value>,
}
