//! Trunks and routing: SIP gateways (`/sip/gateways`), outbound routes
//! (`/routing/outbound/calls`, engine `RoutingOutboundCall`) and routing schemas
//! (`/routing/schema`, engine `RoutingSchema`, the flow JSON a call runs).

use crate::wire::{flex_string, ObjectId};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

/// Accepts a JSON number, a numeric string, `""` or `null` for an int32 field: the gateway
/// form sends ports and expiry times typed as text now and then.
pub fn flex_i32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i32>, D::Error> {
    use serde::de::Error;
    match flex_string(d)? {
        None => Ok(None),
        Some(s) if s.trim().is_empty() => Ok(None),
        Some(s) => s
            .trim()
            .parse::<i32>()
            .map(Some)
            .map_err(|_| D::Error::custom(format!("{s:?} is not a 32-bit integer"))),
    }
}

/// One entry of a trunk's IP access list: who may send calls to it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct GatewayAcl {
    /// IPv4 address or CIDR block (`203.0.113.7`, `203.0.113.0/24`).
    pub ip: String,
    /// `any`, `udp` or `tcp`; `any` when empty.
    pub proto: String,
    /// Source port; `null` (or 0) admits any port.
    #[serde(deserialize_with = "flex_i32")]
    pub port: Option<i32>,
}

/// A SIP gateway: a provider we register with (`register: true`) or a trunk that sends calls
/// from known addresses (`register: false`). `password` is accepted on input only: no reply
/// carries it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct Gateway {
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Outbound proxy: `[sip:|sips:]host[:port]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
    /// Trunk mode: the host calls are sent to and arrive for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Trunk mode: the sources admitted for inbound calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipacl: Option<Vec<GatewayAcl>>,
    /// Register mode: the address of record, `[sip:]user[@host[:port]]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Register mode: the digest username (the account's user part when empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Register mode: the digest password. Write only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Register mode: registration lifetime in seconds, 32–3600 (600 by default).
    #[serde(deserialize_with = "flex_i32", skip_serializing_if = "Option::is_none")]
    pub expires: Option<i32>,
    /// Register mode: the registrar URI when it differs from the proxy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registrar: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub register: Option<bool>,
    /// The routing schema inbound calls from this gateway run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<ObjectId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable: Option<bool>,
    /// Registration state (read only): 3 registered, 4–7 failed, others not registered.
    #[serde(deserialize_with = "flex_i32", skip_serializing_if = "Option::is_none")]
    pub r_state: Option<i32>,
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

/// An outbound route (`RoutingOutboundCall`): a dialled number matching `pattern` (an
/// unanchored regular expression) runs `schema`. List items also carry `position`; the
/// highest position among matching enabled routes wins.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct RoutingOutboundCall {
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<ObjectId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    #[serde(deserialize_with = "flex_i32", skip_serializing_if = "Option::is_none")]
    pub position: Option<i32>,
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

/// Reply of `PATCH /routing/outbound/calls/{from_id}/to/{to_id}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MovePositionResponse {
    pub success: bool,
}

/// A tag of a routing schema.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct SchemaTag {
    pub name: String,
}

/// A tag in use and how many schemas carry it (`GET /routing/schema/tags`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct RoutingSchemaTag {
    pub name: String,
    pub count: u32,
}

/// The kinds of routing schema (`RoutingSchemaType`), by their wire names.
pub const SCHEMA_TYPES: &[&str] = &["default", "voice", "chat", "processing", "service"];

/// A routing schema (`RoutingSchema`): Webitel's flow JSON, an array of application objects
/// such as `{"answer": ""}` or `{"bridge": {...}}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct RoutingSchema {
    #[serde(
        deserialize_with = "flex_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// One of [`SCHEMA_TYPES`].
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The flow: a JSON array of objects.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub schema: Option<serde_json::Value>,
    /// The editor's own data (node positions and the like), kept as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub payload: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub debug: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub editor: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<SchemaTag>>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acl_port_takes_numbers_text_and_null() {
        let acl: Vec<GatewayAcl> = serde_json::from_str(
            r#"[{"ip":"10.0.0.1","proto":"udp","port":5060},
                {"ip":"10.0.0.0/8","port":"5080"},{"ip":"10.1.1.1","port":null},{"ip":"1.1.1.1","port":""}]"#,
        )
        .unwrap();
        let ports: Vec<_> = acl.iter().map(|a| a.port).collect();
        assert_eq!(ports, [Some(5060), Some(5080), None, None]);
        assert!(serde_json::from_str::<GatewayAcl>(r#"{"ip":"x","port":"five"}"#).is_err());
    }

    #[test]
    fn schema_type_travels_as_type() {
        let s: RoutingSchema =
            serde_json::from_str(r#"{"name":"n","type":"voice","schema":[{"answer":""}]}"#)
                .unwrap();
        assert_eq!(s.kind.as_deref(), Some("voice"));
        let back = serde_json::to_value(&s).unwrap();
        assert_eq!(back["type"], "voice");
    }
}
