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
use switchboard_sip::header::via::Via;
use switchboard_sip::header::HeaderName;
use switchboard_sip::response::{make_response, new_branch, random_token};
use switchboard_sip::transaction::{ClientState, TransactionId};
use switchboard_sip::{FlowId, Method, Peer, Request, Response, SipUri, Uri};

use super::{Command, Runtime, ALLOW};
use crate::lookup::{self, Owner};
use crate::media::MediaOp;

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
}

/// Which dialog of a leg: the incoming one (`None`) or a fork's.
type LegDialog = (LegId, Option<ForkId>);

#[derive(Default)]
pub(super) struct Calls {
    incoming: std::collections::HashMap<LegId, Incoming>,
    forks: std::collections::HashMap<(LegId, ForkId), Fork>,
    /// Client INVITE transactions of forks.
    fork_tx: std::collections::HashMap<TransactionId, (LegId, ForkId)>,
    /// Server INVITE transactions of incoming legs (for CANCEL).
    invite_tx: std::collections::HashMap<TransactionId, LegId>,
    dialogs: std::collections::HashMap<DialogId, LegDialog>,
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

fn wall_ms() -> i64 {
    switchboard_store::now_ms()
}

fn our_via() -> Via {
    Via::new("WS", "switchboard.invalid", None, &new_branch())
}

fn party_uri(p: &Party, domain: &str) -> NameAddr {
    let mut a = NameAddr::new(SipUri::new(Some(&p.extension), domain));
    if !p.name.is_empty() {
        a.display = Some(p.name.clone());
    }
    a
}

/// A registration as the engine sees it: `<flow>|<contact URI>`.
pub(super) fn contact_ref(flow: FlowId, uri: &Uri) -> ContactRef {
    ContactRef::new(format!("{}|{}", flow.0, uri))
}

fn parse_contact_ref(c: &ContactRef) -> Option<(FlowId, Uri)> {
    let (flow, uri) = c.id.split_once('|')?;
    Some((FlowId(flow.parse().ok()?), Uri::parse(uri).ok()?))
}

fn body_string(req_body: &bytes::Bytes) -> String {
    String::from_utf8_lossy(req_body).into_owned()
}

impl Runtime {
    fn local_contact(&self) -> NameAddr {
        let mut uri = SipUri::new(Some("switchboard"), &self.config.media_address.to_string());
        uri.params.set("transport", Some("ws"));
        NameAddr::new(uri)
    }

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
        let sip_call_id = req.headers.call_id().unwrap_or_default().to_owned();
        let span = tracing::info_span!("call", leg = %leg, sip_call_id = %sip_call_id);
        let destination = match &req.uri {
            Uri::Sip(u) => u.user.clone().unwrap_or_default(),
            Uri::Other { .. } => String::new(),
        };
        let display = req
            .headers
            .get(&HeaderName::Other("X-Webitel-Display".into()))
            .map(str::to_owned)
            .filter(|d| !d.is_empty());
        span.in_scope(
            || tracing::info!(from = %owner.extension, to = %destination, "incoming call"),
        );
        let input = CallInput::IncomingCall {
            leg: leg.clone(),
            from: Party::user(owner.user_id, domain_id, owner.extension, owner.name),
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
            return; // ACK: nothing to do.
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
            Method::Invite => self.reply(tx, &req, 488, now),
            Method::Options => self.reply(tx, &req, 200, now),
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
        let Some(req) = self.layer.server_request(tx).cloned() else {
            return;
        };
        let Some(sdp) = sdp else {
            self.reply(tx, &req, 488, now);
            return;
        };
        let mut r = make_response(&req, 200, None);
        r.headers
            .push(HeaderName::Contact, self.local_contact().to_string());
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
        let peer = match fork {
            None => self.calls.incoming.get(leg)?.peer.clone(),
            Some(f) => self.calls.forks.get(&(leg.clone(), f))?.peer.clone(),
        };
        let mut req = self
            .dialog_mut(leg, fork)?
            .create_request(method.clone(), &our_via());
        req.headers.push(HeaderName::Allow, ALLOW);
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
        let contact = self.local_contact();
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
            code => {
                self.calls.fork_tx.remove(&f.tx);
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
        let (Some(peer), Some(d)) = (peer, self.dialog_mut(leg, fork)) else {
            return;
        };
        let ack = d.create_ack(cseq.seq, &our_via());
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
        result: Result<Option<Owner>, String>,
        now: Instant,
    ) {
        let target = match result {
            Ok(Some(owner)) => {
                let contacts = match self.calls.domains.get(&domain_id) {
                    Some(domain) => {
                        let aor = format!("sip:{}@{}", owner.extension, domain);
                        self.registrar
                            .lookup(&aor, now)
                            .map(|b| contact_ref(b.flow, &b.contact.uri))
                            .collect()
                    }
                    None => Vec::new(),
                };
                Target::User {
                    user: Party::user(owner.user_id, domain_id, owner.extension, owner.name),
                    contacts,
                }
            }
            Ok(None) => Target::NotFound,
            Err(e) => {
                tracing::error!("dial-plan lookup failed: {e}");
                Target::NotFound
            }
        };
        self.call_input(CallInput::DestinationResolved { lookup, target }, now);
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
                headers,
                ..
            } => self.send_invite(
                leg,
                fork,
                &contact,
                &from,
                &to,
                sip_call_id,
                sdp,
                headers,
                now,
            ),
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
                let _ = self.media_ops.send(MediaOp::CreateAnswerer { leg, offer });
            }
            CallOutput::CreateOfferer { leg, near } => {
                let _ = self.media_ops.send(MediaOp::CreateOfferer { leg, near });
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
                domain_id,
                destination,
                ..
            } => {
                let store = self.store.clone();
                let commands = self.commands.clone();
                tokio::spawn(async move {
                    let result = lookup::user_by_extension(&store, domain_id, &destination)
                        .await
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
        }
    }

    fn forget_leg(&mut self, leg: &LegId) {
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
        let contact = self.local_contact();
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
        let target = parse_contact_ref(contact)
            .and_then(|(flow, uri)| self.flows.get(&flow).map(|f| (flow, f.addr.clone(), uri)));
        let domain = self.calls.domains.get(&to.domain_id).cloned();
        let (Some((flow, addr, uri)), Some(domain)) = (target, domain) else {
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
        h.push(HeaderName::Via, our_via().to_string());
        h.push(HeaderName::MaxForwards, "70");
        let mut from_addr = party_uri(from, &domain);
        from_addr.set_tag(&random_token());
        h.push(HeaderName::From, from_addr.to_string());
        h.push(HeaderName::To, party_uri(to, &domain).to_string());
        h.push(HeaderName::CallId, sip_call_id);
        h.push(HeaderName::CSeq, "1 INVITE");
        h.push(HeaderName::Contact, self.local_contact().to_string());
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
        with_sdp(&mut req.headers, &mut req.body, sdp);
        let peer = Peer {
            flow,
            addr,
            reliable: true,
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
fn from_identity(req: &Request) -> Option<(String, String)> {
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
