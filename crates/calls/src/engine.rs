//! The call engine: live legs and calls, and how inputs move them.

use crate::cause::{best_failure, HangupCause};
use crate::error::CallError;
use crate::event::{endpoint_json, rfc3339_ms, ActiveCall, CallEvent, EventKind, HistoryRecord};
use crate::types::{
    CallCommand, CallId, ContactRef, Direction, ForkId, Input, LegId, LookupId, MediaDirection,
    Output, Party, QueueTag, Target,
};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

mod queue;

/// How the engine makes ids for the legs it creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdSource {
    /// Random v4 UUIDs (production).
    Random,
    /// Deterministic v4-shaped UUIDs from a seed (tests and simulations).
    Seeded(u64),
}

#[derive(Debug, Clone)]
pub struct Config {
    /// The node name put in `app_id` of events and live calls; webitel-sdk echoes it back.
    pub app_id: String,
    /// How long an outgoing leg may ring before it ends with `NO_ANSWER` (the caller gets 480).
    pub ring_timeout: Duration,
    pub ids: IdSource,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            app_id: "switchboard".into(),
            ring_timeout: Duration::from_secs(60),
            ids: IdSource::Random,
        }
    }
}

/// Which side sent the leg's INVITE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sip {
    /// The device called us: we are UAS (answer/reject/BYE on the incoming dialog).
    Incoming,
    /// We call the device, possibly forked to several contacts: we are UAC.
    Outgoing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LegState {
    Ringing,
    Active,
    Ended,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ForkState {
    /// Waiting for the leg's offer before the INVITE can go.
    Pending,
    Trying,
    Ringing,
    Answered,
    Failed,
    Cancelled,
}

impl ForkState {
    fn in_progress(self) -> bool {
        matches!(self, ForkState::Trying | ForkState::Ringing)
    }
}

#[derive(Debug, Clone)]
struct Fork {
    contact: ContactRef,
    state: ForkState,
    code: Option<u16>,
}

#[derive(Debug, Clone)]
struct Leg {
    id: LegId,
    call: CallId,
    parent: Option<LegId>,
    sip: Sip,
    direction: Direction,
    /// The user the leg belongs to (events go to them).
    owner: Party,
    from: Party,
    to: Party,
    destination: String,
    sip_id: String,
    auto_answer: bool,
    state: LegState,
    /// A `ringing` event went out, so a `hangup` must follow.
    announced: bool,
    /// 180 sent on the incoming INVITE.
    ring_sent: bool,
    /// A media endpoint was requested (so it must be closed).
    media: bool,
    local_sdp: Option<String>,
    /// Answer the incoming INVITE as soon as the media answer is ready.
    answer_when_ready: bool,
    forks: Vec<Fork>,
    winner: Option<ForkId>,
    /// Fate partner: the leg this one was dialled for, or that was dialled for it.
    peer: Option<LegId>,
    bridged: Option<LegId>,
    /// After this outgoing leg answers, dial this destination (click-to-call).
    then_dial: Option<String>,
    held_since: Option<i64>,
    hold_ms: i64,
    muted: bool,
    created_ms: i64,
    changed_ms: i64,
    answered_ms: Option<i64>,
    bridged_ms: Option<i64>,
    hangup_ms: Option<i64>,
    cause: Option<HangupCause>,
    sip_code: Option<u16>,
    transfer_from: Option<LegId>,
    transfer_to: Option<LegId>,
    timer: Option<(Instant, u64)>,
    /// How long this leg may ring, when not the engine's default (queue offers).
    ring_timeout: Option<Duration>,
    queue: Option<QueueRole>,
}

/// A leg's part in a contact-center queue call.
#[derive(Debug, Clone)]
enum QueueRole {
    /// The caller waiting in (or served from) a queue; `offer` is the agent leg ringing now.
    Member {
        offer: Option<LegId>,
        /// The agent leg it was bridged with.
        agent: Option<LegId>,
    },
    /// An agent's leg offered for `member`.
    Agent { member: LegId, tag: QueueTag },
    /// A member a dialer is calling, not answered yet.
    Dialing,
}

impl Leg {
    fn live(&self) -> bool {
        self.state != LegState::Ended
    }

    fn answered(&self) -> bool {
        self.answered_ms.is_some()
    }

    fn state_str(&self) -> &'static str {
        match self.state {
            LegState::Ended => "hangup",
            LegState::Ringing => "ringing",
            LegState::Active if self.held_since.is_some() => "hold",
            LegState::Active if self.bridged.is_some() => "bridge",
            LegState::Active => "active",
        }
    }
}

#[derive(Debug, Clone)]
enum Purpose {
    /// Ring the resolved user on a new leg `new_leg` fate-linked with `anchor`.
    Dial {
        anchor: LegId,
        new_leg: LegId,
        destination: String,
        transfer_from: Option<LegId>,
    },
    /// Ring the originating user's own devices on `leg` (click-to-call).
    Own { leg: LegId },
}

#[derive(Debug, Clone)]
struct Lookup {
    call: CallId,
    purpose: Purpose,
}

#[derive(Debug, Clone)]
struct Call {
    legs: Vec<LegId>,
    lookups: Vec<LookupId>,
    live: usize,
}

/// How a leg's SIP side is ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// We end it: reject, cancel or BYE as the leg's state requires.
    Local,
    /// The SIP side is already over (BYE received, every fork failed).
    Remote,
}

/// The sans-IO call engine. See the crate docs for the driving loop.
#[derive(Debug)]
pub struct Engine {
    cfg: Config,
    legs: HashMap<LegId, Leg>,
    calls: HashMap<CallId, Call>,
    lookups: HashMap<LookupId, Lookup>,
    timers: BTreeMap<(Instant, u64), LegId>,
    out: VecDeque<Output>,
    next_lookup: u64,
    next_timer: u64,
    id_state: u64,
    now: Option<Instant>,
    now_ms: i64,
}

impl Engine {
    pub fn new(cfg: Config) -> Self {
        let id_state = match cfg.ids {
            IdSource::Random => 0,
            IdSource::Seeded(s) => s,
        };
        Engine {
            cfg,
            legs: HashMap::new(),
            calls: HashMap::new(),
            lookups: HashMap::new(),
            timers: BTreeMap::new(),
            out: VecDeque::new(),
            next_lookup: 1,
            next_timer: 0,
            id_state,
            now: None,
            now_ms: 0,
        }
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// A fresh leg id (a UUID string), for `IncomingCall` and `Originate`.
    pub fn new_leg_id(&mut self) -> LegId {
        let id = match self.cfg.ids {
            IdSource::Random => uuid::Uuid::new_v4(),
            IdSource::Seeded(_) => {
                let hi = splitmix64(&mut self.id_state);
                let lo = splitmix64(&mut self.id_state);
                let mut bytes = [0u8; 16];
                bytes[..8].copy_from_slice(&hi.to_be_bytes());
                bytes[8..].copy_from_slice(&lo.to_be_bytes());
                uuid::Builder::from_random_bytes(bytes).into_uuid()
            }
        };
        LegId(id.to_string())
    }

    /// Applies one input. `now` drives timers; `wall_ms` (epoch ms at `now`) stamps events and
    /// history. Outputs queue up for [`Engine::poll_output`]; on `Err` nothing was changed.
    pub fn handle(&mut self, input: Input, now: Instant, wall_ms: i64) -> Result<(), CallError> {
        self.now = Some(now);
        self.now_ms = wall_ms;
        match input {
            Input::IncomingCall {
                leg,
                from,
                destination,
                sip_call_id,
                offer_sdp,
                display,
            } => self.incoming_call(leg, from, destination, sip_call_id, offer_sdp, display),
            Input::DestinationResolved { lookup, target } => self.resolved(lookup, target),
            Input::MediaReady { leg, local_sdp } => self.media_ready(&leg, local_sdp),
            Input::MediaFailed { leg } => {
                self.live_leg(&leg)?;
                let cause = HangupCause::IncompatibleDestination;
                self.end_leg(&leg, cause, None, End::Local);
                Ok(())
            }
            Input::ForkRinging { leg, fork } => self.fork_ringing(&leg, fork),
            Input::ForkAnswered {
                leg,
                fork,
                answer_sdp,
            } => self.fork_answered(&leg, fork, answer_sdp),
            Input::ForkFailed {
                leg,
                fork,
                sip_code,
            } => self.fork_failed(&leg, fork, sip_code),
            Input::LegHungUp { leg } => {
                self.live_leg(&leg)?;
                self.end_leg(&leg, HangupCause::NormalClearing, None, End::Remote);
                Ok(())
            }
            Input::LegCancelled { leg } => {
                let l = self.live_leg(&leg)?;
                if l.sip == Sip::Incoming && !l.answered() {
                    self.end_leg(&leg, HangupCause::OriginatorCancel, None, End::Local);
                }
                Ok(())
            }
            Input::LegDtmf { leg, digit } => self.leg_dtmf(&leg, digit),
            Input::Command(cmd) => self.command(cmd),
            Input::Timeout => {
                self.fire_timers(now);
                Ok(())
            }
            Input::Shutdown => {
                let mut live: Vec<(i64, LegId)> = self
                    .legs
                    .values()
                    .filter(|l| l.live())
                    .map(|l| (l.created_ms, l.id.clone()))
                    .collect();
                live.sort();
                for (_, leg) in live {
                    self.end_leg(&leg, HangupCause::SystemShutdown, None, End::Local);
                }
                Ok(())
            }
        }
    }

    /// The next thing to do, in order.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// The contacts a leg's forks ring: what the offer of its `CreateOfferer` must suit.
    pub fn fork_contacts(&self, leg: &LegId) -> impl Iterator<Item = &ContactRef> {
        self.legs
            .get(leg)
            .into_iter()
            .flat_map(|l| l.forks.iter().map(|f| &f.contact))
    }

    /// When to feed `Input::Timeout` next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.keys().next().map(|(at, _)| *at)
    }

    /// Live legs of a domain, or of one user in it when `user_id` is given (`subscribe_call`,
    /// `GET /api/calls/active`), oldest first. `wall_ms` is the current time for durations.
    pub fn active_calls(
        &self,
        domain_id: i64,
        user_id: Option<i64>,
        wall_ms: i64,
    ) -> Vec<ActiveCall> {
        let mut v: Vec<&Leg> = self
            .legs
            .values()
            .filter(|l| {
                l.live()
                    && l.owner.domain_id == domain_id
                    && user_id.is_none_or(|u| l.owner.user_id == Some(u))
            })
            .collect();
        v.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
        v.into_iter().map(|l| self.active(l, wall_ms)).collect()
    }

    /// One live leg (`GET /api/calls/active/{id}`); check its `domain_id` before showing it.
    pub fn active_call(&self, leg: &LegId, wall_ms: i64) -> Option<ActiveCall> {
        self.legs
            .get(leg)
            .filter(|l| l.live())
            .map(|l| self.active(l, wall_ms))
    }

    /// The conversation a live leg belongs to.
    pub fn call_of(&self, leg: &LegId) -> Option<&CallId> {
        self.legs.get(leg).filter(|l| l.live()).map(|l| &l.call)
    }

    /// How many legs are live.
    pub fn live_legs(&self) -> usize {
        self.legs.values().filter(|l| l.live()).count()
    }

    /// How many conversations are held in memory (live, or with a leg still live).
    pub fn calls_in_memory(&self) -> usize {
        self.calls.len()
    }

    // ---------------------------------------------------------------- inputs

    fn incoming_call(
        &mut self,
        leg: LegId,
        from: Party,
        destination: String,
        sip_call_id: String,
        offer: String,
        display: Option<String>,
    ) -> Result<(), CallError> {
        if self.legs.contains_key(&leg) {
            return Err(CallError::LegExists(leg));
        }
        let call = CallId(leg.0.clone());
        let mut shown = from.clone();
        if let Some(d) = display.filter(|d| !d.trim().is_empty()) {
            shown.name = d;
        }
        let mut l = self.blank_leg(leg.clone(), call.clone(), None, Sip::Incoming, from);
        l.direction = Direction::Outbound;
        l.from = shown;
        l.to = Party::number(l.owner.domain_id, destination.clone());
        l.destination = destination.clone();
        l.sip_id = sip_call_id;
        l.media = true;
        let domain_id = l.owner.domain_id;
        self.insert_call(call.clone(), l);
        self.out.push_back(Output::CreateAnswerer {
            leg: leg.clone(),
            offer,
        });
        self.announce(&leg);
        self.history(&leg);
        let new_leg = self.new_leg_id();
        self.lookup(
            call,
            domain_id,
            destination.clone(),
            Purpose::Dial {
                anchor: leg,
                new_leg,
                destination,
                transfer_from: None,
            },
        );
        Ok(())
    }

    fn resolved(&mut self, lookup: LookupId, target: Target) -> Result<(), CallError> {
        let Some(Lookup { call, purpose }) = self.lookups.remove(&lookup) else {
            return Err(CallError::UnknownLookup(lookup));
        };
        if let Some(c) = self.calls.get_mut(&call) {
            c.lookups.retain(|l| *l != lookup);
        }
        let (user, contacts) = match target {
            Target::User { user, contacts } if !contacts.is_empty() => (user, contacts),
            Target::User { .. } | Target::Offline => {
                let leg = match purpose {
                    Purpose::Dial { anchor, .. } => anchor,
                    Purpose::Own { leg } => leg,
                };
                if self.is_live(&leg) {
                    self.end_leg(&leg, HangupCause::UserNotRegistered, None, End::Local);
                }
                return Ok(());
            }
            Target::Queue { queue_id, name } => {
                match purpose {
                    Purpose::Dial { anchor, .. } => self.park_in_queue(&anchor, queue_id, name),
                    // A user's own devices are never a queue.
                    Purpose::Own { leg } => {
                        if self.is_live(&leg) {
                            let cause = HangupCause::UserNotRegistered;
                            self.end_leg(&leg, cause, None, End::Local);
                        }
                    }
                }
                return Ok(());
            }
            Target::NotFound => {
                let (leg, cause) = match purpose {
                    Purpose::Dial { anchor, .. } => (anchor, HangupCause::UnallocatedNumber),
                    Purpose::Own { leg } => (leg, HangupCause::UserNotRegistered),
                };
                if self.is_live(&leg) {
                    self.end_leg(&leg, cause, None, End::Local);
                }
                return Ok(());
            }
        };
        match purpose {
            Purpose::Own { leg } => {
                if !self.is_live(&leg) {
                    return Ok(());
                }
                self.set_forks(&leg, contacts);
                self.out
                    .push_back(Output::CreateOfferer { leg, near: None });
            }
            Purpose::Dial {
                anchor,
                new_leg,
                destination,
                transfer_from,
            } => {
                let Some(a) = self.legs.get_mut(&anchor).filter(|a| a.live()) else {
                    return Ok(());
                };
                if transfer_from.is_none() {
                    a.to = user.clone();
                    a.changed_ms = self.now_ms;
                }
                a.peer = Some(new_leg.clone());
                let caller = if a.sip == Sip::Incoming {
                    a.from.clone()
                } else {
                    a.owner.clone()
                };
                let parent = Some(LegId(call.0.clone()));
                let mut l =
                    self.blank_leg(new_leg.clone(), call.clone(), parent, Sip::Outgoing, user);
                l.direction = Direction::Inbound;
                l.from = caller;
                l.to = l.owner.clone();
                l.destination = destination;
                l.sip_id = new_leg.0.clone();
                l.peer = Some(anchor.clone());
                let transferred = transfer_from.is_some();
                l.transfer_from = transfer_from;
                l.media = true;
                self.insert_call(call, l);
                self.set_forks(&new_leg, contacts);
                self.out.push_back(Output::CreateOfferer {
                    leg: new_leg.clone(),
                    near: Some(anchor.clone()),
                });
                self.history(&new_leg);
                if !transferred {
                    self.history(&anchor);
                }
            }
        }
        Ok(())
    }

    fn media_ready(&mut self, leg: &LegId, sdp: String) -> Result<(), CallError> {
        let l = self.live_leg_mut(leg)?;
        if l.local_sdp.is_some() {
            return Ok(());
        }
        l.local_sdp = Some(sdp.clone());
        match l.sip {
            Sip::Incoming => {
                if l.answer_when_ready {
                    self.answer_incoming(leg);
                }
            }
            Sip::Outgoing => {
                let (invite_from, invite_to) = if l.direction == Direction::Inbound {
                    (l.from.clone(), l.owner.clone())
                } else {
                    (l.to.clone(), l.owner.clone())
                };
                let mut headers = vec![("X-Webitel-Uuid".to_owned(), l.id.0.clone())];
                if let Some(u) = l.owner.user_id {
                    headers.push(("X-Webitel-User-Id".to_owned(), u.to_string()));
                }
                let mut invites = Vec::new();
                for (i, f) in l.forks.iter_mut().enumerate() {
                    if f.state == ForkState::Pending {
                        f.state = ForkState::Trying;
                        invites.push(Output::Invite {
                            leg: l.id.clone(),
                            fork: ForkId(i as u32),
                            call: l.call.clone(),
                            contact: f.contact.clone(),
                            from: invite_from.clone(),
                            to: invite_to.clone(),
                            sip_call_id: l.sip_id.clone(),
                            sdp: sdp.clone(),
                            headers: headers.clone(),
                            auto_answer: l.auto_answer,
                        });
                    }
                }
                self.out.extend(invites);
                self.announce(leg);
                self.start_timer(leg);
                self.history(leg);
            }
        }
        Ok(())
    }

    fn fork_ringing(&mut self, leg: &LegId, fork: ForkId) -> Result<(), CallError> {
        // A late provisional response for a leg that is over changes nothing.
        let Some(l) = self.legs.get_mut(leg).filter(|l| l.live()) else {
            return Ok(());
        };
        let Some(f) = l.forks.get_mut(fork.0 as usize) else {
            return Ok(());
        };
        if f.state == ForkState::Trying {
            f.state = ForkState::Ringing;
        }
        let peer = l.peer.clone();
        if let Some(p) = peer.and_then(|p| self.legs.get_mut(&p)) {
            if p.live() && p.sip == Sip::Incoming && !p.answered() && !p.ring_sent {
                p.ring_sent = true;
                self.out.push_back(Output::Ring { leg: p.id.clone() });
            }
        }
        Ok(())
    }

    fn fork_answered(&mut self, leg: &LegId, fork: ForkId, sdp: String) -> Result<(), CallError> {
        let stray = match self.legs.get(leg) {
            None => true,
            Some(l) => !l.live() || l.answered() || l.sip != Sip::Outgoing || l.winner.is_some(),
        };
        if stray {
            // A second 2xx of a forked INVITE, or a 2xx that crossed our CANCEL: ACKed by the
            // runtime, then hung up here.
            self.out.push_back(Output::Bye {
                leg: leg.clone(),
                fork: Some(fork),
            });
            if let Some(f) = self
                .legs
                .get_mut(leg)
                .and_then(|l| l.forks.get_mut(fork.0 as usize))
            {
                f.state = ForkState::Cancelled;
            }
            return Ok(());
        }
        let now_ms = self.now_ms;
        let l = self.legs.get_mut(leg).expect("checked above");
        let mut cancels = Vec::new();
        for (i, f) in l.forks.iter_mut().enumerate() {
            if i == fork.0 as usize {
                f.state = ForkState::Answered;
            } else if f.state.in_progress() {
                f.state = ForkState::Cancelled;
                cancels.push(Output::Cancel {
                    leg: leg.clone(),
                    fork: ForkId(i as u32),
                    completed_elsewhere: true,
                });
            } else if f.state == ForkState::Pending {
                f.state = ForkState::Cancelled;
            }
        }
        l.winner = Some(fork);
        l.state = LegState::Active;
        l.answered_ms = Some(now_ms);
        l.changed_ms = now_ms;
        let then_dial = l.then_dial.take();
        let peer = l.peer.clone();
        let domain_id = l.owner.domain_id;
        let call = l.call.clone();
        self.stop_timer(leg);
        self.out.extend(cancels);
        self.out.push_back(Output::AcceptAnswer {
            leg: leg.clone(),
            sdp,
        });
        self.event(leg, EventKind::Active, json!({}));
        self.history(leg);
        if let Some(destination) = then_dial {
            let new_leg = self.new_leg_id();
            self.lookup(
                call,
                domain_id,
                destination.clone(),
                Purpose::Dial {
                    anchor: leg.clone(),
                    new_leg,
                    destination,
                    transfer_from: None,
                },
            );
        } else if let Some(p) = peer.filter(|p| self.is_live(p)) {
            self.connect(&p, leg);
        } else {
            self.queue_leg_answered(leg);
        }
        Ok(())
    }

    fn fork_failed(&mut self, leg: &LegId, fork: ForkId, code: u16) -> Result<(), CallError> {
        let Some(l) = self.legs.get_mut(leg).filter(|l| l.live()) else {
            return Ok(());
        };
        let Some(f) = l.forks.get_mut(fork.0 as usize) else {
            return Ok(());
        };
        if !f.state.in_progress() {
            return Ok(());
        }
        f.state = ForkState::Failed;
        f.code = Some(code);
        if l.answered() || l.forks.iter().any(|f| f.state.in_progress()) {
            return Ok(());
        }
        let best = best_failure(l.forks.iter().filter_map(|f| f.code)).unwrap_or(code);
        self.end_leg(leg, HangupCause::from_sip(best), Some(best), End::Remote);
        Ok(())
    }

    fn leg_dtmf(&mut self, leg: &LegId, digit: char) -> Result<(), CallError> {
        let l = self.live_leg(leg)?;
        let peer = l.bridged.clone().filter(|_| l.held_since.is_none());
        self.event(leg, EventKind::Dtmf, json!({ "digit": digit.to_string() }));
        if let Some(p) = peer {
            self.out.push_back(Output::SendDtmf {
                leg: p.clone(),
                digit,
            });
            self.event(&p, EventKind::Dtmf, json!({ "digit": digit.to_string() }));
        }
        Ok(())
    }

    fn command(&mut self, cmd: CallCommand) -> Result<(), CallError> {
        match cmd {
            CallCommand::Hangup { leg, cause } => {
                let l = self.live_leg(&leg)?;
                let cause = cause.unwrap_or(match (l.answered(), l.direction) {
                    (true, _) => HangupCause::NormalClearing,
                    (false, Direction::Inbound) => HangupCause::UserBusy,
                    (false, Direction::Outbound) => HangupCause::OriginatorCancel,
                });
                self.end_leg(&leg, cause, None, End::Local);
                Ok(())
            }
            CallCommand::Hold { leg } => self.hold(&leg, true),
            CallCommand::Unhold { leg } => self.hold(&leg, false),
            CallCommand::Dtmf { leg, digit } => {
                let l = self.answered_leg(&leg, "send DTMF")?;
                let Some(peer) = l.bridged.clone() else {
                    return Err(self.invalid(&leg, "send DTMF"));
                };
                self.out.push_back(Output::SendDtmf {
                    leg: peer.clone(),
                    digit,
                });
                self.event(
                    &peer,
                    EventKind::Dtmf,
                    json!({ "digit": digit.to_string() }),
                );
                Ok(())
            }
            CallCommand::Mute { leg, on } => {
                let l = self.answered_leg(&leg, "mute")?;
                if l.muted != on {
                    let hold = l.held_since.is_some();
                    let peer = l
                        .bridged
                        .as_ref()
                        .and_then(|p| self.legs.get(p))
                        .filter(|p| p.live() && p.answered())
                        .map(|p| (p.id.clone(), p.winner));
                    self.legs.get_mut(&leg).expect("live").muted = on;
                    self.out.push_back(Output::Mute { leg, on });
                    if let Some((peer, fork)) = peer {
                        self.out.push_back(Output::NotifyMute {
                            leg: peer,
                            fork,
                            on,
                            hold,
                        });
                    }
                }
                Ok(())
            }
            CallCommand::BlindTransfer { leg, destination } => {
                self.blind_transfer(&leg, destination)
            }
            CallCommand::Bridge { leg, other } => self.attended_transfer(&leg, &other),
            CallCommand::QueueOffer {
                member,
                agent_leg,
                agent,
                contacts,
                timeout,
                tag,
            } => self.queue_offer(member, agent_leg, agent, contacts, timeout, tag),
            CallCommand::DialMember {
                leg,
                member,
                display,
                contacts,
                timeout,
            } => self.dial_member(leg, member, display, contacts, timeout),
            CallCommand::QueueLeave {
                member,
                destination,
                cause,
            } => self.queue_leave(&member, destination, cause),
            CallCommand::Originate {
                leg,
                from,
                destination,
                auto_answer,
            } => {
                if self.legs.contains_key(&leg) {
                    return Err(CallError::LegExists(leg));
                }
                let call = CallId(leg.0.clone());
                let domain_id = from.domain_id;
                let own = from.extension.clone();
                let mut l = self.blank_leg(leg.clone(), call.clone(), None, Sip::Outgoing, from);
                l.direction = Direction::Outbound;
                l.from = l.owner.clone();
                l.to = Party::number(domain_id, destination.clone());
                l.destination = destination.clone();
                l.sip_id = leg.0.clone();
                l.auto_answer = auto_answer;
                l.then_dial = Some(destination);
                self.insert_call(call.clone(), l);
                self.history(&leg);
                self.lookup(call, domain_id, own, Purpose::Own { leg });
                Ok(())
            }
        }
    }

    fn hold(&mut self, leg: &LegId, on: bool) -> Result<(), CallError> {
        let l = self.answered_leg(leg, if on { "hold" } else { "unhold" })?;
        if l.held_since.is_some() == on {
            return Ok(());
        }
        let peer = l.bridged.clone();
        let fork = l.winner;
        let now_ms = self.now_ms;
        let l = self.legs.get_mut(leg).expect("live");
        l.changed_ms = now_ms;
        let (media, direction, kind) = if on {
            l.held_since = Some(now_ms);
            let media = Output::Hold {
                leg: leg.clone(),
                peer,
            };
            (media, MediaDirection::SendOnly, EventKind::Hold)
        } else {
            let since = l.held_since.take().unwrap_or(now_ms);
            l.hold_ms += (now_ms - since).max(0);
            let media = Output::Unhold {
                leg: leg.clone(),
                peer,
            };
            (media, MediaDirection::SendRecv, EventKind::Active)
        };
        self.out.push_back(media);
        self.out.push_back(Output::ReInvite {
            leg: leg.clone(),
            fork,
            direction,
        });
        self.event(leg, kind, json!({}));
        self.history(leg);
        Ok(())
    }

    /// `leg` and `other` belong to one user, each bridged to a party: the two parties are
    /// bridged to each other and the user's two legs end with `ATTENDED_TRANSFER`.
    fn attended_transfer(&mut self, leg: &LegId, other: &LegId) -> Result<(), CallError> {
        if leg == other {
            return Err(self.invalid(leg, "bridge to itself"));
        }
        let mut parties = Vec::new();
        for x in [leg, other] {
            let l = self.answered_leg(x, "bridge")?;
            let Some(p) = l
                .bridged
                .clone()
                .filter(|p| self.is_live(p) && p != leg && p != other)
            else {
                return Err(self.invalid(x, "bridge"));
            };
            parties.push(p);
        }
        let (p1, p2) = (parties[0].clone(), parties[1].clone());
        let now_ms = self.now_ms;
        for (x, p) in [(leg, &p1), (other, &p2)] {
            let xl = self.legs.get_mut(x).expect("live");
            let held = xl.held_since.is_some();
            xl.peer = None;
            xl.bridged = None;
            xl.transfer_to = Some(if p == &p1 { p2.clone() } else { p1.clone() });
            if held {
                self.out.push_back(Output::Unhold {
                    leg: x.clone(),
                    peer: Some(p.clone()),
                });
            }
            let pl = self.legs.get_mut(p).expect("live");
            pl.peer = None;
            pl.bridged = None;
            pl.transfer_from = Some(x.clone());
            if let Some(since) = pl.held_since.take() {
                pl.hold_ms += (now_ms - since).max(0);
            }
            self.out.push_back(Output::Unbridge { leg: p.clone() });
        }
        self.end_leg(leg, HangupCause::AttendedTransfer, None, End::Local);
        self.end_leg(other, HangupCause::AttendedTransfer, None, End::Local);
        self.legs.get_mut(&p1).expect("live").peer = Some(p2.clone());
        self.legs.get_mut(&p2).expect("live").peer = Some(p1.clone());
        self.connect(&p1, &p2);
        Ok(())
    }

    fn blind_transfer(&mut self, leg: &LegId, destination: String) -> Result<(), CallError> {
        let l = self.answered_leg(leg, "transfer")?;
        let Some(other) = l.bridged.clone().filter(|o| self.is_live(o)) else {
            return Err(self.invalid(leg, "transfer"));
        };
        let call = l.call.clone();
        let domain_id = l.owner.domain_id;
        let new_leg = self.new_leg_id();
        for id in [leg, &other] {
            let x = self.legs.get_mut(id).expect("live");
            x.peer = None;
            x.bridged = None;
        }
        let o = self.legs.get_mut(&other).expect("live");
        if let Some(since) = o.held_since.take() {
            o.hold_ms += (self.now_ms - since).max(0);
        }
        o.changed_ms = self.now_ms;
        self.out.push_back(Output::Unbridge { leg: other.clone() });
        self.legs.get_mut(leg).expect("live").transfer_to = Some(new_leg.clone());
        self.end_leg(leg, HangupCause::BlindTransfer, None, End::Local);
        self.history(&other);
        self.lookup(
            call,
            domain_id,
            destination.clone(),
            Purpose::Dial {
                anchor: other,
                new_leg,
                destination,
                transfer_from: Some(leg.clone()),
            },
        );
        Ok(())
    }

    fn fire_timers(&mut self, now: Instant) {
        while let Some((&key, _)) = self.timers.first_key_value() {
            if key.0 > now {
                break;
            }
            let leg = self.timers.remove(&key).expect("present");
            let Some(l) = self.legs.get_mut(&leg) else {
                continue;
            };
            if l.timer != Some(key) {
                continue;
            }
            l.timer = None;
            if l.live() && !l.answered() {
                self.end_leg(&leg, HangupCause::NoAnswer, None, End::Local);
            }
        }
    }

    // ---------------------------------------------------------------- transitions

    /// Bridges `anchor` (waiting) with `target` (just answered) and answers `anchor` if it is
    /// an unanswered incoming INVITE.
    fn connect(&mut self, anchor: &LegId, target: &LegId) {
        let now_ms = self.now_ms;
        self.out.push_back(Output::Bridge {
            a: anchor.clone(),
            b: target.clone(),
        });
        for (me, other) in [(anchor, target), (target, anchor)] {
            let l = self.legs.get_mut(me).expect("live");
            l.bridged = Some(other.clone());
            l.bridged_ms.get_or_insert(now_ms);
            l.changed_ms = now_ms;
        }
        self.bridge_event(target);
        self.history(target);
        let a = &self.legs[anchor];
        if a.answered() {
            self.bridge_event(anchor);
            self.history(anchor);
        } else if a.local_sdp.is_some() {
            self.answer_incoming(anchor);
        } else {
            self.legs.get_mut(anchor).expect("live").answer_when_ready = true;
            self.history(anchor);
        }
    }

    /// Sends 200 OK on an incoming leg whose media answer is ready.
    fn answer_incoming(&mut self, leg: &LegId) {
        let now_ms = self.now_ms;
        let l = self.legs.get_mut(leg).expect("live");
        let sdp = l.local_sdp.clone().expect("media ready");
        l.answer_when_ready = false;
        l.state = LegState::Active;
        l.answered_ms = Some(now_ms);
        l.changed_ms = now_ms;
        let bridged = l.bridged.is_some();
        self.out.push_back(Output::Answer {
            leg: leg.clone(),
            sdp,
        });
        self.event(leg, EventKind::Active, json!({}));
        if bridged {
            self.bridge_event(leg);
        }
        self.history(leg);
    }

    /// Ends a leg with `cause`, and its fate partner after it.
    fn end_leg(&mut self, leg: &LegId, cause: HangupCause, code: Option<u16>, how: End) {
        let now_ms = self.now_ms;
        let Some(l) = self.legs.get_mut(leg).filter(|l| l.live()) else {
            return;
        };
        let answered = l.answered();
        let mut outs = Vec::new();
        let mut code = code;
        if how == End::Local {
            match (l.sip, answered) {
                (Sip::Incoming, false) => {
                    let (c, reason) = cause.sip_reject();
                    code = Some(c);
                    outs.push(Output::Reject {
                        leg: leg.clone(),
                        sip_code: c,
                        reason,
                    });
                }
                (Sip::Incoming, true) => outs.push(Output::Bye {
                    leg: leg.clone(),
                    fork: None,
                }),
                (Sip::Outgoing, true) => outs.push(Output::Bye {
                    leg: leg.clone(),
                    fork: l.winner,
                }),
                (Sip::Outgoing, false) => {
                    for (i, f) in l.forks.iter_mut().enumerate() {
                        if f.state.in_progress() {
                            outs.push(Output::Cancel {
                                leg: leg.clone(),
                                fork: ForkId(i as u32),
                                completed_elsewhere: false,
                            });
                        }
                        if f.state.in_progress() || f.state == ForkState::Pending {
                            f.state = ForkState::Cancelled;
                        }
                    }
                }
            }
        }
        if l.media {
            outs.push(Output::Close { leg: leg.clone() });
        }
        if let Some(since) = l.held_since.take() {
            l.hold_ms += (now_ms - since).max(0);
        }
        let sip = code.unwrap_or(if answered { 200 } else { cause.sip_reject().0 });
        l.state = LegState::Ended;
        l.hangup_ms = Some(now_ms);
        l.changed_ms = now_ms;
        l.cause = Some(cause.clone());
        l.sip_code = Some(sip);
        l.answer_when_ready = false;
        let peer = l.peer.take();
        let call = l.call.clone();
        self.out.extend(outs);
        self.stop_timer(leg);
        self.event(
            leg,
            EventKind::Hangup,
            json!({ "cause": cause.as_str(), "sip": sip }),
        );
        self.history(leg);
        if let Some(c) = self.calls.get_mut(&call) {
            c.live -= 1;
        }
        self.queue_leg_ended(leg);
        if let Some(p) = peer {
            if let Some(pl) = self.legs.get_mut(&p).filter(|pl| pl.live()) {
                pl.peer = None;
                let peer_cause = if cause == HangupCause::SystemShutdown {
                    cause
                } else if answered && pl.answered() {
                    HangupCause::NormalClearing
                } else if !pl.answered() && pl.sip == Sip::Outgoing {
                    HangupCause::OriginatorCancel
                } else {
                    // The dialled leg failed: the waiting leg learns why (486, 480, 404…).
                    cause
                };
                self.end_leg(&p, peer_cause, None, End::Local);
            }
        }
        self.maybe_forget(&call);
    }

    // ---------------------------------------------------------------- helpers

    fn blank_leg(
        &self,
        id: LegId,
        call: CallId,
        parent: Option<LegId>,
        sip: Sip,
        owner: Party,
    ) -> Leg {
        Leg {
            id,
            call,
            parent,
            sip,
            direction: Direction::Inbound,
            from: owner.clone(),
            to: owner.clone(),
            owner,
            destination: String::new(),
            sip_id: String::new(),
            auto_answer: false,
            state: LegState::Ringing,
            announced: false,
            ring_sent: false,
            media: false,
            local_sdp: None,
            answer_when_ready: false,
            forks: Vec::new(),
            winner: None,
            peer: None,
            bridged: None,
            then_dial: None,
            held_since: None,
            hold_ms: 0,
            muted: false,
            created_ms: self.now_ms,
            changed_ms: self.now_ms,
            answered_ms: None,
            bridged_ms: None,
            hangup_ms: None,
            cause: None,
            sip_code: None,
            transfer_from: None,
            transfer_to: None,
            timer: None,
            ring_timeout: None,
            queue: None,
        }
    }

    fn insert_call(&mut self, call: CallId, leg: Leg) {
        let c = self.calls.entry(call).or_insert_with(|| Call {
            legs: Vec::new(),
            lookups: Vec::new(),
            live: 0,
        });
        c.legs.push(leg.id.clone());
        c.live += 1;
        self.legs.insert(leg.id.clone(), leg);
    }

    /// Drops a conversation with no live leg and no pending lookup.
    fn maybe_forget(&mut self, call: &CallId) {
        let Some(c) = self.calls.get(call) else {
            return;
        };
        if c.live > 0 {
            return;
        }
        let c = self.calls.remove(call).expect("present");
        for l in c.lookups {
            self.lookups.remove(&l);
        }
        for l in c.legs {
            if let Some(leg) = self.legs.remove(&l) {
                if let Some(key) = leg.timer {
                    self.timers.remove(&key);
                }
            }
        }
    }

    fn set_forks(&mut self, leg: &LegId, contacts: Vec<ContactRef>) {
        let l = self.legs.get_mut(leg).expect("live");
        l.media = true;
        l.forks = contacts
            .into_iter()
            .map(|contact| Fork {
                contact,
                state: ForkState::Pending,
                code: None,
            })
            .collect();
    }

    fn lookup(&mut self, call: CallId, domain_id: i64, destination: String, purpose: Purpose) {
        let id = LookupId(self.next_lookup);
        self.next_lookup += 1;
        if let Some(c) = self.calls.get_mut(&call) {
            c.lookups.push(id);
        }
        self.lookups.insert(
            id,
            Lookup {
                call: call.clone(),
                purpose,
            },
        );
        self.out.push_back(Output::Resolve {
            lookup: id,
            call,
            domain_id,
            destination,
        });
    }

    fn start_timer(&mut self, leg: &LegId) {
        let Some(now) = self.now else { return };
        self.stop_timer(leg);
        let after = self.legs[leg].ring_timeout.unwrap_or(self.cfg.ring_timeout);
        let key = (now + after, self.next_timer);
        self.next_timer += 1;
        self.timers.insert(key, leg.clone());
        self.legs.get_mut(leg).expect("live").timer = Some(key);
    }

    fn stop_timer(&mut self, leg: &LegId) {
        if let Some(key) = self.legs.get_mut(leg).and_then(|l| l.timer.take()) {
            self.timers.remove(&key);
        }
    }

    fn is_live(&self, leg: &LegId) -> bool {
        self.legs.get(leg).is_some_and(Leg::live)
    }

    fn live_leg(&self, leg: &LegId) -> Result<&Leg, CallError> {
        self.legs
            .get(leg)
            .filter(|l| l.live())
            .ok_or_else(|| CallError::UnknownLeg(leg.clone()))
    }

    fn live_leg_mut(&mut self, leg: &LegId) -> Result<&mut Leg, CallError> {
        self.legs
            .get_mut(leg)
            .filter(|l| l.live())
            .ok_or_else(|| CallError::UnknownLeg(leg.clone()))
    }

    fn answered_leg(&self, leg: &LegId, action: &'static str) -> Result<&Leg, CallError> {
        let l = self.live_leg(leg)?;
        if l.state != LegState::Active {
            return Err(self.invalid(leg, action));
        }
        Ok(l)
    }

    fn invalid(&self, leg: &LegId, action: &'static str) -> CallError {
        CallError::InvalidState {
            leg: leg.clone(),
            action,
            state: self.legs.get(leg).map_or("gone", Leg::state_str),
        }
    }

    /// The `ringing` event, once per leg.
    fn announce(&mut self, leg: &LegId) {
        let l = self.legs.get_mut(leg).expect("live");
        if l.announced {
            return;
        }
        l.announced = true;
        let mut data = Map::new();
        data.insert("sip_id".into(), l.sip_id.clone().into());
        if let Some(p) = &l.parent {
            data.insert("parent_id".into(), p.0.clone().into());
        }
        data.insert("direction".into(), l.direction.as_str().into());
        data.insert("destination".into(), l.destination.clone().into());
        data.insert("from".into(), endpoint_json(&l.from));
        data.insert("to".into(), endpoint_json(&l.to));
        if l.auto_answer {
            data.insert("params".into(), json!({ "autoAnswer": true }));
        }
        if let Some(q) = l.queue_tag() {
            data.insert("queue".into(), q);
        }
        self.event(leg, EventKind::Ringing, Value::Object(data));
    }

    fn bridge_event(&mut self, leg: &LegId) {
        let l = &self.legs[leg];
        let Some(other) = l.bridged.as_ref().and_then(|o| self.legs.get(o)) else {
            return;
        };
        let mut data = json!({
            "bridged_id": other.id,
            "to": endpoint_json(&other.owner),
        });
        // webitel-sdk replaces `call.queue` with the bridge event's.
        if let Some(q) = l.queue_tag() {
            data["queue"] = q;
        }
        self.event(leg, EventKind::Bridge, data);
    }

    fn event(&mut self, leg: &LegId, kind: EventKind, data: Value) {
        let l = &self.legs[leg];
        let Some(user_id) = l.owner.user_id else {
            return;
        };
        if !l.announced {
            return;
        }
        self.out.push_back(Output::Event(CallEvent {
            id: l.id.clone(),
            call: l.call.clone(),
            kind,
            user_id,
            domain_id: l.owner.domain_id,
            app_id: self.cfg.app_id.clone(),
            timestamp: self.now_ms,
            data,
        }));
    }

    fn history(&mut self, leg: &LegId) {
        let l = &self.legs[leg];
        let end = l.hangup_ms.unwrap_or(self.now_ms);
        let secs = |from: Option<i64>| from.map_or(0, |f| ((end - f).max(0)) / 1000);
        let hold_ms = l.hold_ms + l.held_since.map_or(0, |s| (end - s).max(0));
        let user = l.owner.user_id.is_some();
        let rec = HistoryRecord {
            id: l.id.clone(),
            call_id: l.call.clone(),
            parent_id: l.parent.clone(),
            app_id: self.cfg.app_id.clone(),
            domain_id: l.owner.domain_id,
            user_id: l.owner.user_id,
            user_name: user.then(|| l.owner.name.clone()),
            extension: user.then(|| l.owner.extension.clone()),
            direction: l.direction,
            destination: l.destination.clone(),
            sip_id: l.sip_id.clone(),
            from_type: party_type(&l.from).into(),
            from_number: l.from.extension.clone(),
            from_name: l.from.name.clone(),
            from_id: l.from.user_id,
            to_type: party_type(&l.to).into(),
            to_number: l.to.extension.clone(),
            to_name: l.to.name.clone(),
            to_id: l.to.user_id,
            state: l.state_str().into(),
            created_at: l.created_ms,
            answered_at: l.answered_ms,
            bridged_at: l.bridged_ms,
            hangup_at: l.hangup_ms,
            duration: secs(Some(l.created_ms)),
            bill_sec: secs(l.answered_ms),
            hold_sec: hold_ms / 1000,
            wait_sec: (l.answered_ms.unwrap_or(end) - l.created_ms).max(0) / 1000,
            hangup_cause: l.cause.as_ref().map(|c| c.as_str().to_owned()),
            sip_code: l.sip_code,
            bridged_id: l.bridged.clone(),
            transfer_from: l.transfer_from.clone(),
            transfer_to: l.transfer_to.clone(),
        };
        self.out.push_back(Output::History(Box::new(rec)));
    }

    fn active(&self, l: &Leg, wall_ms: i64) -> ActiveCall {
        let secs = |from: Option<i64>| from.map_or(0, |f| (wall_ms - f).max(0) / 1000);
        let hold_ms = l.hold_ms + l.held_since.map_or(0, |s| (wall_ms - s).max(0));
        ActiveCall {
            id: l.id.clone(),
            app_id: self.cfg.app_id.clone(),
            state: l.state_str().into(),
            timestamp: rfc3339_ms(l.changed_ms),
            kind: "call".into(),
            parent_id: l.parent.clone(),
            user: l
                .owner
                .user_id
                .map(|id| json!({ "id": id, "name": l.owner.name })),
            extension: l.owner.user_id.map(|_| l.owner.extension.clone()),
            gateway: None,
            direction: l.direction,
            destination: l.destination.clone(),
            from: endpoint_json(&l.from),
            to: endpoint_json(&l.to),
            variables: Map::new(),
            created_at: l.created_ms,
            answered_at: l.answered_ms,
            bridged_at: l.bridged_ms,
            hangup_at: None,
            duration: secs(Some(l.created_ms)),
            hold_sec: hold_ms / 1000,
            wait_sec: (l.answered_ms.unwrap_or(wall_ms) - l.created_ms).max(0) / 1000,
            bill_sec: secs(l.answered_ms),
            bridged_id: l.bridged.clone(),
            blind_transfer: None,
            contact_id: None,
            hide_number: false,
            is_consult_to_queue: false,
            muted: l.muted,
            domain_id: l.owner.domain_id,
            user_id: l.owner.user_id,
        }
    }
}

fn party_type(p: &Party) -> &'static str {
    if p.user_id.is_some() {
        "user"
    } else {
        "dest"
    }
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
