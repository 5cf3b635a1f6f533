//! Contact center (`engine.Agent`, `AgentTeam`, `Skill`, `AgentSkill`, `Queue`, `QueueSkill`,
//! `AttemptHistory`). int64 ids and epoch-ms times travel as strings; Webitel's uint32 fields
//! (`chat_count`, `processing_sec`, a queue skill's `id`) are numbers. Every field is optional
//! so that one type serves replies, create bodies and patches (absent = not given).

use crate::routing::flex_i32;
use crate::wire::{flex_string, ObjectId};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// Accepts a JSON number, a numeric string, `""` or `null` for an integer field.
pub fn flex_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    use serde::de::Error;
    match flex_string(d)? {
        None => Ok(None),
        Some(s) if s.trim().is_empty() => Ok(None),
        Some(s) => s
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| D::Error::custom(format!("{s:?} is not an integer"))),
    }
}

/// The team strategies Webitel's admin offers (the order agents are offered calls in).
pub const TEAM_STRATEGIES: &[&str] = &[
    "random",
    "fewest-calls",
    "least-talk-time",
    "top-down",
    "round-robin",
    "round-robin-bucket",
    "longest-idle-agent",
    "skill-capacity",
];

/// The member orders of a queue.
pub const QUEUE_STRATEGIES: &[&str] = &["fifo", "lifo", "strict_fifo"];

/// Queue types by number (`type`): 0 offline … 10 outbound call.
pub const QUEUE_TYPES: &[&str] = &[
    "offline",
    "inbound",
    "ivr",
    "preview",
    "progressive",
    "predictive",
    "inbound chat",
    "task",
    "outbound_task",
    "im",
    "outbound_call",
];

/// One channel of an agent (`engine.AgentChannel`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct AgentChannel {
    pub channel: String,
    pub state: String,
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub joined_at: Option<String>,
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub timeout: Option<String>,
}

/// `engine.Agent.UserPresence`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct UserPresence {
    pub status: String,
}

/// A contact-center agent: a user of the domain who takes queue work (`engine.Agent`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct Agent {
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    /// The agent's user; required on create.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<ObjectId>,
    /// The user's display name (read only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `online`, `pause`, `offline`, `break_out` (read only; see `PATCH …/status`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Pause cause of a paused agent (read only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_payload: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_status_change: Option<String>,
    /// Seconds in the current status.
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub status_duration: Option<String>,
    #[serde(deserialize_with = "flex_i32", skip_serializing_if = "Option::is_none")]
    pub progressive_count: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<Vec<AgentChannel>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub greeting_media: Option<ObjectId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_channels: Option<Vec<String>>,
    #[serde(deserialize_with = "flex_i64", skip_serializing_if = "Option::is_none")]
    pub chat_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supervisor: Option<Vec<ObjectId>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<ObjectId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<ObjectId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auditor: Option<Vec<ObjectId>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_supervisor: Option<bool>,
    /// The agent's skills (read only; written through `/agents/{id}/skills`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skills: Option<Vec<ObjectId>>,
    /// The user's extension (read only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extension: Option<String>,
    #[serde(deserialize_with = "flex_i64", skip_serializing_if = "Option::is_none")]
    pub task_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub screen_control: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_set_screen_control: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_presence_status: Option<UserPresence>,
    #[serde(deserialize_with = "flex_i64", skip_serializing_if = "Option::is_none")]
    pub extra_chat_count: Option<i64>,
}

/// Body of `PATCH /call_center/agents/{id}/status` (`UpdateAgentStatusBody`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct AgentStatusRequest {
    /// `online`, `pause` or `offline`.
    pub status: String,
    pub on_demand: bool,
    pub channels: Vec<String>,
    /// The pause cause.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_comment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub online_skill: Option<ObjectId>,
}

/// `engine.Response`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StatusResponse {
    pub status: String,
}

/// A team of agents and how calls are offered to them (`engine.AgentTeam`). Times are seconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct Team {
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// One of [`TEAM_STRATEGIES`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    /// Missed offers in a row that put an agent in `break_out` (0 = never).
    #[serde(deserialize_with = "flex_i32", skip_serializing_if = "Option::is_none")]
    pub max_no_answer: Option<i32>,
    #[serde(deserialize_with = "flex_i32", skip_serializing_if = "Option::is_none")]
    pub no_answer_delay_time: Option<i32>,
    #[serde(deserialize_with = "flex_i32", skip_serializing_if = "Option::is_none")]
    pub wrap_up_time: Option<i32>,
    /// How long an agent's leg rings.
    #[serde(deserialize_with = "flex_i32", skip_serializing_if = "Option::is_none")]
    pub call_timeout: Option<i32>,
    #[serde(deserialize_with = "flex_i32", skip_serializing_if = "Option::is_none")]
    pub invite_chat_timeout: Option<i32>,
    #[serde(deserialize_with = "flex_i32", skip_serializing_if = "Option::is_none")]
    pub task_accept_timeout: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin: Option<Vec<ObjectId>>,
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<ObjectId>,
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub updated_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<ObjectId>,
}

/// A skill agents have and queues ask for (`engine.Skill`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct Skill {
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Agents with this skill enabled who are not offline (read only).
    #[serde(deserialize_with = "flex_i32", skip_serializing_if = "Option::is_none")]
    pub active_agents: Option<i32>,
    /// Agents with this skill (read only).
    #[serde(deserialize_with = "flex_i32", skip_serializing_if = "Option::is_none")]
    pub total_agents: Option<i32>,
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<ObjectId>,
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub updated_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<ObjectId>,
}

/// A skill of an agent (`engine.AgentSkill`): `capacity` 0–100.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct AgentSkill {
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<ObjectId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skill: Option<ObjectId>,
    /// The agent's team (read only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<ObjectId>,
    #[serde(deserialize_with = "flex_i32", skip_serializing_if = "Option::is_none")]
    pub capacity: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<ObjectId>,
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub updated_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<ObjectId>,
}

/// Body of the bulk `PATCH /call_center/agents/{agent_id}/skills`: the skills named by `id`
/// or `skill_id` (all of the agent's when both are empty) take `capacity` and `enabled`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct AgentSkillsPatch {
    #[serde(deserialize_with = "flex_i32", skip_serializing_if = "Option::is_none")]
    pub capacity: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(deserialize_with = "flex_strings")]
    pub id: Vec<String>,
    #[serde(deserialize_with = "flex_strings")]
    pub skill_id: Vec<String>,
}

/// A list of ids as strings or numbers.
fn flex_strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    struct One(#[serde(deserialize_with = "flex_string")] Option<String>);
    Ok(Option::<Vec<One>>::deserialize(d)?
        .unwrap_or_default()
        .into_iter()
        .filter_map(|o| o.0)
        .collect())
}

/// `engine.TaskProcessing`: post-call work of a queue (Webitel's newer spelling of
/// `processing`, `processing_sec`, `processing_renewal_sec`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct TaskProcessing {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(deserialize_with = "flex_i64", skip_serializing_if = "Option::is_none")]
    pub sec: Option<i64>,
    #[serde(deserialize_with = "flex_i64", skip_serializing_if = "Option::is_none")]
    pub renewal_sec: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub autosave: Option<bool>,
}

/// A tag of a queue.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct QueueTag {
    pub name: String,
}

/// A queue (`engine.Queue`): `type` is one of [`QUEUE_TYPES`] by index, `strategy` one of
/// [`QUEUE_STRATEGIES`]; `payload` is free JSON read by the queue's type.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct Queue {
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub domain_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(
        rename = "type",
        deserialize_with = "flex_i32",
        skip_serializing_if = "Option::is_none"
    )]
    pub kind: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(deserialize_with = "flex_i32", skip_serializing_if = "Option::is_none")]
    pub priority: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<ObjectId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub payload: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variables: Option<BTreeMap<String, String>>,
    #[serde(deserialize_with = "flex_i32", skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i32>,
    #[serde(deserialize_with = "flex_i32", skip_serializing_if = "Option::is_none")]
    pub sec_locate_agent: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ringtone: Option<ObjectId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sticky_agent: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processing: Option<bool>,
    #[serde(deserialize_with = "flex_i64", skip_serializing_if = "Option::is_none")]
    pub processing_sec: Option<i64>,
    #[serde(deserialize_with = "flex_i64", skip_serializing_if = "Option::is_none")]
    pub processing_renewal_sec: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_processing: Option<TaskProcessing>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<QueueTag>>,
    /// The do-not-call list whose numbers the dialer skips (`{id, name}`; `{}` clears it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dnc_list: Option<ObjectId>,
    /// Members, waiting and active attempts (read only).
    #[serde(deserialize_with = "flex_i32", skip_serializing_if = "Option::is_none")]
    pub count: Option<i32>,
    #[serde(deserialize_with = "flex_i32", skip_serializing_if = "Option::is_none")]
    pub waiting: Option<i32>,
    #[serde(deserialize_with = "flex_i32", skip_serializing_if = "Option::is_none")]
    pub active: Option<i32>,
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<ObjectId>,
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub updated_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<ObjectId>,
}

/// A skill a queue asks for (`engine.QueueSkill`): agents whose capacity in it lies within
/// `min_capacity..=max_capacity` serve the queue, lower `lvl` first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct QueueSkill {
    #[serde(deserialize_with = "flex_i64", skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skill: Option<ObjectId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buckets: Option<Vec<ObjectId>>,
    #[serde(deserialize_with = "flex_i32", skip_serializing_if = "Option::is_none")]
    pub lvl: Option<i32>,
    #[serde(deserialize_with = "flex_i32", skip_serializing_if = "Option::is_none")]
    pub min_capacity: Option<i32>,
    #[serde(deserialize_with = "flex_i32", skip_serializing_if = "Option::is_none")]
    pub max_capacity: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// The customer's number of an attempt (`engine.MemberCommunication`, the parts we keep).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct MemberCommunication {
    pub destination: String,
}

/// One finished or running queue attempt (`engine.AttemptHistory`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct AttemptHistory {
    pub id: String,
    pub channel: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<ObjectId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<ObjectId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<ObjectId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<ObjectId>,
    pub member_call_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_call_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<MemberCommunication>,
    pub joined_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offering_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bridged_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reporting_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leaving_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub variables: BTreeMap<String, String>,
}

/// One number of a dialer member (`engine.MemberCommunication`): `destination` is required
/// on create; `priority` higher first; `state`, `attempts`, `last_*` are the dialer's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct Communication {
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub destination: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<ObjectId>,
    #[serde(deserialize_with = "flex_i32", skip_serializing_if = "Option::is_none")]
    pub priority: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub display: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<ObjectId>,
    #[serde(deserialize_with = "flex_i32", skip_serializing_if = "Option::is_none")]
    pub state: Option<i32>,
    #[serde(deserialize_with = "flex_i32", skip_serializing_if = "Option::is_none")]
    pub attempts: Option<i32>,
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_activity_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_cause: Option<String>,
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub stop_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dtmf: Option<String>,
}

/// A dialer member (`engine.MemberInQueue`; also the create, bulk item and patch bodies).
/// `timezone` is `{name}` with an IANA zone name; `min_offering_at` is when it may be called
/// next (epoch ms, a string).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct Member {
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<ObjectId>,
    #[serde(deserialize_with = "flex_i32", skip_serializing_if = "Option::is_none")]
    pub priority: Option<i32>,
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub expire_at: Option<String>,
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variables: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<ObjectId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub communications: Option<Vec<Communication>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket: Option<ObjectId>,
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub min_offering_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_cause: Option<String>,
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_activity_at: Option<String>,
    #[serde(deserialize_with = "flex_i32", skip_serializing_if = "Option::is_none")]
    pub attempts: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reserved: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<ObjectId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skill: Option<ObjectId>,
}

/// `POST …/members/bulk`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct MemberBulk {
    pub items: Vec<Member>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
}

/// The ids a bulk create made, in item order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct MemberBulkResponse {
    pub ids: Vec<String>,
}

/// `PATCH …/members/reset`: which stopped members start over (all of the queue's when empty).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct MemberResetRequest {
    #[serde(deserialize_with = "flex_strings")]
    pub ids: Vec<String>,
    pub stop_cause: Vec<String>,
}

/// How many members a reset started over.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct CountResponse {
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub count: Option<String>,
}

/// A do-not-call list (`engine.List`): numbers a queue naming it never dials.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct DncList {
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<ObjectId>,
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub updated_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<ObjectId>,
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub domain_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Numbers on the list (read only).
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub count: Option<String>,
}

/// A number on a do-not-call list (`engine.ListCommunication`); `expire_at` (epoch ms) ends
/// its bar, absent or `"0"` = never.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct ListCommunication {
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub list_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub expire_at: Option<String>,
}

/// `POST /call_center/list/{list_id}/communication/bulk`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct ListCommunicationBulk {
    pub items: Vec<ListCommunication>,
}

/// `google.rpc.Status` as a bulk failure carries it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct RpcStatus {
    /// gRPC code: 3 invalid argument, 6 already exists.
    pub code: i32,
    pub message: String,
}

/// An item of a bulk request that was not written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct ListCommunicationBulkError {
    /// The item's position in `items`, from 0.
    pub index: i32,
    pub item: ListCommunication,
    pub error: RpcStatus,
}

/// The numbers written (`data`) and the items refused (`failures`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct ListCommunicationBulkResponse {
    pub data: Vec<ListCommunication>,
    pub failures: Vec<ListCommunicationBulkError>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_ids_take_numbers_or_text() {
        let a: Agent = serde_json::from_str(
            r#"{"user":{"id":7},"chat_count":"2","task_count":3,"progressive_count":"1"}"#,
        )
        .unwrap();
        assert_eq!(a.user.unwrap().int_id(), Some(7));
        assert_eq!((a.chat_count, a.task_count), (Some(2), Some(3)));
        assert_eq!(a.progressive_count, Some(1));
        let p: AgentSkillsPatch =
            serde_json::from_str(r#"{"id":["4",5],"enabled":false}"#).unwrap();
        assert_eq!(p.id, ["4", "5"]);
    }

    #[test]
    fn queue_type_travels_as_type_and_absent_fields_stay_absent() {
        let q: Queue = serde_json::from_str(r#"{"name":"Support","type":1}"#).unwrap();
        assert_eq!(q.kind, Some(1));
        let back = serde_json::to_value(&q).unwrap();
        assert_eq!(back, serde_json::json!({"name": "Support", "type": 1}));
    }
}
