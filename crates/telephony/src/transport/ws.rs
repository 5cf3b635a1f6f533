//! SIP over WebSocket (RFC 7118): one task per connection, a thin edge around the runtime.
//!
//! The upgrade answers `Sec-WebSocket-Protocol: sip` (Chromium drops the connection when the
//! offered sub-protocol is not echoed). Every text or binary frame is one SIP message and goes to
//! the runtime as it is; messages for the flow come back on a bounded queue and leave as text
//! frames. When either side closes, the runtime hears `Close` and drops the flow's bindings.

use std::net::SocketAddr;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::response::Response;
use axum::Extension;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tracing::Instrument;

use super::{is_keepalive, Link, Sink, Transport, MAX_MESSAGE};
use crate::runtime::Command;
use crate::Telephony;

/// `GET /sip`.
pub async fn upgrade(
    State(t): State<Telephony>,
    ws: WebSocketUpgrade,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
) -> Response {
    let addr = peer
        .map(|Extension(ConnectInfo(a))| a.to_string())
        .unwrap_or_else(|| "0.0.0.0:0".to_string());
    ws.protocols(["sip"])
        .max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        .on_upgrade(move |socket| {
            let flow = t.new_flow();
            let span = tracing::info_span!("sip_ws", %flow, peer = %addr);
            serve(t, socket, flow, addr).instrument(span)
        })
}

async fn serve(t: Telephony, socket: WebSocket, flow: switchboard_sip::FlowId, addr: String) {
    let (tx, mut rx) = mpsc::channel::<Bytes>(t.config().flow_queue);
    let link = Link {
        transport: Transport::Ws,
        peer: addr,
        local: None,
        sink: Sink::Stream(tx),
    };
    if !t.send(Command::Open { flow, link }).await {
        return;
    }
    tracing::debug!("sip websocket open");
    let (mut sink, mut stream) = socket.split();
    let writer = async {
        // Ends when the runtime drops the flow's sender (flow closed or stuck).
        while let Some(bytes) = rx.recv().await {
            let msg = match std::str::from_utf8(&bytes) {
                Ok(s) => Message::Text(s.into()),
                Err(_) => Message::Binary(bytes),
            };
            if sink.send(msg).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    };
    let reader = async {
        while let Some(frame) = stream.next().await {
            let bytes = match frame {
                Ok(Message::Text(s)) => Bytes::from(s),
                Ok(Message::Binary(b)) => b,
                Ok(Message::Close(_)) | Err(_) => break,
                Ok(_) => continue,
            };
            // RFC 7118 §5: keep-alive CRLFs are not SIP messages.
            if is_keepalive(&bytes) {
                continue;
            }
            let cmd = Command::Receive {
                flow,
                from: None,
                bytes,
            };
            if !t.send(cmd).await {
                break;
            }
        }
    };
    tokio::select! {
        _ = writer => {}
        _ = reader => {}
    }
    t.send(Command::Close { flow }).await;
    tracing::debug!("sip websocket closed");
}
