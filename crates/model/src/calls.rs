//! Call history (`engine.HistoryCall`).

use crate::wire::ObjectId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// A call party (`engine.HistoryCall.from` / `to`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct Endpoint {
    #[serde(rename = "type", skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub number: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
}

/// A recording or other file of a call (`engine.CallFile`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct CallFile {
    pub id: String,
    pub name: String,
    pub size: String,
    pub mime_type: String,
    pub start_at: String,
    pub stop_at: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// One leg of a call in history. Times are epoch ms as strings; durations are seconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct HistoryCall {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bridged_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<ObjectId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extension: Option<String>,
    pub direction: String,
    pub destination: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<Endpoint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<Endpoint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_number: Option<String>,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answered_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bridged_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hangup_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stored_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hangup_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sip_code: Option<i32>,
    pub duration: i32,
    pub hold_sec: i32,
    pub wait_sec: i32,
    pub bill_sec: i32,
    pub talk_sec: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transfer_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transfer_to: Option<String>,
    pub has_children: bool,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub variables: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<CallFile>,
    /// `not_answered`, `cancelled`, `ended`, `agent_dropped`, `client_dropped` or `error`
    /// for a hung-up root leg; empty for child legs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hangup_disposition: Option<String>,
    // The queue attempt the leg belongs to (customer or agent leg); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<ObjectId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<ObjectId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<ObjectId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<ObjectId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub joined_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leaving_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reporting_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_bridged_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_wait_sec: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_duration_sec: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reporting_sec: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_description: Option<String>,
}
