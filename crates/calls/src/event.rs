//! What observers see: Webitel `call` events (b.8), history rows, and live-call listings (b.6).

use crate::types::{CallId, Direction, LegId, Party};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// The `event` of a Webitel `call` event. Only kinds webitel-sdk handles are ever produced
/// (b.8: an unknown kind makes the SDK throw).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    Ringing,
    Active,
    Bridge,
    Hold,
    Dtmf,
    Hangup,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Ringing => "ringing",
            EventKind::Active => "active",
            EventKind::Bridge => "bridge",
            EventKind::Hold => "hold",
            EventKind::Dtmf => "dtmf",
            EventKind::Hangup => "hangup",
        }
    }
}

/// One `call` event for one user: the leg `id` belongs to `user_id`.
#[derive(Debug, Clone, PartialEq)]
pub struct CallEvent {
    /// The leg (Webitel call id).
    pub id: LegId,
    /// The conversation the leg is part of.
    pub call: CallId,
    pub kind: EventKind,
    pub user_id: i64,
    pub domain_id: i64,
    pub app_id: String,
    /// Epoch milliseconds.
    pub timestamp: i64,
    /// The event-specific `data` object (b.8).
    pub data: Value,
}

impl CallEvent {
    /// The `call` object as the engine puts it under `data.call` of the WebSocket envelope:
    /// `timestamp`, `domain_id` and `user_id` are strings (Go `,string`).
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "event": self.kind.as_str(),
            "timestamp": self.timestamp.to_string(),
            "domain_id": self.domain_id.to_string(),
            "user_id": self.user_id.to_string(),
            "app_id": self.app_id,
            "data": self.data,
        })
    }
}

/// `from` / `to` of events and live calls: `{type, number, id, name}`.
pub(crate) fn endpoint_json(p: &Party) -> Value {
    let mut m = Map::new();
    match p.user_id {
        Some(id) => {
            m.insert("type".into(), "user".into());
            m.insert("number".into(), p.extension.clone().into());
            m.insert("id".into(), id.to_string().into());
        }
        None => {
            m.insert("type".into(), "dest".into());
            m.insert("number".into(), p.extension.clone().into());
        }
    }
    m.insert("name".into(), p.name.clone().into());
    Value::Object(m)
}

/// A leg's history row, written whole at every state change (the store upserts by `id`), so a
/// crash mid-call loses nothing already written. Times are epoch ms; durations whole seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryRecord {
    pub id: LegId,
    /// The conversation's root leg id.
    pub call_id: CallId,
    /// `None` for the root leg.
    pub parent_id: Option<LegId>,
    pub app_id: String,
    pub domain_id: i64,
    pub user_id: Option<i64>,
    pub user_name: Option<String>,
    pub extension: Option<String>,
    pub direction: Direction,
    pub destination: String,
    /// The SIP Call-ID of this leg's dialog with the user's device.
    pub sip_id: String,
    pub from_type: String,
    pub from_number: String,
    pub from_name: String,
    pub from_id: Option<i64>,
    pub to_type: String,
    pub to_number: String,
    pub to_name: String,
    pub to_id: Option<i64>,
    /// `ringing`, `active`, `bridge`, `hold` or `hangup`.
    pub state: String,
    pub created_at: i64,
    pub answered_at: Option<i64>,
    pub bridged_at: Option<i64>,
    pub hangup_at: Option<i64>,
    /// Seconds from creation to hangup (0 while live).
    pub duration: i64,
    /// Seconds from answer to hangup.
    pub bill_sec: i64,
    /// Seconds spent on hold.
    pub hold_sec: i64,
    /// Seconds from creation until answer (or hangup when never answered).
    pub wait_sec: i64,
    pub hangup_cause: Option<String>,
    pub sip_code: Option<u16>,
    pub bridged_id: Option<LegId>,
    /// The leg whose transfer created this leg.
    pub transfer_from: Option<LegId>,
    /// The leg this leg's transfer created.
    pub transfer_to: Option<LegId>,
}

/// A live leg as `subscribe_call` and `GET /api/calls/active` list it (b.6 `Call`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActiveCall {
    pub id: LegId,
    pub app_id: String,
    /// `ringing`, `active`, `bridge` or `hold`.
    pub state: String,
    /// RFC 3339 time of the last state change (Go `time.Time`).
    pub timestamp: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub parent_id: Option<LegId>,
    pub user: Option<Value>,
    pub extension: Option<String>,
    pub gateway: Option<Value>,
    pub direction: Direction,
    pub destination: String,
    pub from: Value,
    pub to: Value,
    pub variables: Map<String, Value>,
    pub created_at: i64,
    pub answered_at: Option<i64>,
    pub bridged_at: Option<i64>,
    pub hangup_at: Option<i64>,
    pub duration: i64,
    pub hold_sec: i64,
    pub wait_sec: i64,
    pub bill_sec: i64,
    pub bridged_id: Option<LegId>,
    pub blind_transfer: Option<String>,
    pub contact_id: Option<i64>,
    pub hide_number: bool,
    pub is_consult_to_queue: bool,
    /// Not a Webitel field: whether the server mutes this leg.
    pub muted: bool,
    #[serde(skip)]
    pub domain_id: i64,
    #[serde(skip)]
    pub user_id: Option<i64>,
}

/// RFC 3339 UTC text (millisecond precision) for epoch milliseconds.
pub fn rfc3339_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Civil-from-days (H. Hinnant), proleptic Gregorian.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_known_instants() {
        let table = [
            (0, "1970-01-01T00:00:00.000Z"),
            (1_718_000_000_123, "2024-06-10T06:13:20.123Z"),
            (951_782_400_000, "2000-02-29T00:00:00.000Z"),
            (-1, "1969-12-31T23:59:59.999Z"),
        ];
        for (ms, want) in table {
            assert_eq!(rfc3339_ms(ms), want);
        }
    }

    #[test]
    fn event_envelope_uses_string_ids() {
        let e = CallEvent {
            id: "l".into(),
            call: "c".into(),
            kind: EventKind::Hangup,
            user_id: 10,
            domain_id: 1,
            app_id: "node".into(),
            timestamp: 1_718_000_000_000,
            data: json!({"cause":"NORMAL_CLEARING","sip":200}),
        };
        assert_eq!(
            e.to_json(),
            json!({"id":"l","event":"hangup","timestamp":"1718000000000","domain_id":"1",
                   "user_id":"10","app_id":"node","data":{"cause":"NORMAL_CLEARING","sip":200}})
        );
    }
}
