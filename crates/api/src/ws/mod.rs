//! The WebSocket API of webitel-sdk (PROTOCOL-NOTES b.): `GET /ws/websocket` (and `/websocket`),
//! text frames of one JSON object each. One task per connection reads frames, writes queued
//! replies and events, pings the peer and watches its session; actions run on their own tasks
//! and answer through the connection's bounded queue, so neither a slow action nor a slow peer
//! holds up anyone else.

pub mod actions;
pub mod calls;
pub mod device;
pub mod hub;
pub mod protocol;

use crate::auth::{self, access_bits, AuthEvent, Session, CLASSES};
use crate::error::ApiError;
use crate::AppState;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Extension;
use futures_util::stream::{SplitSink, StreamExt};
use futures_util::SinkExt;
use hub::{presence_event, Member, Outbound};
use protocol::{fail_reply, ok_reply, EventFrame};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, Notify, Semaphore};
use tokio::time::{sleep, Instant};
use tracing::Instrument;

/// WebSocket settings. The timings are the engine's; tests shorten them.
#[derive(Debug, Clone)]
pub struct WsConfig {
    /// WebSocket Ping frames every this often.
    pub ping_period: Duration,
    /// A peer that sends no Pong for this long is dropped.
    pub pong_wait: Duration,
    /// An unauthenticated socket is closed after this long.
    pub auth_timeout: Duration,
    /// A write that takes longer than this drops the peer.
    pub write_timeout: Duration,
    /// Outbound queue per socket; a socket whose queue overflows is closed.
    pub send_queue: usize,
    /// Largest request frame answered normally; larger ones get a FAIL reply.
    pub max_request: usize,
    /// Frames above this are refused by the WebSocket layer and end the connection.
    pub max_frame: usize,
    /// Actions of one socket running at once; further frames wait.
    pub max_in_flight: usize,
    /// `hello.ping_interval` in ms: the SDK then pings every so often. None = absent, as the
    /// engine's default.
    pub ping_interval_ms: Option<u64>,
    /// Answer `ping` with `server_ts` too (the SDK then measures latency).
    pub ping_latency: bool,
    /// `hello.server_node_id`.
    pub node_id: String,
    /// Public base URL (`https://pbx.example.com`); derived from each request when unset.
    pub public_url: Option<String>,
    /// SIP-over-WebSocket URL given to JsSIP; `<public ws base>/sip` when unset.
    pub sip_ws_url: Option<String>,
    /// SIP proxy given to hardware phones (`sip:host:port`); `sip:<request host>` when unset.
    pub sip_proxy: Option<String>,
    /// `register_expires` given to JsSIP, in seconds.
    pub register_expires: i64,
    /// Whether the listener serves TLS (then URLs derived from requests use wss).
    pub tls: bool,
}

impl Default for WsConfig {
    fn default() -> Self {
        Self {
            ping_period: Duration::from_secs(54),
            pong_wait: Duration::from_secs(60),
            auth_timeout: Duration::from_secs(20),
            write_timeout: Duration::from_secs(10),
            send_queue: 256,
            max_request: 64 * 1024,
            max_frame: 1024 * 1024,
            max_in_flight: 32,
            ping_interval_ms: None,
            ping_latency: false,
            node_id: protocol::new_id(),
            public_url: None,
            sip_ws_url: None,
            sip_proxy: None,
            register_expires: 600,
            tls: false,
        }
    }
}

/// The upgrade handler for `GET /ws/websocket` and `GET /websocket`.
pub async fn upgrade(
    State(state): State<AppState>,
    ws: WebSocketUpgrade,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
) -> Response {
    let cfg = state.ws.clone();
    let origin = device::Origin::from_headers(&headers, cfg.tls);
    let mut app = String::new();
    let mut ver = String::new();
    for (k, v) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "application_name" => app = v.chars().take(64).collect(),
            "ver" => ver = v.chars().take(32).collect(),
            _ => {}
        }
    }
    let ip = client_ip(&headers, peer.map(|Extension(ConnectInfo(a))| a));
    ws.read_buffer_size(4096)
        .write_buffer_size(0)
        .max_message_size(cfg.max_frame)
        .max_frame_size(cfg.max_frame)
        .on_upgrade(move |socket| {
            let sock_id: Arc<str> = protocol::new_id().into();
            let span = tracing::info_span!(
                "ws",
                sock_id = %sock_id,
                ip = %ip,
                app = %app,
                ver = %ver,
                user_id = tracing::field::Empty,
            );
            Conn::new(state, sock_id, Arc::new(origin))
                .run(socket)
                .instrument(span)
        })
}

fn client_ip(headers: &HeaderMap, peer: Option<SocketAddr>) -> String {
    let from_header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(|v| v.trim().to_string())
            .filter(|v| v.parse::<std::net::IpAddr>().is_ok())
    };
    from_header("x-real-ip")
        .or_else(|| from_header("x-forwarded-for"))
        .or_else(|| peer.map(|p| p.ip().to_string()))
        .unwrap_or_default()
}

/// The `hello` event data (b.5).
pub fn hello(state: &AppState, s: &Session, sock_id: &str) -> Value {
    let now = switchboard_store::now_ms();
    let mut role_ids = vec![s.user_id];
    role_ids.extend(s.roles.iter().map(|(id, _)| *id));
    let scopes: Vec<Value> = s
        .scopes
        .iter()
        .map(|g| {
            let id = CLASSES
                .iter()
                .position(|c| *c == g.class)
                .map_or(0, |i| i + 1);
            json!({
                "id": id,
                "name": g.class,
                "class": g.class,
                "obac": false,
                "access": access_bits(&g.access),
            })
        })
        .collect();
    let mut data = json!({
        "sock_id": sock_id,
        "server_node_id": state.ws.node_id,
        "server_build_commit": "",
        "server_version": state.config.server_version,
        "server_time": now,
        "use_cc": s.has_product("CALL_CENTER", now),
        "use_chat": false,
        "session": {
            "id": s.token,
            "token": s.token,
            "name": s.display_name(),
            "user_id": s.user_id,
            "domain_id": s.domain_id,
            "domain_name": s.domain_name,
            "expire": s.expires_at,
            "role_ids": role_ids,
            "scopes": scopes,
        },
    });
    if let Some(ms) = state.ws.ping_interval_ms {
        data["ping_interval"] = Value::from(ms);
    }
    data
}

/// Why a connection ends.
enum Exit {
    /// The peer closed or the transport failed: nothing more to send.
    Gone,
    /// Close with this code and reason.
    Close(u16, &'static str),
    /// Tell the client why (`error` event, b.3 step 6), then close.
    Denied(ApiError),
}

type Sink = SplitSink<WebSocket, Message>;

struct Conn {
    state: AppState,
    sock_id: Arc<str>,
    origin: Arc<device::Origin>,
    tx: mpsc::Sender<Outbound>,
    rx: mpsc::Receiver<Outbound>,
    kill: Arc<Notify>,
    in_flight: Arc<Semaphore>,
    session: Option<Arc<Session>>,
    member: Option<Arc<Member>>,
    auth_rx: Option<broadcast::Receiver<AuthEvent>>,
    event_seq: u64,
}

impl Conn {
    fn new(state: AppState, sock_id: Arc<str>, origin: Arc<device::Origin>) -> Self {
        let (tx, rx) = mpsc::channel(state.ws.send_queue.max(1));
        let in_flight = Arc::new(Semaphore::new(state.ws.max_in_flight.max(1)));
        Self {
            state,
            sock_id,
            origin,
            tx,
            rx,
            kill: Arc::new(Notify::new()),
            in_flight,
            session: None,
            member: None,
            auth_rx: None,
            event_seq: 0,
        }
    }

    async fn run(mut self, socket: WebSocket) {
        let cfg = self.state.ws.clone();
        let (mut sink, mut stream) = socket.split();
        tracing::debug!("websocket open");
        let mut ping = tokio::time::interval_at(Instant::now() + cfg.ping_period, cfg.ping_period);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let pong_deadline = sleep(cfg.pong_wait);
        let auth_deadline = sleep(cfg.auth_timeout);
        tokio::pin!(pong_deadline, auth_deadline);
        let kill = self.kill.clone();
        let exit = loop {
            let authed = self.session.is_some();
            tokio::select! {
                biased;
                _ = kill.notified() => break Exit::Close(1008, "send queue overflow"),
                Some(out) = self.rx.recv() => {
                    let text = match out {
                        Outbound::Text(t) => t,
                        Outbound::Event(f) => self.next_event(&f),
                    };
                    if !self.write(&mut sink, Message::Text(text.into())).await {
                        break Exit::Gone;
                    }
                }
                frame = stream.next() => match frame {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break Exit::Gone,
                    Some(Ok(Message::Pong(_))) => {
                        pong_deadline.as_mut().reset(Instant::now() + cfg.pong_wait);
                    }
                    // Pings are answered by the WebSocket layer; binary frames are ignored.
                    Some(Ok(Message::Ping(_))) | Some(Ok(Message::Binary(_))) => {}
                    Some(Ok(Message::Text(text))) => {
                        if let Some(exit) = self.on_text(text.as_str()).await {
                            break exit;
                        }
                    }
                },
                _ = ping.tick() => {
                    if let Some(exit) = self.check_expiry() {
                        break exit;
                    }
                    if !self.write(&mut sink, Message::Ping(Default::default())).await {
                        break Exit::Gone;
                    }
                }
                _ = &mut pong_deadline => break Exit::Close(1001, "no pong"),
                _ = &mut auth_deadline, if !authed => break Exit::Close(1008, "not authenticated"),
                ev = recv_auth(&mut self.auth_rx) => {
                    if let Some(exit) = self.on_auth_event(ev).await {
                        break exit;
                    }
                }
            }
        };
        match exit {
            Exit::Gone => {}
            Exit::Close(code, reason) => {
                tracing::debug!(code, reason, "closing websocket");
                self.close(&mut sink, code, reason).await;
            }
            Exit::Denied(err) => {
                tracing::info!(error = %err, "session no longer valid; closing websocket");
                let data = json!({ "sock_id": &*self.sock_id, "error": err.0 });
                let frame = EventFrame::new("error", &data, None, None);
                let text = self.next_event(&frame);
                if self.write(&mut sink, Message::Text(text.into())).await {
                    self.close(&mut sink, 1008, "session ended").await;
                }
            }
        }
        self.leave();
        tracing::debug!("websocket closed");
    }

    fn next_event(&mut self, frame: &EventFrame) -> String {
        let text = frame.render(self.event_seq);
        self.event_seq += 1;
        text
    }

    async fn write(&self, sink: &mut Sink, msg: Message) -> bool {
        match tokio::time::timeout(self.state.ws.write_timeout, sink.send(msg)).await {
            Ok(Ok(())) => true,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "websocket write failed");
                false
            }
            Err(_) => {
                tracing::info!("websocket write timed out; dropping the peer");
                false
            }
        }
    }

    async fn close(&self, sink: &mut Sink, code: u16, reason: &'static str) {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let _ = self.write(sink, Message::Close(Some(frame))).await;
    }

    /// Queues a message for this socket; an overflowing queue closes it.
    fn queue(&self, text: String) {
        queue(&self.tx, &self.kill, text);
    }

    async fn on_text(&mut self, text: &str) -> Option<Exit> {
        if text.len() > self.state.ws.max_request {
            let err = ApiError::new(
                413,
                protocol::TOO_LARGE,
                format!("the frame exceeds {} bytes", self.state.ws.max_request),
            );
            self.queue(fail_reply(0, &err));
            return None;
        }
        // The engine's filler frame, should a client echo it.
        if text.bytes().all(|b| b == 0) {
            return None;
        }
        let req = match protocol::parse_request(text) {
            Ok(r) => r,
            Err(rej) => {
                self.queue(fail_reply(rej.seq, &rej.error));
                return None;
            }
        };
        if req.action == "authentication_challenge" {
            return self.authenticate(req).await;
        }
        let Some(session) = self.session.clone() else {
            let err = ApiError::new(
                500,
                protocol::NOT_AUTHENTICATED,
                "authenticate first: send authentication_challenge with a token",
            );
            self.queue(fail_reply(req.seq, &err));
            return None;
        };
        if let Some(exit) = self.check_expiry() {
            return Some(exit);
        }
        // Waiting here (not spawning unboundedly) is the backpressure on a flooding client.
        let permit = self.in_flight.clone().acquire_owned().await.ok()?;
        let ctx = actions::ActionCtx {
            state: self.state.clone(),
            session,
            sock_id: self.sock_id.clone(),
            origin: self.origin.clone(),
        };
        let (tx, kill) = (self.tx.clone(), self.kill.clone());
        let span = tracing::debug_span!("action", action = %req.action, seq = req.seq);
        tokio::spawn(
            async move {
                let text = match actions::dispatch(&ctx, &req.action, req.data).await {
                    Ok(data) => ok_reply(req.seq, data),
                    Err(e) => {
                        tracing::debug!(error = %e, "action failed");
                        fail_reply(req.seq, &e)
                    }
                };
                queue(&tx, &kill, text);
                drop(permit);
            }
            .instrument(span),
        );
        None
    }

    /// `authentication_challenge` (b.3).
    async fn authenticate(&mut self, req: protocol::Request) -> Option<Exit> {
        if self.session.is_some() {
            return None;
        }
        let Some(Value::String(token)) = req.data.get("token") else {
            return Some(Exit::Close(1008, "no token"));
        };
        // Subscribed before the lookup so that a revocation racing with it is not missed.
        let auth_rx = self.state.auth_events.subscribe();
        let session = match auth::authenticate(&self.state, token).await {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!(error = %e, "websocket authentication refused");
                self.queue(fail_reply(req.seq, &e));
                return None;
            }
        };
        tracing::Span::current().record("user_id", session.user_id);
        let hello = hello(&self.state, &session, &self.sock_id);
        let frame = Arc::new(EventFrame::new("hello", &hello, None, None));
        let _ = self.tx.try_send(Outbound::Event(frame));
        self.queue(ok_reply(req.seq, None));
        let member = Arc::new(Member::new(
            self.sock_id.to_string(),
            session.domain_id,
            session.user_id,
            self.tx.clone(),
            self.kill.clone(),
        ));
        if self.state.hub.join(member.clone()) {
            self.state
                .hub
                .publish(presence_event(session.domain_id, session.user_id, true));
        }
        self.member = Some(member);
        self.session = Some(session);
        self.auth_rx = Some(auth_rx);
        None
    }

    fn check_expiry(&self) -> Option<Exit> {
        let s = self.session.as_ref()?;
        if s.expires_at != 0 && s.expires_at <= switchboard_store::now_ms() {
            return Some(Exit::Denied(ApiError::unauthenticated(
                "app.session.expired",
                "the access token has expired; sign in again",
            )));
        }
        None
    }

    /// Re-checks the session when something it depends on changed.
    async fn on_auth_event(
        &mut self,
        ev: Result<AuthEvent, broadcast::error::RecvError>,
    ) -> Option<Exit> {
        let s = self.session.clone()?;
        let recheck = match ev {
            Ok(AuthEvent::TokenRevoked { key }) => {
                if key == s.token_key {
                    return Some(Exit::Denied(ApiError::unauthenticated(
                        "app.session.revoked",
                        "the access token was revoked",
                    )));
                }
                false
            }
            Ok(AuthEvent::UserChanged { user_id }) => user_id == s.user_id,
            Ok(AuthEvent::DomainChanged { domain_id }) => domain_id == s.domain_id,
            // Missed events: check rather than guess.
            Err(broadcast::error::RecvError::Lagged(_)) => true,
            Err(broadcast::error::RecvError::Closed) => {
                self.auth_rx = None;
                false
            }
        };
        if !recheck {
            return None;
        }
        match auth::authenticate(&self.state, &s.token).await {
            Ok(fresh) => {
                self.session = Some(fresh);
                None
            }
            Err(e) => Some(Exit::Denied(e)),
        }
    }

    fn leave(&mut self) {
        let (Some(m), Some(s)) = (self.member.take(), self.session.as_ref()) else {
            return;
        };
        if self.state.hub.leave(m.domain_id, &m.sock_id) {
            self.state
                .hub
                .publish(presence_event(s.domain_id, s.user_id, false));
        }
    }
}

fn queue(tx: &mpsc::Sender<Outbound>, kill: &Notify, text: String) {
    if let Err(mpsc::error::TrySendError::Full(_)) = tx.try_send(Outbound::Text(text)) {
        tracing::warn!("websocket send queue full; closing");
        kill.notify_one();
    }
}

async fn recv_auth(
    rx: &mut Option<broadcast::Receiver<AuthEvent>>,
) -> Result<AuthEvent, broadcast::error::RecvError> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}
