//! The runtime actor: one task owning the sans-IO SIP cores.
//!
//! Inputs arrive as [`Command`]s from transport tasks and from spawned lookups; the actor feeds
//! them to the transaction layer, handles the transaction user's events (registrar, digest, calls)
//! and drains the layer's outputs to the flows. It never awaits anything but its own inbox and
//! the next timer, so signalling never waits for the database or a slow peer.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use switchboard_sip::digest::{find_credentials, DigestError, DigestServer};
use switchboard_sip::header::auth::Auth;
use switchboard_sip::header::HeaderName;
use switchboard_sip::registrar::Registrar;
use switchboard_sip::response::{make_response, random_token};
use switchboard_sip::transaction::{
    Event, Input, Output, TimerConfig, TransactionId, TransactionLayer,
};
use switchboard_sip::{FlowId, Method, Peer, Request, Response, Uri};
use switchboard_store::Store;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::lookup::{self, DeviceAuth, Owner};
use crate::media::{DialogRef, MediaOp};
use crate::{RegistrationChange, Registrations, TelephonyConfig, UserKey};
use switchboard_api::ws::hub::EventHub;
use switchboard_calls::{ActiveCall, CallCommand, Engine, LegId, LookupId};

mod calls;

/// Methods we answer; sent in Allow.
pub(crate) const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REGISTER";

/// What the actor is fed.
pub(crate) enum Command {
    /// A WebSocket connected; messages for it go to `tx`.
    Open {
        flow: FlowId,
        addr: String,
        tx: mpsc::Sender<Bytes>,
    },
    /// One SIP message received on a flow.
    Receive {
        flow: FlowId,
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
        result: Result<Option<Owner>, String>,
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
    /// Live legs of a user (`subscribe_call`).
    ActiveCalls {
        domain_id: i64,
        user_id: i64,
        reply: oneshot::Sender<Vec<ActiveCall>>,
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
    addr: String,
    tx: mpsc::Sender<Bytes>,
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
    pending: HashMap<TransactionId, Pending>,
    /// Flows found stuck while transmitting; closed after the current drain.
    stuck: Vec<FlowId>,
    engine: Engine,
    calls: calls::Calls,
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
        } = links;
        let engine = Engine::new(switchboard_calls::Config {
            ring_timeout: config.no_answer_timeout,
            ..Default::default()
        });
        Self {
            engine,
            calls: calls::Calls::default(),
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
            pending: HashMap::new(),
            stuck: Vec::new(),
        }
    }

    pub(crate) async fn run(mut self, mut inbox: mpsc::Receiver<Command>) {
        tracing::info!(media = %self.config.media_address, "telephony runtime started");
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
    }

    fn handle(&mut self, cmd: Command, now: Instant) {
        match cmd {
            Command::Open { flow, addr, tx } => {
                self.flows.insert(flow, Flow { addr, tx });
            }
            Command::Receive { flow, bytes } => {
                let Some(f) = self.flows.get(&flow) else {
                    return;
                };
                let peer = Peer {
                    flow,
                    addr: f.addr.clone(),
                    reliable: true,
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
            Command::ActiveCalls {
                domain_id,
                user_id,
                reply,
            } => {
                let _ = reply.send(self.engine.active_calls(
                    domain_id,
                    Some(user_id),
                    switchboard_store::now_ms(),
                ));
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
        self.layer.handle_input(Input::TransportError { flow }, now);
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
                    Output::Transmit { flow, bytes, .. } => self.transmit(flow, bytes),
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

    fn transmit(&mut self, flow: FlowId, bytes: Bytes) {
        let Some(f) = self.flows.get(&flow) else {
            tracing::debug!(%flow, "message for a closed flow dropped");
            return;
        };
        match f.tx.try_send(bytes) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!(%flow, "sip websocket queue full; closing it");
                self.stuck.push(flow);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => self.stuck.push(flow),
        }
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
            Event::Response { tx, response } => self.on_client_response(tx, response, now),
            Event::Timeout { tx } | Event::TransportError { tx } => {
                self.on_client_failure(tx, now);
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
            Method::Invite => self.on_invite(tx, peer, req, now),
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
        self.finish_register(tx, &p.peer, &req, user, now);
    }

    fn finish_register(
        &mut self,
        tx: TransactionId,
        peer: &Peer,
        req: &Request,
        user: UserKey,
        now: Instant,
    ) {
        let outcome = self
            .registrar
            .register(req, peer.flow, &peer.addr, now, &random_token());
        let status = outcome.response.status;
        self.respond(tx, outcome.response, now);
        if let (true, Some(aor)) = (outcome.changed, outcome.aor) {
            self.aor_owner.insert(aor.clone(), user);
            self.registration_changed(&aor, now);
        }
        tracing::debug!(status, user = user.user_id, "register");
    }

    fn registration_changed(&mut self, aor: &str, now: Instant) {
        let Some(&user) = self.aor_owner.get(aor) else {
            return;
        };
        let bindings = self.registrar.lookup(aor, now).count();
        if bindings == 0 {
            self.aor_owner.remove(aor);
        }
        if self.registrations.set(user, bindings) {
            tracing::info!(user = user.user_id, bindings, "registrations changed");
            let _ = self.changes.send(RegistrationChange { user, bindings });
        }
    }
}

/// Realm (domain) and user part of the To URI.
fn to_identity(req: &Request) -> Option<(String, String)> {
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
        CallCommand::Originate { .. } => None,
    }
}
