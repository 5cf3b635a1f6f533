//! Transfers a desk phone asks for with REFER (RFC 3515): blind (`Refer-To: <sip:2002@…>`)
//! and attended (`Refer-To: <sip:…?Replaces=…>`, RFC 5589), resolved against our own dialogs
//! and carried out by the call engine exactly as the browsers' `call_blind_transfer` and
//! `call_bridge`, so history links the legs the same way. The implicit subscription reports
//! `100 Trying`, then the outcome, in `message/sipfrag` NOTIFYs.

use std::time::Instant;

use switchboard_calls::{CallCommand, ForkId, Input as CallInput, LegId};
use switchboard_sip::header::HeaderName;
use switchboard_sip::refer::{parse_refer_to, sipfrag};
use switchboard_sip::transaction::TransactionId;
use switchboard_sip::{Method, Request};

use super::calls::wall_ms;
use super::Runtime;

impl Runtime {
    pub(super) fn on_refer(
        &mut self,
        tx: TransactionId,
        req: &Request,
        leg: LegId,
        fork: Option<ForkId>,
        now: Instant,
    ) {
        let target = match req.headers.get(&HeaderName::ReferTo).map(parse_refer_to) {
            Some(Ok(t)) => t,
            _ => {
                // §2.4.1: exactly one valid Refer-To.
                self.reply(tx, req, 400, now);
                return;
            }
        };
        let cmd = match &target.replaces {
            None => match target.uri.user.clone().filter(|u| !u.is_empty()) {
                Some(destination) => CallCommand::BlindTransfer {
                    leg: leg.clone(),
                    destination,
                },
                None => {
                    self.reply(tx, req, 400, now);
                    return;
                }
            },
            Some(r) => {
                let other = self
                    .calls
                    .dialogs
                    .iter()
                    .find(|(id, _)| r.names(&id.call_id, &id.local_tag, &id.remote_tag))
                    .map(|(_, (l, _))| l.clone())
                    .filter(|o| *o != leg);
                match other {
                    Some(other) => CallCommand::Bridge {
                        leg: leg.clone(),
                        other,
                    },
                    None => {
                        // The dialog to replace is not ours (RFC 3891 §3: 481).
                        self.reply(tx, req, 481, now);
                        return;
                    }
                }
            }
        };
        self.reply(tx, req, 202, now);
        self.notify_transfer(&leg, fork, 100, now);
        let r = self.engine.handle(CallInput::Command(cmd), now, wall_ms());
        if let Err(e) = &r {
            tracing::info!(%leg, "transfer refused: {e}");
        }
        // Reported before the engine's BYE for the transferor's leg goes out.
        self.notify_transfer(&leg, fork, if r.is_ok() { 200 } else { 503 }, now);
        self.drain_engine(now);
    }

    fn notify_transfer(&mut self, leg: &LegId, fork: Option<ForkId>, status: u16, now: Instant) {
        let state = if status >= 200 {
            "terminated;reason=noresource".to_string()
        } else {
            "active;expires=60".to_string()
        };
        let extra = [
            (HeaderName::Event, "refer".to_string()),
            (HeaderName::parse("Subscription-State"), state),
        ];
        self.send_in_dialog_with(
            leg,
            fork,
            Method::Notify,
            &extra,
            Some(("message/sipfrag;version=2.0", sipfrag(status))),
            now,
        );
    }
}
