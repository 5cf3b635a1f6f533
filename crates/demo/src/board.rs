//! The live queue board for the administrator's browser, which never holds a platform token:
//! the backend opens the platform's WebSocket with the integration token, asks
//! `cc_queue_board` once (which subscribes the socket to the domain's board) and then relays
//! every `cc_queue_board` event the platform pushes, as Server-Sent Events:
//!
//! - `board`: the board JSON, `{queues: [{queue_id, name, waiting: […], agents: {…}}]}`;
//! - `problem`: `{"error": "…"}`, after which the stream ends (the browser's EventSource
//!   reconnects by itself).
//!
//! One platform socket per open board page; it closes when the page goes away.

use crate::platform::Settings;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::{SinkExt, Stream, StreamExt};
use serde_json::{json, Value};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// How long the platform has to answer one request.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// A `ping` action this often keeps idle proxies from closing the socket.
const PING_EVERY: Duration = Duration::from_secs(30);

/// The SSE reply of `GET /demo/api/board`.
pub fn stream(s: Settings) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let (tx, rx) = mpsc::channel::<Event>(16);
    tokio::spawn(async move {
        if let Err(e) = relay(&s, &tx).await {
            tracing::debug!("demo: board relay ended: {e}");
            let ev = Event::default()
                .event("problem")
                .data(json!({ "error": e }).to_string());
            tx.send(ev).await.ok();
        }
    });
    let events = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|ev| (Ok(ev), rx))
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}

/// The platform's WebSocket URL from the settings' endpoint (`wss://host/ws/` →
/// `wss://host/ws/websocket?…`), as webitel-sdk builds it.
pub fn socket_url(ws_endpoint: &str) -> Result<String, String> {
    let base = ws_endpoint.trim().trim_end_matches('/');
    let base = if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = base.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        base.to_string()
    };
    if !(base.starts_with("ws://") || base.starts_with("wss://")) {
        return Err(format!(
            "the WebSocket endpoint {ws_endpoint:?} is no ws(s):// URL"
        ));
    }
    Ok(format!(
        "{base}/websocket?application_name=switchboard-demo-board&ver={}",
        env!("CARGO_PKG_VERSION")
    ))
}

async fn relay(s: &Settings, tx: &mpsc::Sender<Event>) -> Result<(), String> {
    let url = socket_url(&s.ws_endpoint)?;
    let req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
        url.as_str(),
    )
    .map_err(|e| format!("WebSocket endpoint: {e}"))?;
    let uri = req.uri().clone();
    let host = uri
        .host()
        .unwrap_or_default()
        .trim_matches(['[', ']'])
        .to_string();
    let tls = uri.scheme_str() == Some("wss");
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let tcp = tokio::time::timeout(
        REPLY_TIMEOUT,
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await
    .map_err(|_| format!("connecting to {host}:{port} timed out"))?
    .map_err(|e| format!("connecting to {host}:{port}: {e}"))?;
    if tls {
        let name = rustls::pki_types::ServerName::try_from(host.clone())
            .map_err(|e| format!("{host}: {e}"))?;
        let tls = tokio_rustls::TlsConnector::from(Arc::new(tls_config()?))
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS with {host}: {e}"))?;
        let (ws, _) = tokio_tungstenite::client_async(req, tls)
            .await
            .map_err(|e| format!("WebSocket: {e}"))?;
        session(ws, s, tx).await
    } else {
        let (ws, _) = tokio_tungstenite::client_async(req, tcp)
            .await
            .map_err(|e| format!("WebSocket: {e}"))?;
        session(ws, s, tx).await
    }
}

fn tls_config() -> Result<rustls::ClientConfig, String> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth())
}

/// The board event (or the reply's board) as an SSE event.
fn board_event(data: &Value) -> Event {
    Event::default().event("board").data(data.to_string())
}

struct Socket<S> {
    ws: WebSocketStream<S>,
    seq: u64,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Socket<S> {
    async fn send(&mut self, action: &str, data: Value) -> Result<u64, String> {
        self.seq += 1;
        let frame = json!({ "seq": self.seq, "action": action, "data": data });
        self.ws
            .send(Message::text(frame.to_string()))
            .await
            .map_err(|e| format!("sending {action}: {e}"))?;
        Ok(self.seq)
    }

    /// The next JSON frame; `None` when the platform closed the socket.
    async fn next(&mut self) -> Result<Option<Value>, String> {
        while let Some(m) = self.ws.next().await {
            match m.map_err(|e| format!("WebSocket: {e}"))? {
                Message::Text(t) => {
                    return serde_json::from_str(t.as_str())
                        .map(Some)
                        .map_err(|e| format!("a frame that is no JSON: {e}"))
                }
                Message::Close(_) => return Ok(None),
                _ => {}
            }
        }
        Ok(None)
    }

    /// Sends `action` and waits for its reply's `data`, relaying board events on the way.
    async fn request(
        &mut self,
        action: &str,
        data: Value,
        tx: &mpsc::Sender<Event>,
    ) -> Result<Value, String> {
        let seq = self.send(action, data).await?;
        let wait = async {
            loop {
                let Some(f) = self.next().await? else {
                    return Err(format!("the platform closed the socket during {action}"));
                };
                if f.get("seq_reply").and_then(Value::as_u64) == Some(seq) {
                    if f.get("status").and_then(Value::as_str) == Some("OK") {
                        return Ok(f.get("data").cloned().unwrap_or(Value::Null));
                    }
                    let err = f.get("error").cloned().unwrap_or_default();
                    let text = err
                        .get("detail")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    let id = err.get("id").and_then(Value::as_str).unwrap_or_default();
                    return Err(format!("{action} failed: {id}: {text}"));
                }
                if is_board(&f) {
                    tx.send(board_event(&f["data"]))
                        .await
                        .map_err(|_| "page gone")?;
                }
            }
        };
        tokio::time::timeout(REPLY_TIMEOUT, wait)
            .await
            .map_err(|_| format!("no reply to {action}"))?
    }
}

fn is_board(frame: &Value) -> bool {
    frame.get("event").and_then(Value::as_str) == Some("cc_queue_board")
}

async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    ws: WebSocketStream<S>,
    s: &Settings,
    tx: &mpsc::Sender<Event>,
) -> Result<(), String> {
    let mut sock = Socket { ws, seq: 0 };
    sock.request(
        "authentication_challenge",
        json!({ "token": s.integration_token }),
        tx,
    )
    .await?;
    // The request also subscribes this socket to the domain's board changes.
    let board = sock.request("cc_queue_board", json!({}), tx).await?;
    tx.send(board_event(&board))
        .await
        .map_err(|_| "page gone")?;
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    loop {
        tokio::select! {
            f = sock.next() => {
                let Some(f) = f? else {
                    return Err("the platform closed the socket".into());
                };
                if is_board(&f) && tx.send(board_event(&f["data"])).await.is_err() {
                    break;
                }
            }
            _ = ping.tick() => {
                sock.send("ping", json!({})).await?;
            }
            _ = tx.closed() => break,
        }
    }
    sock.ws.close(None).await.ok();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_urls_follow_the_sdk() {
        let v = env!("CARGO_PKG_VERSION");
        assert_eq!(
            socket_url("ws://127.0.0.1:8080/ws/").unwrap(),
            format!(
                "ws://127.0.0.1:8080/ws/websocket?application_name=switchboard-demo-board&ver={v}"
            )
        );
        assert!(socket_url("https://cloud.webitel.com/ws")
            .unwrap()
            .starts_with("wss://cloud.webitel.com/ws/websocket?"));
        assert!(socket_url("ftp://x").is_err());
    }
}
