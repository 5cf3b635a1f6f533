//! Calls: the glue between SIP dialogs and the sans-IO call engine.
//!
//! Incoming INVITEs (digest-authenticated with 407) become `IncomingCall`s; the engine's SIP
//! outputs become responses and requests on the legs' transactions and dialogs; its media outputs
//! go to the media worker, lookups to spawned store queries, events to the WebSocket hub and
//! history rows to the history writer.

use std::time::Instant;

use serde_json::json;
use switchboard_api::ws::hub::{HubEvent, Target as HubTarget, Topic};
use switchboard_calls::{
    CallCommand, ContactRef, ForkId, Input as CallInput, LegId, LookupId, Output as CallOutput,
    Party, Target,
};
use switchboard_sip::dialog::{Dialog, DialogId};
use switchboard_sip::header::name_addr::NameAddr;
use switchboard_sip::header::HeaderName;
use switchboard_sip::response::{make_response, random_token};
use switchboard_sip::transaction::{ClientState, TransactionId};
use switchboard_sip::{FlowId, Method, Peer, Request, Response, SipUri, Uri};

use super::{Command, Runtime, ALLOW};
use crate::lookup::{self, Owner};
use crate::media::{ForkKinds, MediaOp};
use crate::transport::Transport;

/// Session-Expires we ask for and accept (RFC 4028); webitel-sdk uses 120.
const SESSION_EXPIRES: u32 = 120;

/// The server side of a leg that a device started (we are UAS).
pub(super) struct Incoming {
    tx: TransactionId,
    peer: Peer,
    request: Request,
    to_tag: String,
    dialog: Option<Dialog>,
    span: tracing::Span,
}

/// One INVITE we sent to a device for a leg (we are UAC).
pub(super) struct Fork {
    tx: TransactionId,
    peer: Peer,
    request: Request,
    dialog: Option<Dialog>,
    answered: bool,
    provisional: bool,
    /// The gateway this fork dials through, if it goes to a provider.
    gateway: Option<i64>,
}

/// Which dialog of a leg: the incoming one (`None`) or a fork's.
pub(super) type LegDialog = (LegId, Option<ForkId>);

#[derive(Default)]
pub(super) struct Calls {
    incoming: std::collections::HashMap<LegId, Incoming>,
    forks: std::collections::HashMap<(LegId, ForkId), Fork>,
    /// Client INVITE transactions of forks.
    fork_tx: std::collections::HashMap<TransactionId, (LegId, ForkId)>,
    /// Server INVITE transactions of incoming legs (for CANCEL).
    invite_tx: std::collections::HashMap<TransactionId, LegId>,
    pub(super) dialogs: std::collections::HashMap<DialogId, LegDialog>,
    /// Credentials of the gateways outbound calls went to (From, digest answers).
    gateway_creds: std::collections::HashMap<i64, switchboard_store::GatewayCredentials>,
    /// The RTP/AVP offer for the phones of a leg that also rings browsers.
    pub(super) alt_offers: std::collections::HashMap<LegId, String>,
    /// Calls from trunks whose callee the gateway's routing schema decides, by call id.
    pub(super) via_schema: std::collections::HashMap<String, i64>,
    /// Forks whose INVITE already answered a provider's challenge (one try each).
    challenged: std::collections::HashSet<(LegId, ForkId)>,
    /// Re-INVITEs we sent, waiting for their 2xx.
    reinvites: std::collections::HashMap<TransactionId, LegDialog>,
    /// Domain names by id, learnt from authenticated requests (the realm).
    pub(super) domains: std::collections::HashMap<i64, String>,
    /// Answered legs whose SIP WebSocket closed, with when they are hung up.
    orphans: Vec<(Instant, LegId)>,
}

impl Calls {
    pub(super) fn live(&self) -> usize {
        self.incoming.len()
    }

    /// When the next orphaned leg is due to be hung up.
    pub(super) fn poll_orphans(&self) -> Option<Instant> {
        self.orphans.iter().map(|(at, _)| *at).min()
    }
}

pub(super) fn wall_ms() -> i64 {
    switchboard_store::now_ms()
}

fn party_uri(p: &Party, domain: &str) -> NameAddr {
    let mut a = NameAddr::new(SipUri::new(Some(&p.extension), domain));
    if !p.name.is_empty() {
        a.display = Some(p.name.clone());
    }
    a
}

/// From and To of an INVITE to a provider: From is the gateway's account (register mode,
/// as the provider bills it) or the caller's number at the trunk's host; To is the number.
fn gateway_parties(
    gw: &switchboard_store::GatewayCredentials,
    from: &Party,
    target: &Uri,
) -> (NameAddr, NameAddr) {
    let host = match target {
        Uri::Sip(u) => u.host.clone(),
        Uri::Other { .. } => String::new(),
    };
    let aor = switchboard_sip::registrant::GatewayAddr::parse(&gw.account, &gw.proxy)
        .ok()
        .filter(|_| gw.register)
        .map(|a| a.aor);
    let mut from_addr =
        NameAddr::new(aor.unwrap_or_else(|| SipUri::new(Some(&from.extension), &host)));
    if !from.name.is_empty() {
        from_addr.display = Some(from.name.clone());
    }
    (from_addr, NameAddr::new(target.clone()))
}

/// What asks a desk phone to pick up at once (click-to-call rings the caller's own phone
/// first), by the device's `brand`: `Call-Info` with `answer-after=0` is what most vendors
/// honour, with `intercom=true` for Yealink-style phones; Polycom phones look for `Alert-Info:
/// Auto Answer`. JsSIP ignores both.
fn auto_answer_headers(host: &str, brand: &str) -> Vec<(String, String)> {
    let call_info = (
        "Call-Info".to_string(),
        format!("<sip:{host}>;answer-after=0;intercom=true"),
    );
    if brand.to_ascii_lowercase().contains("polycom") {
        vec![
            call_info,
            ("Alert-Info".to_string(), "Auto Answer".to_string()),
        ]
    } else {
        vec![call_info]
    }
}

/// A registration as the engine sees it: `<flow>|<source address>|<contact URI>`. Requests go
/// over the flow it registered on, to the address its REGISTER came from (NAT, RFC 3581).
pub(super) fn contact_ref(flow: FlowId, source: &str, uri: &Uri) -> ContactRef {
    ContactRef::new(format!("{}|{}|{}", flow.0, source, uri))
}

/// A gateway as a fork target: `g<gateway id>:` before the flow, proxy address and URI.
fn gateway_ref(gateway: i64, flow: FlowId, proxy: &str, uri: &Uri) -> ContactRef {
    ContactRef::new(format!("g{gateway}:{}|{proxy}|{uri}", flow.0))
}

/// The gateway a fork target names, if it is one.
fn gateway_of(c: &ContactRef) -> Option<i64> {
    c.id.strip_prefix('g')?.split_once(':')?.0.parse().ok()
}

fn parse_contact_ref(c: &ContactRef) -> Option<(FlowId, String, Uri)> {
    let plain = match gateway_of(c) {
        Some(_) => c.id.split_once(':').map_or(c.id.as_str(), |(_, rest)| rest),
        None => c.id.as_str(),
    };
    let mut parts = plain.splitn(3, '|');
    let flow = FlowId(parts.next()?.parse().ok()?);
    let source = parts.next()?.to_owned();
    Some((flow, source, Uri::parse(parts.next()?).ok()?))
}

fn body_string(req_body: &bytes::Bytes) -> String {
    String::from_utf8_lossy(req_body).into_owned()
}

impl Runtime {
    /// Feeds the call engine and carries out what it asks for.
    pub(super) fn call_input(&mut self, input: CallInput, now: Instant) {
        if let Err(e) = self.engine.handle(input, now, wall_ms()) {
            tracing::debug!("call engine: {e}");
        }
        self.drain_engine(now);
    }

    pub(super) fn drain_engine(&mut self, now: Instant) {
        while let Some(out) = self.engine.poll_output() {
            self.on_call_output(out, now);
        }
    }

    /// An out-of-dialog INVITE: challenge, or look up the caller's device.
    pub(super) fn on_invite(&mut self, tx: TransactionId, peer: Peer, req: Request, now: Instant) {
        let identity = from_identity(&req);
        self.begin_auth(tx, peer, &req, identity, true, now);
    }

    /// The caller is authenticated as `owner`: the INVITE becomes a leg.
    pub(super) fn start_incoming(
        &mut self,
        tx: TransactionId,
        peer: Peer,
        req: Request,
        owner: Owner,
        (domain_id, domain): (i64, String),
        now: Instant,
    ) {
        self.calls.domains.insert(domain_id, domain);
        let leg = self.engine.new_leg_id();
        let destination = match &req.uri {
            Uri::Sip(u) => u.user.clone().unwrap_or_default(),
            Uri::Other { .. } => String::new(),
        };
        let from = Party::user(owner.user_id, domain_id, owner.extension, owner.name);
        self.begin_incoming(tx, peer, req, leg, (from, destination), now);
    }

    /// An accepted INVITE becomes leg `leg` of a new call from `from` to `destination`.
    pub(super) fn begin_incoming(
        &mut self,
        tx: TransactionId,
        peer: Peer,
        req: Request,
        leg: LegId,
        (from, destination): (Party, String),
        now: Instant,
    ) {
        let sip_call_id = req.headers.call_id().unwrap_or_default().to_owned();
        let span = tracing::info_span!("call", leg = %leg, sip_call_id = %sip_call_id);
        let display = req
            .headers
            .get(&HeaderName::Other("X-Webitel-Display".into()))
            .map(str::to_owned)
            .filter(|d| !d.is_empty());
        span.in_scope(
            || tracing::info!(from = %from.extension, to = %destination, "incoming call"),
        );
        let input = CallInput::IncomingCall {
            leg: leg.clone(),
            from,
            destination,
            sip_call_id,
            offer_sdp: body_string(&req.body),
            display,
        };
        self.calls.invite_tx.insert(tx, leg.clone());
        self.calls.incoming.insert(
            leg,
            Incoming {
                tx,
                peer,
                request: req,
                to_tag: random_token(),
                dialog: None,
                span,
            },
        );
        self.call_input(input, now);
    }

    /// CANCEL of an incoming INVITE (§9.2): 200 to the CANCEL, the engine sends the 487.
    pub(super) fn on_cancel(
        &mut self,
        tx: TransactionId,
        req: &Request,
        cancels: Option<TransactionId>,
        now: Instant,
    ) {
        let leg = cancels.and_then(|t| self.calls.invite_tx.get(&t).cloned());
        match leg {
            Some(leg) => {
                self.reply(tx, req, 200, now);
                self.call_input(CallInput::LegCancelled { leg }, now);
            }
            None => self.reply(tx, req, 481, now),
        }
    }

    /// A request inside a dialog (To has a tag).
    pub(super) fn on_in_dialog(&mut self, tx: Option<TransactionId>, req: Request, now: Instant) {
        let id = DialogId::for_incoming_request(&req).ok().flatten();
        let found = id.and_then(|id| self.calls.dialogs.get(&id).cloned());
        let Some((leg, fork)) = found else {
            if let (Some(tx), false) = (tx, req.method == Method::Ack) {
                self.reply(tx, &req, 481, now);
            }
            return;
        };
        // §12.2.2: CSeq order and target refresh.
        let checked = self
            .dialog_mut(&leg, fork)
            .map(|d| d.on_request(&req))
            .unwrap_or(Ok(()));
        let Some(tx) = tx else {
            // ACK. It carries SDP only after a 2xx of ours with an offer (a re-INVITE that
            // came without one): that is the answer.
            if !req.body.is_empty() {
                let _ = self.media_ops.send(MediaOp::AcceptAnswer {
                    leg,
                    sdp: body_string(&req.body),
                });
            }
            return;
        };
        if let Err(e) = checked {
            tracing::debug!(%leg, "in-dialog request refused: {e}");
            self.reply(tx, &req, 500, now);
            return;
        }
        match req.method {
            Method::Bye => {
                self.reply(tx, &req, 200, now);
                self.call_input(CallInput::LegHungUp { leg }, now);
            }
            Method::Update => {
                let mut r = make_response(&req, 200, None);
                session_timer_headers(&req, &mut r);
                self.respond(tx, r, now);
            }
            Method::Info => {
                let dtmf = dtmf_of_info(&req);
                self.reply(tx, &req, 200, now);
                if let Some(digit) = dtmf {
                    self.call_input(CallInput::LegDtmf { leg, digit }, now);
                }
            }
            Method::Invite if !req.body.is_empty() => {
                // A re-INVITE from the device: the media endpoint answers it.
                let _ = self.media_ops.send(MediaOp::AcceptOffer {
                    leg,
                    tx,
                    sdp: body_string(&req.body),
                });
            }
            Method::Invite => {
                // No offer (§14.2): ours goes in the 2xx, the answer comes in the ACK.
                let _ = self.media_ops.send(MediaOp::OfferFor { leg, tx });
            }
            Method::Options => self.reply(tx, &req, 200, now),
            Method::Refer => self.on_refer(tx, &req, leg, fork, now),
            _ => {
                let mut r = make_response(&req, 405, None);
                r.headers.push(HeaderName::Allow, ALLOW);
                self.respond(tx, r, now);
            }
        }
    }

    fn dialog_mut(&mut self, leg: &LegId, fork: Option<ForkId>) -> Option<&mut Dialog> {
        match fork {
            None => self.calls.incoming.get_mut(leg)?.dialog.as_mut(),
            Some(f) => self.calls.forks.get_mut(&(leg.clone(), f))?.dialog.as_mut(),
        }
    }

    /// The media endpoint answered a device's re-INVITE.
    pub(super) fn on_reinvite_answer(
        &mut self,
        tx: TransactionId,
        sdp: Option<String>,
        now: Instant,
    ) {
        let (Some(req), Some(flow)) = (
            self.layer.server_request(tx).cloned(),
            self.layer.server_peer(tx).map(|p| p.flow),
        ) else {
            return;
        };
        let Some(sdp) = sdp else {
            self.reply(tx, &req, 488, now);
            return;
        };
        let mut r = make_response(&req, 200, None);
        r.headers
            .push(HeaderName::Contact, self.contact_for(flow).to_string());
        session_timer_headers(&req, &mut r);
        with_sdp(&mut r.headers, &mut r.body, sdp);
        self.respond(tx, r, now);
    }

    /// Our re-offer for a hold/unhold re-INVITE is ready.
    pub(super) fn on_reoffer(
        &mut self,
        leg: LegId,
        fork: Option<ForkId>,
        sdp: Option<String>,
        now: Instant,
    ) {
        let Some(sdp) = sdp else {
            return;
        };
        let body = Some(("application/sdp", sdp));
        if let Some(tx) = self.send_in_dialog(&leg, fork, Method::Invite, body, now) {
            self.calls.reinvites.insert(tx, (leg, fork));
        }
    }

    /// Sends a request on a leg's dialog, with a body of the given content type if any.
    fn send_in_dialog(
        &mut self,
        leg: &LegId,
        fork: Option<ForkId>,
        method: Method,
        body: Option<(&'static str, String)>,
        now: Instant,
    ) -> Option<TransactionId> {
        self.send_in_dialog_with(leg, fork, method, &[], body, now)
    }

    /// [`Self::send_in_dialog`] with extra headers.
    pub(super) fn send_in_dialog_with(
        &mut self,
        leg: &LegId,
        fork: Option<ForkId>,
        method: Method,
        extra: &[(HeaderName, String)],
        body: Option<(&'static str, String)>,
        now: Instant,
    ) -> Option<TransactionId> {
        let peer = match fork {
            None => self.calls.incoming.get(leg)?.peer.clone(),
            Some(f) => self.calls.forks.get(&(leg.clone(), f))?.peer.clone(),
        };
        let via = self.via_for(peer.flow);
        let mut req = self
            .dialog_mut(leg, fork)?
            .create_request(method.clone(), &via);
        req.headers.push(HeaderName::Allow, ALLOW);
        for (name, value) in extra {
            req.headers.push(name.clone(), value.as_str());
        }
        if let Some((ctype, text)) = body {
            with_body(&mut req.headers, &mut req.body, ctype, text);
        }
        match self.layer.send_request(req, peer, now) {
            Ok(tx) => Some(tx),
            Err(e) => {
                tracing::debug!(%leg, "{method} not sent: {e}");
                None
            }
        }
    }

    /// A response to a client transaction of ours.
    pub(super) fn on_client_response(&mut self, tx: TransactionId, resp: Response, now: Instant) {
        if let Some((leg, fork)) = self.calls.fork_tx.get(&tx).cloned() {
            self.on_fork_response(leg, fork, resp, now);
        } else if let Some((leg, fork)) = self.calls.reinvites.get(&tx).cloned() {
            if resp.is_success() {
                self.send_ack(&leg, fork, &resp);
                let _ = self.media_ops.send(MediaOp::AcceptAnswer {
                    leg,
                    sdp: body_string(&resp.body),
                });
            }
            if resp.status >= 200 {
                self.calls.reinvites.remove(&tx);
            }
        }
    }

    fn on_fork_response(&mut self, leg: LegId, fork: ForkId, resp: Response, now: Instant) {
        let Some(flow) = self
            .calls
            .forks
            .get(&(leg.clone(), fork))
            .map(|f| f.peer.flow)
        else {
            return;
        };
        let contact = self.contact_for(flow);
        let Some(f) = self.calls.forks.get_mut(&(leg.clone(), fork)) else {
            return;
        };
        match resp.status {
            100 => {}
            101..=199 => {
                let first = !f.provisional;
                f.provisional = true;
                if first {
                    self.call_input(CallInput::ForkRinging { leg, fork }, now);
                }
            }
            200..=299 => {
                if f.dialog.is_none() {
                    match Dialog::new_uac(&f.request, &resp, contact) {
                        Ok(d) => {
                            self.calls
                                .dialogs
                                .insert(d.id.clone(), (leg.clone(), Some(fork)));
                            f.dialog = Some(d);
                        }
                        Err(e) => tracing::warn!(%leg, "2xx forms no dialog: {e}"),
                    }
                }
                let first = !f.answered;
                f.answered = true;
                self.send_ack(&leg, Some(fork), &resp);
                if first {
                    self.call_input(
                        CallInput::ForkAnswered {
                            leg,
                            fork,
                            answer_sdp: body_string(&resp.body),
                        },
                        now,
                    );
                }
            }
            401 | 407
                if f.gateway.is_some() && self.calls.challenged.insert((leg.clone(), fork)) =>
            {
                let old = f.tx;
                self.calls.fork_tx.remove(&old);
                self.answer_provider_challenge(leg, fork, &resp, now);
            }
            code => {
                self.calls.fork_tx.remove(&f.tx);
                self.calls.challenged.remove(&(leg.clone(), fork));
                self.call_input(
                    CallInput::ForkFailed {
                        leg,
                        fork,
                        sip_code: code,
                    },
                    now,
                );
            }
        }
    }

    /// A provider challenged our INVITE (§22.2): the same INVITE again, CSeq one higher, with
    /// the gateway's credentials. A second challenge fails the fork.
    fn answer_provider_challenge(
        &mut self,
        leg: LegId,
        fork: ForkId,
        resp: &Response,
        now: Instant,
    ) {
        let key = (leg.clone(), fork);
        let Some(f) = self.calls.forks.get(&key) else {
            return;
        };
        let (mut req, peer) = (f.request.clone(), f.peer.clone());
        let creds = f.gateway.and_then(|g| self.calls.gateway_creds.get(&g));
        let proxy = resp.status == 407;
        let challenge = if proxy {
            resp.headers.proxy_authenticate()
        } else {
            resp.headers.www_authenticate()
        }
        .ok()
        .and_then(|c| c.into_iter().find(|a| a.is_digest()));
        let auth = match (creds, challenge) {
            (Some(c), Some(ch)) => switchboard_sip::digest::authorize(
                &ch,
                &Method::Invite,
                &req.uri.to_string(),
                &c.username,
                switchboard_sip::digest::ClientSecret::Password(&c.password),
                &random_token(),
                1,
            )
            .ok(),
            _ => None,
        };
        let Some(auth) = auth else {
            self.call_input(
                CallInput::ForkFailed {
                    leg,
                    fork,
                    sip_code: resp.status,
                },
                now,
            );
            return;
        };
        let seq = req.headers.cseq().map(|c| c.seq + 1).unwrap_or(2);
        req.headers.set(HeaderName::CSeq, format!("{seq} INVITE"));
        req.headers
            .set(HeaderName::Via, self.via_for(peer.flow).to_string());
        let name = if proxy {
            HeaderName::ProxyAuthorization
        } else {
            HeaderName::Authorization
        };
        req.headers.set(name, auth.to_string());
        match self.layer.send_request(req.clone(), peer, now) {
            Ok(tx) => {
                self.calls.fork_tx.insert(tx, key.clone());
                if let Some(f) = self.calls.forks.get_mut(&key) {
                    f.tx = tx;
                    f.request = req;
                }
            }
            Err(e) => {
                tracing::warn!(%leg, "INVITE with credentials not sent: {e}");
                self.call_input(
                    CallInput::ForkFailed {
                        leg,
                        fork,
                        sip_code: 503,
                    },
                    now,
                );
            }
        }
    }

    /// ACK for a 2xx to an INVITE of ours (§13.2.2.4): outside the transaction, own branch.
    fn send_ack(&mut self, leg: &LegId, fork: Option<ForkId>, resp: &Response) {
        let Ok(cseq) = resp.headers.cseq() else {
            return;
        };
        let peer = match fork {
            Some(f) => self
                .calls
                .forks
                .get(&(leg.clone(), f))
                .map(|f| f.peer.clone()),
            None => self.calls.incoming.get(leg).map(|i| i.peer.clone()),
        };
        let Some(peer) = peer else {
            return;
        };
        let via = self.via_for(peer.flow);
        let Some(d) = self.dialog_mut(leg, fork) else {
            return;
        };
        let ack = d.create_ack(cseq.seq, &via);
        self.layer.send_stateless(&peer, ack.to_bytes());
    }

    /// Timer B or a dead flow on one of our client transactions.
    pub(super) fn on_client_failure(&mut self, tx: TransactionId, now: Instant) {
        if let Some((leg, fork)) = self.calls.fork_tx.remove(&tx) {
            let answered = self
                .calls
                .forks
                .get(&(leg.clone(), fork))
                .is_some_and(|f| f.answered);
            if !answered {
                self.call_input(
                    CallInput::ForkFailed {
                        leg,
                        fork,
                        sip_code: 408,
                    },
                    now,
                );
            }
        }
        self.calls.reinvites.remove(&tx);
    }

    /// A SIP WebSocket closed: its answered legs are hung up after the grace period (a page
    /// reload drops the WebSocket but the call lives on, listed by `subscribe_call`).
    pub(super) fn on_flow_closed_calls(&mut self, flow: FlowId, now: Instant) {
        let mut legs: Vec<LegId> = self
            .calls
            .incoming
            .iter()
            .filter(|(_, i)| i.peer.flow == flow && i.dialog.is_some())
            .map(|(l, _)| l.clone())
            .collect();
        legs.extend(
            self.calls
                .forks
                .iter()
                .filter(|(_, f)| f.peer.flow == flow && f.answered)
                .map(|((leg, _), _)| leg.clone()),
        );
        let at = now + self.config.flow_loss_grace;
        for leg in legs {
            tracing::debug!(%leg, "sip websocket of an answered leg closed");
            self.calls.orphans.push((at, leg));
        }
    }

    /// Hangs up the orphaned legs that are due (those already ended are ignored).
    pub(super) fn on_orphans_due(&mut self, now: Instant) {
        let (due, rest) = std::mem::take(&mut self.calls.orphans)
            .into_iter()
            .partition(|(at, _)| *at <= now);
        self.calls.orphans = rest;
        for (_, leg) in due {
            self.call_input(CallInput::LegHungUp { leg }, now);
        }
    }

    /// A dial-plan lookup came back.
    pub(super) fn on_resolved(
        &mut self,
        lookup: LookupId,
        domain_id: i64,
        result: Result<lookup::Resolution, String>,
        now: Instant,
    ) {
        let target = match result {
            Ok(lookup::Resolution::Gateways(dials)) => self.gateway_target(domain_id, dials),
            Ok(lookup::Resolution::User(owner)) => {
                let contacts = match self.calls.domains.get(&domain_id) {
                    Some(domain) => {
                        let aor = format!("sip:{}@{}", owner.extension, domain);
                        self.registrar
                            .lookup(&aor, now)
                            .map(|b| contact_ref(b.flow, &b.source, &b.contact.uri))
                            .collect()
                    }
                    None => Vec::new(),
                };
                Target::User {
                    user: Party::user(owner.user_id, domain_id, owner.extension, owner.name),
                    contacts,
                }
            }
            Ok(lookup::Resolution::Queue {
                queue_id,
                name,
                after,
            }) => {
                self.cc.expect_join(after);
                let name = if name.is_empty() {
                    self.cc.queue_name(queue_id)
                } else {
                    name
                };
                Target::Queue { queue_id, name }
            }
            Ok(lookup::Resolution::Nothing) => Target::NotFound,
            Err(e) => {
                tracing::error!("dial-plan lookup failed: {e}");
                Target::NotFound
            }
        };
        tracing::debug!(?target, "destination resolved");
        self.call_input(CallInput::DestinationResolved { lookup, target }, now);
    }

    /// Whether a fork target is a browser (its flow is a SIP WebSocket).
    fn is_browser(&self, c: &ContactRef) -> bool {
        parse_contact_ref(c)
            .and_then(|(flow, _, _)| self.flows.get(&flow))
            .is_none_or(|f| f.link.transport == Transport::Ws)
    }

    /// Whether the user an incoming leg dials has a browser registered: then its answer to a
    /// browser caller asks for Opus; otherwise (desk phones, trunks, nobody) for G.711.
    fn callee_has_browser(&self, leg: &LegId, now: Instant) -> bool {
        let Some(inc) = self.calls.incoming.get(leg) else {
            return true;
        };
        let Uri::Sip(u) = &inc.request.uri else {
            return true;
        };
        let domain = match inc.request.headers.to().ok().map(|t| t.uri) {
            Some(Uri::Sip(t)) => t.host.to_ascii_lowercase(),
            _ => u.host.to_ascii_lowercase(),
        };
        let aor = format!("sip:{}@{domain}", u.user.as_deref().unwrap_or_default());
        self.registrar.lookup(&aor, now).any(|b| {
            self.flows
                .get(&b.flow)
                .is_some_and(|f| f.link.transport == Transport::Ws)
        })
    }

    /// The gateways an outbound route bridges to, as the callee's forks. Their credentials
    /// stay here for the provider's digest challenge; the callee is no user.
    pub(super) fn gateway_target(
        &mut self,
        domain_id: i64,
        dials: Vec<lookup::GatewayDial>,
    ) -> Target {
        let number = dials.first().map(|d| d.number.clone()).unwrap_or_default();
        let mut contacts = Vec::with_capacity(dials.len());
        for d in dials {
            let link = &d.link;
            let Some((flow, _)) = self.trunk_flow(link) else {
                continue;
            };
            let mut uri = SipUri::new(Some(&d.number), &d.host);
            if link.transport != Transport::Udp {
                let token = link.transport.token().to_ascii_lowercase();
                uri.params.set("transport", Some(&token));
            }
            contacts.push(gateway_ref(
                d.creds.gateway_id,
                flow,
                &link.addr.to_string(),
                &Uri::Sip(uri),
            ));
            self.calls.gateway_creds.insert(d.creds.gateway_id, d.creds);
        }
        if contacts.is_empty() {
            return Target::Offline;
        }
        Target::User {
            user: Party {
                user_id: None,
                domain_id,
                extension: number.clone(),
                name: number,
            },
            contacts,
        }
    }

    fn on_call_output(&mut self, out: CallOutput, now: Instant) {
        match out {
            CallOutput::Ring { leg } => self.answer_incoming(&leg, 180, None, now),
            CallOutput::Answer { leg, sdp } => self.answer_incoming(&leg, 200, Some(sdp), now),
            CallOutput::Reject {
                leg,
                sip_code,
                reason,
            } => {
                if let Some(inc) = self.calls.incoming.get(&leg) {
                    let mut r = make_response(&inc.request, sip_code, Some(&inc.to_tag));
                    r.reason = reason.to_owned();
                    let tx = inc.tx;
                    self.calls.invite_tx.remove(&tx);
                    self.respond(tx, r, now);
                }
            }
            CallOutput::Invite {
                leg,
                fork,
                contact,
                from,
                to,
                sip_call_id,
                sdp,
                mut headers,
                auto_answer,
                ..
            } => {
                if auto_answer {
                    let host = self
                        .calls
                        .domains
                        .get(&to.domain_id)
                        .map_or("switchboard.invalid", String::as_str);
                    let aor = format!("sip:{}@{host}", to.extension);
                    let brand = parse_contact_ref(&contact)
                        .and_then(|(_, _, uri)| self.device_brand(&aor, &uri, now))
                        .unwrap_or("");
                    headers.extend(auto_answer_headers(host, brand));
                }
                self.send_invite(
                    leg,
                    fork,
                    &contact,
                    &from,
                    &to,
                    sip_call_id,
                    sdp,
                    headers,
                    now,
                );
            }
            CallOutput::Cancel {
                leg,
                fork,
                completed_elsewhere,
            } => self.send_cancel(&leg, fork, completed_elsewhere, now),
            CallOutput::Bye { leg, fork } => {
                self.send_in_dialog(&leg, fork, Method::Bye, None, now);
            }
            CallOutput::ReInvite {
                leg,
                fork,
                direction,
            } => {
                let _ = self.media_ops.send(MediaOp::Reoffer {
                    leg,
                    dialog: fork,
                    direction,
                });
            }
            CallOutput::CreateAnswerer { leg, offer } => {
                let g711 = !self.callee_has_browser(&leg, now);
                let _ = self
                    .media_ops
                    .send(MediaOp::CreateAnswerer { leg, offer, g711 });
            }
            CallOutput::CreateOfferer { leg, near } => {
                // Browsers get a WebRTC offer, phones and trunks a plain RTP one.
                let mut forks = ForkKinds {
                    browsers: false,
                    phones: false,
                };
                for c in self.engine.fork_contacts(&leg) {
                    if self.is_browser(c) {
                        forks.browsers = true;
                    } else {
                        forks.phones = true;
                    }
                }
                let _ = self
                    .media_ops
                    .send(MediaOp::CreateOfferer { leg, near, forks });
            }
            CallOutput::AcceptAnswer { leg, sdp } => {
                let _ = self.media_ops.send(MediaOp::AcceptAnswer { leg, sdp });
            }
            CallOutput::Bridge { a, b } => {
                let call = self.engine.call_of(&a).map(|c| {
                    (
                        c.0.clone(),
                        self.engine
                            .active_call(&a, wall_ms())
                            .map(|x| x.domain_id)
                            .unwrap_or(0),
                    )
                });
                let _ = self.media_ops.send(MediaOp::Bridge { a, b, call });
            }
            CallOutput::Unbridge { leg } => {
                let _ = self.media_ops.send(MediaOp::Unbridge { leg });
            }
            CallOutput::Hold { leg, peer } => {
                let _ = self.media_ops.send(MediaOp::Hold {
                    tone_to: peer.unwrap_or(leg),
                    on: true,
                });
            }
            CallOutput::Unhold { leg, peer } => {
                let _ = self.media_ops.send(MediaOp::Hold {
                    tone_to: peer.unwrap_or(leg),
                    on: false,
                });
            }
            CallOutput::SendDtmf { leg, digit } => {
                let _ = self.media_ops.send(MediaOp::SendDtmf { leg, digit });
            }
            CallOutput::Mute { leg, on } => {
                let _ = self.media_ops.send(MediaOp::Mute { leg, on });
            }
            CallOutput::NotifyMute {
                leg,
                fork,
                on,
                hold,
            } => {
                let state = json!({ "audioMuted": on, "videoMuted": false, "hold": hold });
                let body = Some(("application/json", state.to_string()));
                self.send_in_dialog(&leg, fork, Method::Info, body, now);
            }
            CallOutput::Close { leg } => {
                let _ = self.media_ops.send(MediaOp::Close { leg: leg.clone() });
                self.forget_leg(&leg);
            }
            CallOutput::Resolve {
                lookup,
                call,
                domain_id,
                destination,
            } => {
                let store = self.store.clone();
                let commands = self.commands.clone();
                // A call from a trunk follows its gateway's schema, when it has one.
                let schema = self.calls.via_schema.remove(&call.0);
                tokio::spawn(async move {
                    let result = match schema {
                        Some(id) => {
                            lookup::by_schema(&store, domain_id, id, &destination, &[]).await
                        }
                        None => lookup::resolve(&store, domain_id, &destination).await,
                    }
                    .map_err(|e| e.to_string());
                    let _ = commands
                        .send(Command::Resolved {
                            lookup,
                            domain_id,
                            result,
                        })
                        .await;
                });
            }
            CallOutput::Event(ev) => {
                let span = self.calls.incoming.get(&ev.id).map(|i| i.span.clone());
                let _g = span.as_ref().map(|s| s.enter());
                tracing::debug!(leg = %ev.id, event = ev.kind.as_str(), user = ev.user_id, "call event");
                self.hub.publish(HubEvent {
                    domain_id: ev.domain_id,
                    topic: Topic::Call,
                    target: HubTarget::Users(vec![ev.user_id]),
                    event: "call".into(),
                    data: json!({ "call": ev.to_json() }),
                    user_id: None,
                });
            }
            CallOutput::History(rec) => {
                let _ = self.history.send(*rec);
            }
            CallOutput::Tone { leg, on } => {
                let _ = self.media_ops.send(MediaOp::Hold { tone_to: leg, on });
            }
            CallOutput::Queue(note) => self.on_queue_note(note, now),
        }
    }

    fn forget_leg(&mut self, leg: &LegId) {
        self.calls.alt_offers.remove(leg);
        self.calls.challenged.retain(|(l, _)| l != leg);
        if let Some(inc) = self.calls.incoming.remove(leg) {
            self.calls.invite_tx.remove(&inc.tx);
            if let Some(d) = inc.dialog {
                self.calls.dialogs.remove(&d.id);
            }
        }
        let forks: Vec<_> = self
            .calls
            .forks
            .keys()
            .filter(|(l, _)| l == leg)
            .cloned()
            .collect();
        for k in forks {
            if let Some(f) = self.calls.forks.remove(&k) {
                self.calls.fork_tx.remove(&f.tx);
                if let Some(d) = f.dialog {
                    self.calls.dialogs.remove(&d.id);
                }
            }
        }
        self.calls.reinvites.retain(|_, (l, _)| l != leg);
    }

    /// 180 or 200 on a leg's incoming INVITE.
    fn answer_incoming(&mut self, leg: &LegId, status: u16, sdp: Option<String>, now: Instant) {
        let Some(flow) = self.calls.incoming.get(leg).map(|i| i.peer.flow) else {
            return;
        };
        let contact = self.contact_for(flow);
        let Some(inc) = self.calls.incoming.get_mut(leg) else {
            return;
        };
        let mut r = make_response(&inc.request, status, Some(&inc.to_tag));
        r.headers.push(HeaderName::Contact, contact.to_string());
        r.headers.push(HeaderName::Allow, ALLOW);
        if let Some(sdp) = sdp {
            session_timer_headers(&inc.request, &mut r);
            with_sdp(&mut r.headers, &mut r.body, sdp);
            match Dialog::new_uas(&inc.request, &inc.to_tag, contact, false) {
                Ok(d) => {
                    self.calls.dialogs.insert(d.id.clone(), (leg.clone(), None));
                    inc.dialog = Some(d);
                }
                Err(e) => tracing::warn!(%leg, "INVITE forms no dialog: {e}"),
            }
            self.calls.invite_tx.remove(&inc.tx);
        }
        let tx = inc.tx;
        self.respond(tx, r, now);
    }

    #[allow(clippy::too_many_arguments)]
    fn send_invite(
        &mut self,
        leg: LegId,
        fork: ForkId,
        contact: &ContactRef,
        from: &Party,
        to: &Party,
        sip_call_id: String,
        sdp: String,
        headers: Vec<(String, String)>,
        now: Instant,
    ) {
        let target = parse_contact_ref(contact).and_then(|(flow, source, uri)| {
            let reliable = self.flows.get(&flow)?.link.transport.reliable();
            Some((flow, source, uri, reliable))
        });
        let domain = self.calls.domains.get(&to.domain_id).cloned();
        let (Some((flow, addr, uri, reliable)), Some(domain)) = (target, domain) else {
            self.call_input(
                CallInput::ForkFailed {
                    leg,
                    fork,
                    sip_code: 480,
                },
                now,
            );
            return;
        };
        let mut req = Request::new(Method::Invite, uri);
        let h = &mut req.headers;
        h.push(HeaderName::Via, self.via_for(flow).to_string());
        h.push(HeaderName::MaxForwards, "70");
        let gateway = gateway_of(contact);
        let (mut from_addr, to_addr) = match gateway.and_then(|g| self.calls.gateway_creds.get(&g))
        {
            Some(gw) => gateway_parties(gw, from, &req.uri),
            None => (party_uri(from, &domain), party_uri(to, &domain)),
        };
        from_addr.set_tag(&random_token());
        h.push(HeaderName::From, from_addr.to_string());
        h.push(HeaderName::To, to_addr.to_string());
        h.push(HeaderName::CallId, sip_call_id);
        h.push(HeaderName::CSeq, "1 INVITE");
        h.push(HeaderName::Contact, self.contact_for(flow).to_string());
        h.push(HeaderName::Allow, ALLOW);
        h.push(HeaderName::Supported, "timer");
        // The device refreshes the session (RFC 4028); we answer its UPDATEs.
        h.push(
            HeaderName::SessionExpires,
            format!("{SESSION_EXPIRES};refresher=uas"),
        );
        for (name, value) in headers {
            h.push(HeaderName::parse(&name), value);
        }
        // A phone among browsers gets the leg's RTP/AVP offer.
        let sdp = match self.calls.alt_offers.get(&leg) {
            Some(alt) if !self.is_browser(contact) => alt.clone(),
            _ => sdp,
        };
        with_sdp(&mut req.headers, &mut req.body, sdp);
        let peer = Peer {
            flow,
            addr,
            reliable,
        };
        match self.layer.send_request(req.clone(), peer.clone(), now) {
            Ok(tx) => {
                self.calls.fork_tx.insert(tx, (leg.clone(), fork));
                self.calls.forks.insert(
                    (leg, fork),
                    Fork {
                        tx,
                        peer,
                        request: req,
                        dialog: None,
                        answered: false,
                        provisional: false,
                        gateway,
                    },
                );
            }
            Err(e) => {
                tracing::warn!(%leg, "INVITE not sent: {e}");
                self.call_input(
                    CallInput::ForkFailed {
                        leg,
                        fork,
                        sip_code: 500,
                    },
                    now,
                );
            }
        }
    }

    /// CANCEL (§9.1): same Request-URI, Call-ID, From, To, CSeq number and top Via as the INVITE.
    fn send_cancel(&mut self, leg: &LegId, fork: ForkId, elsewhere: bool, now: Instant) {
        let Some(f) = self.calls.forks.get(&(leg.clone(), fork)) else {
            return;
        };
        if f.answered || self.layer.client_state(f.tx).is_none_or(|s| !can_cancel(s)) {
            return;
        }
        let inv = &f.request;
        let mut c = Request::new(Method::Cancel, inv.uri.clone());
        for name in [
            HeaderName::Via,
            HeaderName::From,
            HeaderName::To,
            HeaderName::CallId,
        ] {
            if let Some(v) = inv.headers.get(&name) {
                c.headers.push(name, v);
            }
        }
        c.headers.push(HeaderName::MaxForwards, "70");
        let seq = inv.headers.cseq().map(|c| c.seq).unwrap_or(1);
        c.headers.push(HeaderName::CSeq, format!("{seq} CANCEL"));
        if elsewhere {
            c.headers.push(
                HeaderName::Other("Reason".into()),
                "SIP;cause=200;text=\"Call completed elsewhere\"",
            );
        }
        let peer = f.peer.clone();
        if let Err(e) = self.layer.send_request(c, peer, now) {
            tracing::debug!(%leg, "CANCEL not sent: {e}");
        }
    }

    /// A control action from the WebSocket API, already checked against the caller's domain.
    pub(super) fn on_control(&mut self, cmd: CallCommand, now: Instant) -> Result<(), String> {
        let r = self.engine.handle(CallInput::Command(cmd), now, wall_ms());
        self.drain_engine(now);
        r.map_err(|e| e.to_string())
    }
}

fn can_cancel(s: ClientState) -> bool {
    matches!(s, ClientState::Calling | ClientState::Proceeding)
}

/// Realm (domain) and user part of the From URI.
pub(super) fn from_identity(req: &Request) -> Option<(String, String)> {
    let from = req.headers.from().ok()?;
    match from.uri {
        Uri::Sip(u) => Some((u.host.to_ascii_lowercase(), u.user.unwrap_or_default())),
        Uri::Other { .. } => None,
    }
}

fn with_sdp(headers: &mut switchboard_sip::Headers, body: &mut bytes::Bytes, sdp: String) {
    with_body(headers, body, "application/sdp", sdp);
}

fn with_body(
    headers: &mut switchboard_sip::Headers,
    body: &mut bytes::Bytes,
    content_type: &'static str,
    text: String,
) {
    headers.set(HeaderName::ContentType, content_type);
    *body = bytes::Bytes::from(text);
}

/// RFC 4028 in a 2xx: echo the peer's Session-Expires (the requester refreshes unless it said
/// otherwise) and require the extension when it supports it.
fn session_timer_headers(req: &Request, r: &mut Response) {
    let Ok(Some(se)) = req.headers.session_expires() else {
        return;
    };
    let delta = se.delta.max(90);
    let refresher = se.refresher().unwrap_or("uac");
    r.headers.push(
        HeaderName::SessionExpires,
        format!("{delta};refresher={refresher}"),
    );
    if req.headers.supports("timer") {
        r.headers.push(HeaderName::Require, "timer");
    }
}

/// A digit from an INFO with `application/dtmf-relay` (`Signal=5`) or `application/dtmf`.
fn dtmf_of_info(req: &Request) -> Option<char> {
    let ct = req.headers.content_type()?.to_ascii_lowercase();
    let body = std::str::from_utf8(&req.body).ok()?;
    let digit = match ct.as_str() {
        "application/dtmf-relay" => body.lines().find_map(|l| {
            let (k, v) = l.split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case("signal")
                .then(|| v.trim().chars().next())?
        }),
        "application/dtmf" => body.trim().chars().next(),
        _ => None,
    }?;
    matches!(digit, '0'..='9' | '*' | '#' | 'A'..='D' | 'a'..='d')
        .then(|| digit.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_answer_is_call_info_and_polycom_also_gets_alert_info() {
        let plain = auto_answer_headers("my-company.lo", "Yealink");
        assert_eq!(
            plain,
            vec![(
                "Call-Info".to_string(),
                "<sip:my-company.lo>;answer-after=0;intercom=true".to_string()
            )]
        );
        let poly = auto_answer_headers("my-company.lo", "Polycom");
        assert_eq!(poly.len(), 2);
        assert_eq!(
            poly[1],
            ("Alert-Info".to_string(), "Auto Answer".to_string())
        );
    }

    #[test]
    fn gateway_fork_targets_round_trip() {
        let uri = Uri::parse("sip:+15551234@127.0.0.1:5070").unwrap();
        let g = gateway_ref(7, FlowId(3), "127.0.0.1:5070", &uri);
        assert_eq!(gateway_of(&g), Some(7));
        let (flow, source, back) = parse_contact_ref(&g).unwrap();
        assert_eq!(
            (flow, source.as_str(), back),
            (FlowId(3), "127.0.0.1:5070", uri.clone())
        );
        let plain = contact_ref(FlowId(4), "10.0.0.1:5060", &uri);
        assert_eq!(gateway_of(&plain), None);
        assert_eq!(parse_contact_ref(&plain).unwrap().0, FlowId(4));
    }
}
