//! Call actions from the WebSocket API (`CallControl`), carried to the runtime's call engine.

use futures_util::future::BoxFuture;
use serde_json::{Map, Value};
use switchboard_api::error::{ApiError, ApiResult};
use switchboard_api::ws::calls::{CallContext, CallControl, CallReply, CallRequest};
use switchboard_calls::{CallCommand, HangupCause, LegId, Party};
use tokio::sync::oneshot;

use crate::runtime::Command;
use crate::Telephony;

fn unavailable() -> ApiError {
    ApiError::new(
        503,
        "app.call.not_available",
        "the call engine is not running",
    )
}

fn not_supported(what: &str) -> ApiError {
    ApiError::new(
        501,
        "app.call.not_implemented",
        format!("{what} is not supported yet"),
    )
}

impl Telephony {
    async fn control(&self, domain_id: i64, cmd: CallCommand) -> ApiResult<()> {
        let (reply, rx) = oneshot::channel();
        if !self
            .send(Command::Control {
                domain_id,
                cmd,
                reply,
            })
            .await
        {
            return Err(unavailable());
        }
        rx.await
            .map_err(|_| unavailable())?
            .map_err(|e| ApiError::new(404, "app.call.not_found", e))
    }

    async fn execute_request(&self, ctx: CallContext, req: CallRequest) -> ApiResult<CallReply> {
        let s = &ctx.session;
        let leg = |id: &str| LegId(id.to_string());
        let cmd = match req {
            CallRequest::Hangup(r) => CallCommand::Hangup {
                leg: leg(&r.call.id),
                cause: r.cause.as_deref().map(HangupCause::parse),
            },
            CallRequest::Hold(r) => CallCommand::Hold { leg: leg(&r.id) },
            CallRequest::Unhold(r) => CallCommand::Unhold { leg: leg(&r.id) },
            CallRequest::Dtmf(r) => CallCommand::Dtmf {
                leg: leg(&r.call.id),
                digit: r.dtmf.chars().next().unwrap_or('0'),
            },
            CallRequest::Mute(r) => CallCommand::Mute {
                leg: leg(&r.call.id),
                on: r.mute,
            },
            CallRequest::BlindTransfer(r) => CallCommand::BlindTransfer {
                leg: leg(&r.call.id),
                destination: r.destination,
            },
            CallRequest::Invite(r) => {
                let id = LegId(uuid_like());
                let cmd = CallCommand::Originate {
                    leg: id.clone(),
                    from: Party::user(s.user_id, s.domain_id, s.extension.clone(), s.name.clone()),
                    destination: r.destination,
                    auto_answer: false,
                };
                self.control(s.domain_id, cmd).await?;
                let mut m = Map::new();
                m.insert("id".into(), Value::String(id.0));
                return Ok(m);
            }
            CallRequest::CallUser(_) => return Err(not_supported("call_user")),
            CallRequest::Bridge(r) => CallCommand::Bridge {
                leg: leg(&r.from_id),
                other: leg(&r.to_id),
            },
            CallRequest::Recordings { .. } => return Err(not_supported("call_recordings")),
            CallRequest::Eavesdrop(_) | CallRequest::EavesdropState(_) => {
                return Err(not_supported("eavesdrop"))
            }
            CallRequest::SetContact(_) => return Err(not_supported("call_set_contact")),
            CallRequest::ToQueue(_) | CallRequest::BtQueue(_) => {
                return Err(not_supported("queues"))
            }
        };
        self.control(s.domain_id, cmd).await?;
        Ok(Map::new())
    }
}

/// A random UUID-shaped id (v4 layout) for legs the WebSocket API originates.
fn uuid_like() -> String {
    let b: [u8; 16] = rand::random();
    let h = |r: std::ops::Range<usize>| b[r].iter().map(|x| format!("{x:02x}")).collect::<String>();
    format!(
        "{}-{}-4{}-{:x}{}-{}",
        h(0..4),
        h(4..6),
        &h(6..8)[1..],
        8 | (b[8] & 3),
        &h(8..10)[2..],
        h(10..16)
    )
}

impl CallControl for Telephony {
    fn execute(&self, ctx: CallContext, req: CallRequest) -> BoxFuture<'_, ApiResult<CallReply>> {
        Box::pin(self.execute_request(ctx, req))
    }

    fn active_calls(&self, ctx: CallContext) -> BoxFuture<'_, ApiResult<Vec<Value>>> {
        Box::pin(async move {
            let (reply, rx) = oneshot::channel();
            if !self
                .send(Command::ActiveCalls {
                    domain_id: ctx.session.domain_id,
                    user_id: ctx.session.user_id,
                    reply,
                })
                .await
            {
                return Err(unavailable());
            }
            let calls = rx.await.map_err(|_| unavailable())?;
            Ok(calls
                .into_iter()
                .filter_map(|c| serde_json::to_value(c).ok())
                .collect())
        })
    }
}
