//! The history writer: upserts each leg's row in the order the call engine produced them, off
//! the runtime, so a slow database never holds up signalling.

use std::sync::Arc;

use switchboard_calls::HistoryRecord;
use switchboard_store::Store;
use tokio::sync::mpsc;

fn to_row(r: HistoryRecord) -> switchboard_store::HistoryRecord {
    let id = |l: Option<switchboard_calls::LegId>| l.map(|l| l.0).unwrap_or_default();
    let num = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    switchboard_store::HistoryRecord {
        id: r.id.0,
        domain_id: r.domain_id,
        parent_id: id(r.parent_id),
        bridged_id: id(r.bridged_id),
        user_id: r.user_id,
        direction: r.direction.as_str().to_string(),
        destination: r.destination,
        from_type: r.from_type,
        from_number: r.from_number,
        from_name: r.from_name,
        from_id: num(r.from_id),
        to_type: r.to_type,
        to_number: r.to_number,
        to_name: r.to_name,
        to_id: num(r.to_id),
        created_at: r.created_at,
        answered_at: r.answered_at.unwrap_or(0),
        bridged_at: r.bridged_at.unwrap_or(0),
        hangup_at: r.hangup_at.unwrap_or(0),
        stored_at: 0,
        duration: r.duration,
        bill_sec: r.bill_sec,
        hold_sec: r.hold_sec,
        wait_sec: r.wait_sec,
        cause: r.hangup_cause.unwrap_or_default(),
        sip_code: r.sip_code.map(i64::from).unwrap_or(0),
        hangup_by: String::new(),
        transfer_from: id(r.transfer_from),
        transfer_to: id(r.transfer_to),
        variables: "{}".to_string(),
        user_name: r.user_name.unwrap_or_default(),
    }
}

pub(crate) async fn write(store: Arc<Store>, mut rows: mpsc::UnboundedReceiver<HistoryRecord>) {
    while let Some(r) = rows.recv().await {
        let leg = r.id.clone();
        if let Err(e) = store.upsert_history(&to_row(r)).await {
            tracing::error!(%leg, "history row not written: {e}");
        }
    }
}
