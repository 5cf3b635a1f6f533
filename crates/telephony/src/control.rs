//! Call actions from the WebSocket API (`CallControl`), carried to the runtime's call engine.

use futures_util::future::BoxFuture;
use serde_json::{Map, Value};
use switchboard_api::auth::Session;
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
    async fn control(&self, s: &Session, cmd: CallCommand) -> ApiResult<()> {
        let (reply, rx) = oneshot::channel();
        // Users control their own legs; holders of the `write` permission any leg of the domain.
        let user_id = (!s.permissions.iter().any(|p| p == "write")).then_some(s.user_id);
        if !self
            .send(Command::Control {
                domain_id: s.domain_id,
                user_id,
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
                let id = LegId(uuid::Uuid::new_v4().to_string());
                let cmd = CallCommand::Originate {
                    leg: id.clone(),
                    from: Party::user(s.user_id, s.domain_id, s.extension.clone(), s.name.clone()),
                    destination: r.destination,
                    // Click-to-call rings the user's own phone first: it picks up by itself
                    // unless asked not to, as the engine sets `wbt_auto_answer`.
                    auto_answer: !r.params.disable_auto_answer.unwrap_or(false),
                };
                self.control(s, cmd).await?;
                let mut m = Map::new();
                m.insert("id".into(), Value::String(id.0));
                return Ok(m);
            }
            CallRequest::CallUser(r) => {
                // Rings the caller's own phone first, then the other user's extension.
                let to = self
                    .store()
                    .get_user(s.domain_id, r.to_user_id)
                    .await
                    .map_err(ApiError::from)?;
                if to.extension.is_empty() {
                    return Err(ApiError::bad_request(
                        "app.call.create.valid.to",
                        format!("user {} has no extension to call", r.to_user_id),
                    ));
                }
                let id = LegId(uuid::Uuid::new_v4().to_string());
                let cmd = CallCommand::Originate {
                    leg: id.clone(),
                    from: Party::user(s.user_id, s.domain_id, s.extension.clone(), s.name.clone()),
                    destination: to.extension,
                    auto_answer: false,
                };
                self.control(s, cmd).await?;
                let mut m = Map::new();
                m.insert("call_id".into(), Value::String(id.0));
                return Ok(m);
            }
            CallRequest::Bridge(r) => CallCommand::Bridge {
                leg: leg(&r.from_id),
                other: leg(&r.to_id),
            },
            CallRequest::Recordings { id } => {
                // Recordings are filed under the root call: the id itself or its parent.
                let st = self.store();
                let mut ids = vec![id.clone()];
                if let Ok(h) = st.get_history(s.domain_id, &id).await {
                    if !h.parent_id.is_empty() {
                        ids.push(h.parent_id);
                    }
                }
                let files = st
                    .files_of_calls(s.domain_id, &ids)
                    .await
                    .map_err(ApiError::from)?;
                let Some(f) = files.last() else {
                    return Err(ApiError::new(
                        404,
                        "app.call.recordings.not_found",
                        "no recording",
                    ));
                };
                let mut m = Map::new();
                m.insert("file_id".into(), Value::String(f.id.to_string()));
                return Ok(m);
            }
            CallRequest::Eavesdrop(_) | CallRequest::EavesdropState(_) => {
                return Err(not_supported("eavesdrop"))
            }
            CallRequest::SetContact(_) => return Err(not_supported("call_set_contact")),
            CallRequest::ToQueue(_) | CallRequest::BtQueue(_) => {
                return Err(not_supported("queues"))
            }
        };
        self.control(s, cmd).await?;
        Ok(Map::new())
    }
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
