//! The engine's live records: agents with their call channel, queues with their ordered sets
//! of free agents and waiting calls, and attempts.

use crate::types::{AgentConf, QueueConf, TeamConf, TeamStrategy};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

/// A timer's key in the engine's timer map; the owner keeps it to cancel the timer.
pub(crate) type TimerKey = (Instant, u64);

/// The five channels every Webitel agent has (one row each, CC-NOTES 1.2). Only `call` moves
/// here; the others stay `waiting`.
pub(crate) const CHANNELS: [&str; 5] = ["call", "chat", "task", "out_call", "im"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Online,
    Pause,
    Offline,
    BreakOut,
}

impl Status {
    pub(crate) fn parse(s: &str) -> Self {
        match s {
            "online" => Status::Online,
            "pause" => Status::Pause,
            "break_out" => Status::BreakOut,
            _ => Status::Offline,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Online => "online",
            Status::Pause => "pause",
            Status::Offline => "offline",
            Status::BreakOut => "break_out",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChanState {
    Waiting,
    Offering,
    Bridged,
    Processing,
    WrapTime,
    Missed,
}

impl ChanState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ChanState::Waiting => "waiting",
            ChanState::Offering => "offering",
            ChanState::Bridged => "bridged",
            ChanState::Processing => "processing",
            ChanState::WrapTime => "wrap_time",
            ChanState::Missed => "missed",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct CallChannel {
    pub(crate) state: ChanState,
    /// Epoch ms of entering `state`.
    pub(crate) joined_at: i64,
    /// Epoch ms deadline of `state` (0 = none).
    pub(crate) timeout: i64,
    /// The attempt the state is about (offering…processing, and wrap_time after it).
    pub(crate) attempt: Option<i64>,
    pub(crate) no_answers: u32,
    pub(crate) timer: Option<TimerKey>,
}

/// How an agent fits a queue: the best matching queue-skill level and the agent's capacity
/// in it (both 0 for a queue without skills).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fit {
    pub(crate) queue_id: i64,
    pub(crate) lvl: i32,
    pub(crate) capacity: i32,
}

#[derive(Debug, Clone)]
pub(crate) struct Agent {
    pub(crate) conf: AgentConf,
    pub(crate) domain_id: i64,
    /// Still in the directory. A removed agent lingers (offline) until its call channel is
    /// idle, so a conversation in progress can finish.
    pub(crate) present: bool,
    pub(crate) status: Status,
    pub(crate) payload: Option<String>,
    pub(crate) comment: Option<String>,
    pub(crate) last_status_change: i64,
    pub(crate) on_demand: bool,
    pub(crate) call: CallChannel,
    /// `joined_at` of the channels that never move (chat, task, out_call, im).
    pub(crate) others_joined_at: i64,
    pub(crate) fits: Vec<Fit>,
    /// Where the agent sits in queues' free sets right now.
    pub(crate) free_keys: Vec<(i64, FreeKey)>,
    /// Engine-monotonic µs when the call channel last became `waiting`.
    pub(crate) idle_since: i64,
    /// Sequence number of the last offer (round-robin).
    pub(crate) last_offer: i64,
    pub(crate) calls: i64,
    pub(crate) talk_ms: i64,
    /// Drawn each time the agent becomes free (random strategy).
    pub(crate) rand_key: i64,
}

impl Agent {
    /// May be offered a call now.
    pub(crate) fn is_free(&self) -> bool {
        self.present && self.status == Status::Online && self.call.state == ChanState::Waiting
    }

    pub(crate) fn is_online(&self) -> bool {
        self.present && self.status == Status::Online
    }
}

/// Order of free agents in one queue: lowest skill level, highest capacity, then the team
/// strategy's two keys, then agent id. Smallest first.
pub(crate) type FreeKey = (i32, i32, i64, i64, i64);

/// Order of waiting calls in one queue: highest priority, then the queue strategy's order
/// (join sequence, negated for lifo), then attempt id. Smallest first.
pub(crate) type WaitKey = (i64, i64, i64);

#[derive(Debug, Clone)]
pub(crate) struct Queue {
    pub(crate) conf: QueueConf,
    pub(crate) domain_id: i64,
    pub(crate) strategy: TeamStrategy,
    /// Agents that may take this queue's calls, with their fit.
    pub(crate) eligible: BTreeMap<i64, Fit>,
    pub(crate) free: BTreeSet<FreeKey>,
    pub(crate) waiting: BTreeSet<WaitKey>,
    /// Eligible agents that are online (any channel state).
    pub(crate) online: usize,
    /// Every live attempt of the queue.
    pub(crate) live: BTreeSet<i64>,
}

impl Queue {
    /// Waiting calls are offered to free agents: inbound callers, and answered customers of
    /// dialer queues (types 4 and 5).
    pub(crate) fn distributes(&self) -> bool {
        self.conf.enabled && matches!(self.conf.kind, 1 | 4 | 5)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AState {
    /// A dialer's customer leg rings (progressive: its agent is reserved).
    Dialing,
    Waiting,
    Offering,
    Bridged,
    Processing,
}

impl AState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            AState::Dialing => "offering",
            AState::Waiting => "wait_agent",
            AState::Offering => "offering",
            AState::Bridged => "bridged",
            AState::Processing => "processing",
        }
    }
}

/// The team settings an attempt's offer runs under (the queue's team, else the agent's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct TeamRules {
    pub(crate) id: Option<i64>,
    pub(crate) max_no_answer: u32,
    pub(crate) no_answer_delay_time: u32,
    pub(crate) wrap_up_time: u32,
    pub(crate) call_timeout: u32,
}

impl TeamRules {
    pub(crate) fn of(t: &TeamConf) -> Self {
        TeamRules {
            id: Some(t.id),
            max_no_answer: t.max_no_answer,
            no_answer_delay_time: t.no_answer_delay_time,
            wrap_up_time: t.wrap_up_time,
            call_timeout: t.call_timeout,
        }
    }

    pub(crate) fn ring_sec(&self) -> u32 {
        if self.call_timeout == 0 {
            15
        } else {
            self.call_timeout
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Attempt {
    pub(crate) id: i64,
    pub(crate) domain_id: i64,
    pub(crate) queue_id: i64,
    pub(crate) queue_name: String,
    pub(crate) member_leg: String,
    pub(crate) number: String,
    pub(crate) name: String,
    pub(crate) priority: i32,
    /// Join order (the fifo/lifo key).
    pub(crate) seq: i64,
    pub(crate) state: AState,
    pub(crate) agent_id: Option<i64>,
    pub(crate) agent_name: Option<String>,
    pub(crate) agent_leg: Option<String>,
    pub(crate) team: TeamRules,
    pub(crate) joined_at: i64,
    pub(crate) offering_at: Option<i64>,
    pub(crate) bridged_at: Option<i64>,
    pub(crate) leaving_at: Option<i64>,
    pub(crate) reporting_at: Option<i64>,
    pub(crate) result: Option<String>,
    pub(crate) description: Option<String>,
    /// Agents that let an offer of this attempt go unanswered.
    pub(crate) missed_by: Vec<i64>,
    pub(crate) wait_timer: Option<TimerKey>,
    pub(crate) offer_timer: Option<TimerKey>,
    /// Queue settings fixed at join, so a queue edit or removal does not change a call in
    /// progress.
    pub(crate) processing: Option<(u32, u32)>,
    pub(crate) auto_answer: Option<String>,
    pub(crate) sticky_sec: Option<u32>,
    /// Epoch ms processing deadline (0 = none).
    pub(crate) processing_deadline: i64,
    pub(crate) reported: bool,
    pub(crate) talk_from: Option<Instant>,
    /// A dialer's call: the member and how the call went.
    pub(crate) outbound: Option<Box<Outbound>>,
}

/// What an attempt starts from: who is calling into which queue; everything else starts empty.
pub(crate) struct Joining {
    pub(crate) id: i64,
    pub(crate) domain_id: i64,
    pub(crate) queue_id: i64,
    pub(crate) queue_name: String,
    pub(crate) member_leg: String,
    pub(crate) number: String,
    pub(crate) name: String,
    pub(crate) priority: i32,
    pub(crate) seq: i64,
    pub(crate) state: AState,
    pub(crate) joined_at: i64,
}

impl Attempt {
    pub(crate) fn start(j: Joining) -> Self {
        Attempt {
            id: j.id,
            domain_id: j.domain_id,
            queue_id: j.queue_id,
            queue_name: j.queue_name,
            member_leg: j.member_leg,
            number: j.number,
            name: j.name,
            priority: j.priority,
            seq: j.seq,
            state: j.state,
            agent_id: None,
            agent_name: None,
            agent_leg: None,
            team: TeamRules::default(),
            joined_at: j.joined_at,
            offering_at: None,
            bridged_at: None,
            leaving_at: None,
            reporting_at: None,
            result: None,
            description: None,
            missed_by: Vec::new(),
            wait_timer: None,
            offer_timer: None,
            processing: None,
            auto_answer: None,
            sticky_sec: None,
            processing_deadline: 0,
            reported: false,
            talk_from: None,
            outbound: None,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Outbound {
    pub(crate) member: crate::types::MemberConf,
    /// The number dialled (index into `member.communications`).
    pub(crate) comm: usize,
    pub(crate) kind: crate::pace::DialKind,
    pub(crate) conf: crate::types::DialerConf,
    pub(crate) dialed_at: Instant,
    pub(crate) answered_at: Option<Instant>,
    pub(crate) bridged_at: Option<Instant>,
    /// Why the customer was not reached.
    pub(crate) cause: Option<String>,
    /// Answered, and no agent came (or the customer hung up first).
    pub(crate) abandoned: bool,
    /// `cc_reporting`'s `next_distribute_at` (epoch ms).
    pub(crate) next_at: Option<i64>,
}

impl Attempt {
    pub(crate) fn has_reporting(&self) -> bool {
        self.processing.is_some()
    }
}
