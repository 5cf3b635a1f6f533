//! Sans-IO contact center, inbound half: agents with statuses and channels, inbound call
//! queues (type 1), attempts, distribution of waiting calls to the best free agent, missed
//! offers, processing (post-call work), wrap-up, reporting and renewal. It speaks the exact
//! webitel-sdk JSON of `agent_status` and `channel` events and of the `cc_agent_session` /
//! `cc_agent_tasks` replies (CC-NOTES 1). No sockets, no clocks, no database:
//!
//! ```text
//! engine.set_directory(domain, dir, now, wall_ms);   // agents, teams, queues from the store
//! engine.handle(input, now, wall_ms)?;               // WS actions, leg reports, Timeout
//! while let Some(out) = engine.poll_output() { ... } // offers, events, records
//! if let Some(at) = engine.poll_timeout() { /* at `at`: handle(Input::Timeout, ..) */ }
//! ```
//!
//! # An inbound call, as the agent's client sees it
//! 1. `Join` → `Attempt` record (`wait_agent`), `Reply::Joined`.
//! 2. A free agent fits → channel `distribute` (`agent_channel_id` = a fresh agent leg,
//!    `member_channel_id` = the caller's leg), then [`Output::Offer`] (ring that leg), then
//!    channel `offering`.
//! 3. `OfferAnswered` → `bridged`. (`OfferFailed` → `missed` with `missed.timeout`; the call
//!    waits for another agent; at the team's `max_no_answer` the agent goes `break_out`.)
//! 4. `MemberLeft`/`AgentLeft` → `processing` (queue with processing) until `Reporting` or
//!    the deadline, or straight to `wrap_time`; after the team's `wrap_up_time` → `waiting`.
//!
//! A caller who hangs up before the bridge ends the attempt `abandoned` (a ringing offer gets
//! [`Output::CancelOffer`]); `max_wait_time` ends it `timeout` with [`Output::Leave`], so the
//! runtime continues the caller's schema.
//!
//! # Who gets the call
//! An online agent with an idle call channel, in the queue's team (if any), with an enabled
//! skill inside an enabled queue skill's capacity range: lowest skill level first, then
//! highest capacity, then the team strategy (longest idle by default). Across queues the
//! higher priority wins, then the call's priority, then fifo/lifo. One offer per agent at a
//! time; an agent who missed a call is not offered it again while another eligible online
//! agent has not tried it.

//! # What the runtime must do
//! - Ring `Offer.agent_leg` for `Offer.timeout` with `queue.attempt_id` in its `ringing`
//!   event (the SDK links the task through it), and report the leg as `OfferRinging`,
//!   `OfferAnswered` (after bridging it with the member leg) or `OfferFailed`.
//! - Hang the agent leg up on `CancelOffer`, and also when `OfferAnswered` is refused (the
//!   offer was withdrawn in the meantime).
//! - Report the caller's hangup (`MemberLeft`) and, after the bridge, the agent's
//!   (`AgentLeft`); the second of the two is harmless.
//! - On `Leave`, continue the caller's routing schema after `joinQueue`.
//! - Send `Event`s to the user's sockets as [`EventKind::envelope`], persist `AgentStatus`
//!   and `Attempt`, push `board` on `BoardChanged`.

mod directory;
mod distribute;
mod engine;
mod error;
mod outbound;
pub mod pace;
mod state;
mod types;
mod wire;

pub use engine::Engine;
pub use error::CcError;
pub use outbound::{DialStats, DIAL_BLOCKED};
pub use types::{
    AgentConf, AgentSkill, AgentView, AttemptRecord, CommConf, Config, DialerConf, Directory,
    EventKind, IdSource, Input, MemberConf, MemberRecord, Output, QueueConf, QueueSkill,
    QueueStrategy, Reply, TeamConf, TeamStrategy,
};
