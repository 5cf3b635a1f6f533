//! The runtime actor: one task owning the sans-IO SIP cores.
//!
//! Inputs arrive as [`Command`]s from transport tasks and from spawned lookups; the actor feeds
//! them to the transaction layer, handles the transaction user's events (registrar, digest, calls)
//! and drains the layer's outputs to the flows. It never awaits anything but its own inbox and
//! the next timer, so signalling never waits for the database or a slow peer.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use switchboard_sip::digest::{find_credentials, DigestError, DigestServer};
use switchboard_sip::header::auth::Auth;
use switchboard_sip::header::name_addr::NameAddr;
use switchboard_sip::header::via::Via;
use switchboard_sip::header::HeaderName;
use switchboard_sip::registrar::Registrar;
use switchboard_sip::response::{make_response, new_branch, random_token};
use switchboard_sip::transaction::{
    Event, Input, Output, TimerConfig, TransactionId, TransactionLayer,
};
use switchboard_sip::{FlowId, Method, Peer, Request, Response, SipUri, Uri};
use switchboard_store::Store;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::lookup::{self, DeviceAuth};
use crate::media::{DialogRef, MediaOp};
use crate::transport::{Link, Sink, Transport};
use crate::{RegistrationChange, Registrations, TelephonyConfig, UserKey};
use switchboard_api::ws::hub::EventHub;
use switchboard_calls::{CallCommand, Engine, LegId, LookupId};

mod calls;
pub(crate) mod cc;
mod inbound;
mod keepalive;
mod refer;
mod trunks;

/// Methods we answer; sent in Allow.
pub(crate) const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REGISTER, REFER";

/// What the actor is fed.
pub(crate) enum Command {
    /// A connection opened or a UDP socket is ready.
    Open {
        flow: FlowId,
        link: Link,
    },
    /// One SIP message received on a flow; `from` is the sender on a UDP socket.
    Receive {
        flow: FlowId,
        from: Option<SocketAddr>,
        bytes: Bytes,
    },
    /// The connection is gone.
    Close {
        flow: FlowId,
    },
    /// The credentials lookup for server transaction `tx` finished.
    Authenticated {
        tx: TransactionId,
        result: Result<Option<DeviceAuth>, String>,
    },
    Stats(oneshot::Sender<Stats>),
    /// The media endpoint of a leg is ready (`Some(local SDP)`) or could not be made.
    MediaReady {
        leg: LegId,
        sdp: Option<String>,
    },
    /// The RTP/AVP offer for the desk phones among a leg's forks (the others get the leg's
    /// WebRTC offer from `MediaReady`).
    AltOffer {
        leg: LegId,
        sdp: String,
    },
    /// Our re-offer for a re-INVITE on a leg's dialog.
    Reoffer {
        leg: LegId,
        dialog: DialogRef,
        sdp: Option<String>,
    },
    /// The media answer to a device's re-INVITE (server transaction `tx`).
    ReinviteAnswer {
        tx: TransactionId,
        sdp: Option<String>,
    },
    /// A digit the media engine received from a leg's device.
    LegDtmf {
        leg: LegId,
        digit: char,
    },
    /// A dial-plan lookup finished.
    Resolved {
        lookup: LookupId,
        domain_id: i64,
        result: Result<lookup::Resolution, String>,
    },
    /// A call action from the WebSocket API.
    Control {
        domain_id: i64,
        /// The caller's user id when it may only control its own legs; `None` for any leg of
        /// the domain.
        user_id: Option<i64>,
        cmd: CallCommand,
        reply: oneshot::Sender<Result<(), String>>,
    },
    /// Where an out-of-dialog INVITE (server transaction `tx`) comes from.
    Origin {
        tx: TransactionId,
        origin: Result<inbound::Origin, String>,
    },
    /// The register-mode gateways, read from the store.
    Gateways(Vec<trunks::GatewayTarget>),
    /// Live legs of a user (`subscribe_call` items, with their contact-center task).
    ActiveCalls {
        domain_id: i64,
        user_id: i64,
        reply: oneshot::Sender<Vec<serde_json::Value>>,
    },
    /// A domain's contact-center configuration, read from the store.
    CcDirectory {
        domain_id: i64,
        dir: switchboard_store::CcDirectory,
    },
    /// A dialer queue's callable members, read from the store.
    CcMembers {
        queue_id: i64,
        members: Vec<switchboard_store::MemberRow>,
    },
    /// Where a dialer's call goes: the gateway resolved (or why not).
    CcDialRoute {
        dial: Box<cc::DialOrder>,
        route: Result<lookup::GatewayDial, String>,
    },
    /// A contact-center action of a user (`None`: an administrator over REST).
    CcAction {
        domain_id: i64,
        user_id: Option<i64>,
        action: cc::CcAction,
        reply: oneshot::Sender<
            Result<Option<serde_json::Map<String, serde_json::Value>>, switchboard_api::ApiError>,
        >,
    },
}

/// Counters for monitoring and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Open SIP WebSockets.
    pub flows: usize,
    /// Live registrations.
    pub bindings: usize,
    /// Addresses of record with at least one registration.
    pub aors: usize,
    /// Live SIP transactions.
    pub transactions: usize,
    /// Calls in progress.
    pub calls: usize,
}

struct Flow {
    link: Link,
}

/// What the registrar does not keep of a binding but `/devices/{id}/registered` shows.
struct RegMeta {
    id: u64,
    device: (i64, i64, String),
    /// The device's vendor (`brand`), for vendor-specific headers.
    brand: String,
    user: (i64, String),
    user_agent: String,
    register_at: i64,
}

/// A request waiting for its credentials lookup.
struct Pending {
    peer: Peer,
    realm: String,
    creds: Auth,
    /// Challenged with 407 (INVITE) rather than 401 (REGISTER).
    proxy: bool,
}

pub(crate) struct Runtime {
    store: Arc<Store>,
    config: TelephonyConfig,
    commands: mpsc::Sender<Command>,
    registrations: Arc<Registrations>,
    changes: broadcast::Sender<RegistrationChange>,
    layer: TransactionLayer,
    registrar: Registrar,
    digest: DigestServer,
    flows: HashMap<FlowId, Flow>,
    /// Who each registered AOR belongs to.
    aor_owner: HashMap<String, UserKey>,
    /// Per AOR, per REGISTER Call-ID: the device and user agent behind the binding.
    reg_meta: HashMap<String, HashMap<String, RegMeta>>,
    next_reg_id: u64,

    pinger: keepalive::Pinger,
    trunks: trunks::Trunks,
    sip_addrs: crate::SipAddrs,
    /// The UDP listener's flow, once it is open.
    udp: Option<FlowId>,
    pending: HashMap<TransactionId, Pending>,
    /// INVITEs waiting for the verdict on their source.
    pending_origin: HashMap<TransactionId, Peer>,
    /// Flows found stuck while transmitting; closed after the current drain.
    stuck: Vec<FlowId>,
    engine: Engine,
    calls: calls::Calls,
    cc: cc::Cc,
    hub: Arc<dyn EventHub>,
    media_ops: mpsc::UnboundedSender<MediaOp>,
    history: mpsc::UnboundedSender<switchboard_calls::HistoryRecord>,
}

/// Everything the runtime talks to besides the store.
pub(crate) struct Links {
    pub(crate) commands: mpsc::Sender<Command>,
    pub(crate) registrations: Arc<Registrations>,
    pub(crate) changes: broadcast::Sender<RegistrationChange>,
    pub(crate) hub: Arc<dyn EventHub>,
    pub(crate) media_ops: mpsc::UnboundedSender<MediaOp>,
    pub(crate) history: mpsc::UnboundedSender<switchboard_calls::HistoryRecord>,
    pub(crate) cc_writes: mpsc::UnboundedSender<cc::CcWrite>,
    pub(crate) live_agents: cc::LiveAgents,
    pub(crate) first_attempt_id: i64,
    /// Where flow ids come from (shared with the listeners): connections to trunks are ours.
    pub(crate) flow_ids: Arc<std::sync::atomic::AtomicU64>,
    pub(crate) trunk_tls: Arc<tokio_rustls::TlsConnector>,
    /// The SIP listeners as bound (our address towards trunks).
    pub(crate) sip_addrs: crate::SipAddrs,
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Runtime {
    pub(crate) fn new(store: Arc<Store>, config: TelephonyConfig, links: Links) -> Self {
        let secret: [u8; 32] = rand::random();
        let Links {
            commands,
            registrations,
            changes,
            hub,
            media_ops,
            history,
            cc_writes,
            live_agents,
            first_attempt_id,
            flow_ids,
            trunk_tls,
            sip_addrs,
        } = links;
        let engine = Engine::new(switchboard_calls::Config {
            ring_timeout: config.no_answer_timeout,
            ..Default::default()
        });
        let app_id = engine.config().app_id.clone();
        Self {
            engine,
            calls: calls::Calls::default(),
            cc: cc::Cc::new(app_id, first_attempt_id, cc_writes, live_agents),
            hub,
            media_ops,
            history,
            store,
            layer: TransactionLayer::new(TimerConfig::default()),
            registrar: Registrar::new(config.registrar),
            digest: DigestServer::new(&secret, config.nonce_ttl_secs),
            config,
            commands,
            registrations,
            changes,
            flows: HashMap::new(),
            aor_owner: HashMap::new(),
            reg_meta: HashMap::new(),
            next_reg_id: 1,

            pinger: keepalive::Pinger::default(),
            trunks: trunks::Trunks::new(flow_ids, trunk_tls),
            sip_addrs,
            udp: None,
            pending: HashMap::new(),
            pending_origin: HashMap::new(),
            stuck: Vec::new(),
        }
    }

    pub(crate) async fn run(mut self, mut inbox: mpsc::Receiver<Command>) {
        tracing::info!(media = %self.config.media_address, "telephony runtime started");
        let ping = self.config.sip_ping_interval;
        self.pinger.next_round = (!ping.is_zero()).then(|| Instant::now() + ping);
        // The listeners open their flows first; the first gateway read follows at once.
        self.trunks.next_reload = Some(Instant::now() + std::time::Duration::from_millis(200));
        loop {
            let deadline = self.next_deadline();
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                cmd = inbox.recv() => match cmd {
                    Some(cmd) => self.handle(cmd, Instant::now()),
                    None => break,
                },
                () = sleep => self.on_timeout(Instant::now()),
            }
            self.drain(Instant::now());
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        [
            self.layer.poll_timeout(),
            self.registrar.poll_timeout(),
            self.engine.poll_timeout(),
            self.calls.poll_orphans(),
            self.cc.poll_timeout(),
            self.pinger.next_round,
            self.trunks.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn on_timeout(&mut self, now: Instant) {
        self.layer.handle_timeout(now);
        for aor in self.registrar.expire(now) {
            self.registration_changed(&aor, now);
        }
        if self.engine.poll_timeout().is_some_and(|t| t <= now) {
            self.call_input(switchboard_calls::Input::Timeout, now);
        }
        if self.calls.poll_orphans().is_some_and(|t| t <= now) {
            self.on_orphans_due(now);
        }
        self.on_cc_timeout(now);
        self.on_ping_due(now);
        self.on_trunks_timeout(now);
    }

    fn handle(&mut self, cmd: Command, now: Instant) {
        match cmd {
            Command::Open { flow, link } => {
                if link.transport == Transport::Udp {
                    self.udp = Some(flow);
                }
                self.flows.insert(flow, Flow { link });
            }
            Command::Receive { flow, from, bytes } => {
                let Some(f) = self.flows.get(&flow) else {
                    return;
                };
                let peer = Peer {
                    flow,
                    addr: from.map_or_else(|| f.link.peer.clone(), |a| a.to_string()),
                    reliable: f.link.transport.reliable(),
                };
                self.layer.handle_input(Input::Receive { peer, bytes }, now);
            }
            Command::Close { flow } => self.close_flow(flow, now),
            Command::Authenticated { tx, result } => self.on_authenticated(tx, result, now),
            Command::Stats(reply) => {
                let _ = reply.send(self.stats(now));
            }
            Command::MediaReady { leg, sdp } => {
                let input = match sdp {
                    Some(local_sdp) => switchboard_calls::Input::MediaReady { leg, local_sdp },
                    None => switchboard_calls::Input::MediaFailed { leg },
                };
                self.call_input(input, now);
            }
            Command::AltOffer { leg, sdp } => {
                self.calls.alt_offers.insert(leg, sdp);
            }
            Command::Reoffer { leg, dialog, sdp } => self.on_reoffer(leg, dialog, sdp, now),
            Command::ReinviteAnswer { tx, sdp } => self.on_reinvite_answer(tx, sdp, now),
            Command::LegDtmf { leg, digit } => {
                self.call_input(switchboard_calls::Input::LegDtmf { leg, digit }, now);
            }
            Command::Resolved {
                lookup,
                domain_id,
                result,
            } => self.on_resolved(lookup, domain_id, result, now),
            Command::Control {
                domain_id,
                user_id,
                cmd,
                reply,
            } => {
                let leg = control_leg(&cmd);
                let mine = leg.is_none_or(|l| {
                    self.engine
                        .active_call(l, switchboard_store::now_ms())
                        .is_some_and(|c| {
                            c.domain_id == domain_id && user_id.is_none_or(|u| c.user_id == Some(u))
                        })
                });
                let r = if mine {
                    self.on_control(cmd, now)
                } else {
                    Err("no such call".to_string())
                };
                let _ = reply.send(r);
            }
            Command::Gateways(list) => self.on_gateways(list, now),
            Command::Origin { tx, origin } => self.on_origin(tx, origin, now),
            Command::ActiveCalls {
                domain_id,
                user_id,
                reply,
            } => {
                let calls =
                    self.engine
                        .active_calls(domain_id, Some(user_id), switchboard_store::now_ms());
                let items = calls
                    .into_iter()
                    .filter_map(|c| {
                        let task = self.cc.leg_task(c.id.as_str());
                        let mut v = serde_json::to_value(c).ok()?;
                        // A task needs a queue object: webitel-sdk sets `queue.reporting`.
                        if let Some((task, queue)) = task {
                            v["task"] = task;
                            v["queue"] = queue;
                        }
                        Some(v)
                    })
                    .collect();
                let _ = reply.send(items);
            }
            Command::CcDirectory { domain_id, dir } => self.on_cc_directory(domain_id, dir, now),
            Command::CcMembers { queue_id, members } => self.on_cc_members(queue_id, members, now),
            Command::CcDialRoute { dial, route } => self.on_cc_dial_route(*dial, route, now),
            Command::CcAction {
                domain_id,
                user_id,
                action,
                reply,
            } => {
                let r = self.on_cc_action(domain_id, user_id, action, now);
                let _ = reply.send(r);
            }
        }
    }

    fn stats(&self, now: Instant) -> Stats {
        let bindings = self
            .aor_owner
            .keys()
            .map(|aor| self.registrar.lookup(aor, now).count())
            .sum();
        Stats {
            flows: self.flows.len(),
            bindings,
            aors: self.registrar.len(),
            transactions: self.layer.len(),
            calls: self.calls.live(),
        }
    }

    fn close_flow(&mut self, flow: FlowId, now: Instant) {
        if self.flows.remove(&flow).is_none() {
            return;
        }
        if self.udp == Some(flow) {
            self.udp = None;
        }
        self.layer.handle_input(Input::TransportError { flow }, now);
        self.on_trunk_flow_closed(flow, now);
        for aor in self.registrar.remove_flow(flow) {
            self.registration_changed(&aor, now);
        }
        self.on_flow_closed_calls(flow, now);
    }

    /// Drains the transaction layer: transmissions go to flows, events to the TU.
    fn drain(&mut self, now: Instant) {
        loop {
            while let Some(out) = self.layer.poll_output() {
                match out {
                    Output::Transmit { flow, addr, bytes } => self.transmit(flow, &addr, bytes),
                    Output::Event(ev) => self.on_event(ev, now),
                }
            }
            if self.stuck.is_empty() {
                break;
            }
            for flow in std::mem::take(&mut self.stuck) {
                self.close_flow(flow, now);
            }
        }
    }

    fn transmit(&mut self, flow: FlowId, addr: &str, bytes: Bytes) {
        let Some(f) = self.flows.get(&flow) else {
            tracing::debug!(%flow, "message for a closed flow dropped");
            return;
        };
        match &f.link.sink {
            Sink::Stream(tx) => match tx.try_send(bytes) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::warn!(%flow, "sip connection queue full; closing it");
                    self.stuck.push(flow);
                }
                Err(mpsc::error::TrySendError::Closed(_)) => self.stuck.push(flow),
            },
            // A full socket buffer drops the datagram: retransmissions cover it (§17).
            Sink::Datagram(socket) => match addr.parse::<SocketAddr>() {
                Ok(to) => {
                    if let Err(e) = socket.try_send_to(&bytes, to) {
                        tracing::debug!(%to, "sip udp send: {e}");
                    }
                }
                Err(_) => tracing::debug!(addr, "sip udp destination is not an address"),
            },
        }
    }

    /// Our Via for a request sent on `flow` (RFC 3581 `rport` on UDP).
    pub(crate) fn via_for(&self, flow: FlowId) -> Via {
        let branch = new_branch();
        match self
            .flows
            .get(&flow)
            .map(|f| (&f.link.transport, f.link.local))
        {
            Some((t, Some(local))) => {
                let mut via = Via::new(t.token(), &host_of(local), Some(local.port()), &branch);
                if *t == Transport::Udp {
                    via.params.set("rport", None);
                }
                via
            }
            _ => Via::new("WS", "switchboard.invalid", None, &branch),
        }
    }

    /// Our Contact on `flow`: where the device sends its in-dialog requests.
    pub(crate) fn contact_for(&self, flow: FlowId) -> NameAddr {
        let link = self.flows.get(&flow).map(|f| &f.link);
        let mut uri = match link.and_then(|l| l.local) {
            Some(local) => {
                let mut u = SipUri::new(Some("switchboard"), &host_of(local));
                u.port = Some(local.port());
                u
            }
            None => SipUri::new(Some("switchboard"), &self.config.media_address.to_string()),
        };
        let transport = link.map_or(Transport::Ws, |l| l.transport);
        if transport != Transport::Udp {
            uri.params
                .set("transport", Some(&transport.token().to_ascii_lowercase()));
        }
        NameAddr::new(uri)
    }

    fn on_event(&mut self, ev: Event, now: Instant) {
        match ev {
            Event::Request {
                tx: Some(tx),
                peer,
                request,
                cancels,
            } => self.on_request(tx, peer, request, cancels, now),
            Event::Request {
                tx: None, request, ..
            } => {
                // An ACK for a 2xx we sent.
                self.on_in_dialog(None, request, now);
            }
            Event::Response { tx, response } => {
                if !self.on_ping_response(tx, response.status)
                    && !self.on_trunk_response(tx, &response, now)
                {
                    self.on_client_response(tx, response, now);
                }
            }
            Event::Timeout { tx } => {
                if !self.on_ping_failure(tx, now) && !self.on_trunk_failure(tx, true, now) {
                    self.on_client_failure(tx, now);
                }
            }
            Event::TransportError { tx } => {
                if !self.on_ping_failure(tx, now) && !self.on_trunk_failure(tx, false, now) {
                    self.on_client_failure(tx, now);
                }
            }
            Event::StrayResponse { .. } | Event::Terminated { .. } => {}
        }
    }

    fn respond(&mut self, tx: TransactionId, resp: Response, now: Instant) {
        if let Err(e) = self.layer.send_response(tx, &resp, now) {
            tracing::debug!(?tx, status = resp.status, "response not sent: {e}");
        }
    }

    fn reply(&mut self, tx: TransactionId, req: &Request, status: u16, now: Instant) {
        let resp = make_response(req, status, Some(&random_token()));
        self.respond(tx, resp, now);
    }

    fn on_request(
        &mut self,
        tx: TransactionId,
        peer: Peer,
        req: Request,
        cancels: Option<TransactionId>,
        now: Instant,
    ) {
        if req.method == Method::Cancel {
            self.on_cancel(tx, &req, cancels, now);
            return;
        }
        if has_to_tag(&req) {
            self.on_in_dialog(Some(tx), req, now);
            return;
        }
        match req.method {
            Method::Register => self.on_register(tx, peer, req, now),
            Method::Options => {
                let mut r = make_response(&req, 200, Some(&random_token()));
                r.headers.push(HeaderName::Allow, ALLOW);
                r.headers.push(HeaderName::Accept, "application/sdp");
                self.respond(tx, r, now);
            }
            Method::Invite => self.on_new_invite(tx, peer, req, now),
            _ => {
                let mut r = make_response(&req, 405, Some(&random_token()));
                r.headers.push(HeaderName::Allow, ALLOW);
                self.respond(tx, r, now);
            }
        }
    }

    /// REGISTER (§10.3): challenge, look the device up off the actor, then verify and bind.
    fn on_register(&mut self, tx: TransactionId, peer: Peer, req: Request, now: Instant) {
        let identity = to_identity(&req);
        self.begin_auth(tx, peer, &req, identity, false, now);
    }

    /// The digest step REGISTER (401, Authorization) and INVITE (407, Proxy-Authorization)
    /// share: challenge, or look the device up off the actor and park the request until the
    /// answer comes back.
    fn begin_auth(
        &mut self,
        tx: TransactionId,
        peer: Peer,
        req: &Request,
        identity: Option<(String, String)>,
        proxy: bool,
        now: Instant,
    ) {
        let Some((realm, extension)) = identity else {
            self.reply(tx, req, 400, now);
            return;
        };
        let auths = if proxy {
            req.headers.proxy_authorization()
        } else {
            req.headers.authorization()
        }
        .unwrap_or_default();
        let Some(creds) = find_credentials(&auths, &realm).cloned() else {
            self.challenge(tx, req, &realm, false, proxy, now);
            return;
        };
        let Some(account) = creds.get("username").map(str::to_owned) else {
            self.reply(tx, req, 400, now);
            return;
        };
        self.spawn_auth_lookup(tx, &realm, account, extension);
        self.pending.insert(
            tx,
            Pending {
                peer,
                realm,
                creds,
                proxy,
            },
        );
    }

    fn spawn_auth_lookup(
        &self,
        tx: TransactionId,
        realm: &str,
        account: String,
        extension: String,
    ) {
        let store = self.store.clone();
        let commands = self.commands.clone();
        let realm = realm.to_owned();
        tokio::spawn(async move {
            let result = lookup::device_auth(&store, &realm, &account, &extension)
                .await
                .map_err(|e| e.to_string());
            let _ = commands.send(Command::Authenticated { tx, result }).await;
        });
    }

    fn challenge(
        &mut self,
        tx: TransactionId,
        req: &Request,
        realm: &str,
        stale: bool,
        proxy: bool,
        now: Instant,
    ) {
        let resp =
            self.digest
                .challenge_response(req, realm, unix_secs(), stale, proxy, &random_token());
        self.respond(tx, resp, now);
    }

    fn on_authenticated(
        &mut self,
        tx: TransactionId,
        result: Result<Option<DeviceAuth>, String>,
        now: Instant,
    ) {
        let Some(p) = self.pending.remove(&tx) else {
            return;
        };
        let Some(req) = self.layer.server_request(tx).cloned() else {
            // The transaction ended meanwhile (its flow closed).
            return;
        };
        let auth = match result {
            Ok(Some(a)) => a,
            Ok(None) => {
                tracing::info!(realm = %p.realm, user = ?p.creds.get("username"), "unknown device");
                self.challenge(tx, &req, &p.realm, false, p.proxy, now);
                return;
            }
            Err(e) => {
                tracing::error!("credentials lookup failed: {e}");
                self.reply(tx, &req, 500, now);
                return;
            }
        };
        match self.digest.verify(
            &p.creds,
            &req.method,
            &req.uri,
            &p.realm,
            &auth.ha1,
            unix_secs(),
        ) {
            Ok(()) => {}
            Err(DigestError::Stale) => {
                self.challenge(tx, &req, &p.realm, true, p.proxy, now);
                return;
            }
            Err(e) => {
                tracing::info!(realm = %p.realm, user = ?p.creds.get("username"), "digest rejected: {e}");
                self.challenge(tx, &req, &p.realm, false, p.proxy, now);
                return;
            }
        }
        let Some(owner) = auth.owner else {
            tracing::info!(
                device = auth.device_id,
                "device does not belong to the AOR's user"
            );
            self.reply(tx, &req, 403, now);
            return;
        };
        if req.method == Method::Invite {
            self.start_incoming(tx, p.peer, req, owner, (auth.domain_id, p.realm), now);
            return;
        }
        self.calls.domains.insert(auth.domain_id, p.realm);
        let user = UserKey {
            domain_id: auth.domain_id,
            user_id: owner.user_id,
        };
        let meta = RegMeta {
            id: 0,
            device: (auth.domain_id, auth.device_id, auth.device_name),
            brand: auth.device_brand,
            user: (owner.user_id, owner.name),
            user_agent: req
                .headers
                .get(&HeaderName::UserAgent)
                .unwrap_or_default()
                .to_owned(),
            register_at: switchboard_store::now_ms(),
        };
        self.finish_register(tx, &p.peer, &req, user, meta, now);
    }

    fn finish_register(
        &mut self,
        tx: TransactionId,
        peer: &Peer,
        req: &Request,
        user: UserKey,
        mut meta: RegMeta,
        now: Instant,
    ) {
        let outcome = self
            .registrar
            .register(req, peer.flow, &peer.addr, now, &random_token());
        let status = outcome.response.status;
        self.respond(tx, outcome.response, now);
        let Some(aor) = outcome.aor.filter(|_| status == 200) else {
            return;
        };
        if let Ok(call_id) = req.headers.call_id() {
            let metas = self.reg_meta.entry(aor.clone()).or_default();
            meta.id = match metas.get(call_id) {
                Some(old) => old.id,
                None => {
                    self.next_reg_id += 1;
                    self.next_reg_id
                }
            };
            metas.insert(call_id.to_owned(), meta);
        }
        if outcome.changed {
            self.aor_owner.insert(aor.clone(), user);
            self.registration_changed(&aor, now);
        } else {
            // A refresh: only the expiry moved.
            self.publish_registrations(&aor, now);
        }
        tracing::debug!(status, user = user.user_id, "register");
    }

    /// The brand of the device bound at `contact` under `aor`, if known.
    pub(crate) fn device_brand(&self, aor: &str, contact: &Uri, now: Instant) -> Option<&str> {
        let metas = self.reg_meta.get(aor)?;
        self.registrar
            .lookup(aor, now)
            .find(|b| &b.contact.uri == contact)
            .and_then(|b| metas.get(&b.call_id))
            .map(|m| m.brand.as_str())
    }

    /// Files `aor`'s live bindings by device for the REST API, forgetting what no binding uses.
    fn publish_registrations(&mut self, aor: &str, now: Instant) {
        let now_ms = switchboard_store::now_ms();
        let mut regs = Vec::new();
        let mut live = HashSet::new();
        let metas = self.reg_meta.get(aor);
        for b in self.registrar.lookup(aor, now) {
            let Some(m) = metas.and_then(|m| m.get(&b.call_id)) else {
                continue;
            };
            live.insert(b.call_id.clone());
            let (transport, local) = self
                .flows
                .get(&b.flow)
                .map(|f| (f.link.transport.token(), f.link.local))
                .unwrap_or(("WS", None));
            let transport = transport.to_ascii_lowercase();
            let remaining = i64::from(b.remaining(now)) * 1000;
            let reg = switchboard_model::Registration {
                id: Some(m.id.to_string()),
                user: switchboard_model::ObjectId::new(m.user.0, m.user.1.as_str()),
                device: switchboard_model::ObjectId::new(m.device.1, m.device.2.as_str()),
                callid: b.call_id.clone(),
                socket: match local {
                    Some(l) => format!("{transport}:{l}"),
                    None => transport.clone(),
                },
                contact: b.contact.to_string(),
                received: format!("{transport}:{}", b.source),
                instance: b.instance.clone().unwrap_or_default(),
                user_agent: m.user_agent.clone(),
                expires_at: Some((now_ms + remaining).to_string()),
                register_at: Some(m.register_at.to_string()),
            };
            regs.push(((m.device.0, m.device.1), reg));
        }
        match self.reg_meta.get_mut(aor) {
            Some(m) if !live.is_empty() => m.retain(|call_id, _| live.contains(call_id)),
            _ => {
                self.reg_meta.remove(aor);
            }
        }
        self.registrations.set_aor(aor, regs);
    }

    fn registration_changed(&mut self, aor: &str, now: Instant) {
        let Some(&user) = self.aor_owner.get(aor) else {
            return;
        };
        let bindings = self.registrar.lookup(aor, now).count();
        if bindings == 0 {
            self.aor_owner.remove(aor);
        }
        self.publish_registrations(aor, now);
        if self.registrations.set(user, bindings) {
            tracing::info!(user = user.user_id, bindings, "registrations changed");
            let _ = self.changes.send(RegistrationChange { user, bindings });
        }
    }
}

/// An address as a SIP host: IPv6 references in brackets.
pub(super) fn host_of(a: SocketAddr) -> String {
    match a {
        SocketAddr::V4(v4) => v4.ip().to_string(),
        SocketAddr::V6(v6) => format!("[{}]", v6.ip()),
    }
}

/// Realm (domain) and user part of the To URI.
pub(super) fn to_identity(req: &Request) -> Option<(String, String)> {
    let to = req.headers.to().ok()?;
    match to.uri {
        Uri::Sip(u) => Some((u.host.to_ascii_lowercase(), u.user.unwrap_or_default())),
        Uri::Other { .. } => None,
    }
}

fn has_to_tag(req: &Request) -> bool {
    req.headers.to().is_ok_and(|t| t.tag().is_some())
}

/// The leg a control action is about.
fn control_leg(cmd: &CallCommand) -> Option<&LegId> {
    match cmd {
        CallCommand::Hangup { leg, .. }
        | CallCommand::Hold { leg }
        | CallCommand::Unhold { leg }
        | CallCommand::Dtmf { leg, .. }
        | CallCommand::BlindTransfer { leg, .. }
        | CallCommand::Mute { leg, .. }
        | CallCommand::Bridge { leg, .. } => Some(leg),
        CallCommand::QueueOffer { member, .. } | CallCommand::QueueLeave { member, .. } => {
            Some(member)
        }
        CallCommand::Originate { .. } | CallCommand::DialMember { .. } => None,
    }
}
