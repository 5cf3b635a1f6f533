//! The engine's vocabulary: ids, parties, inputs and outputs.

use crate::cause::HangupCause;
use crate::event::{CallEvent, HistoryRecord};
use serde::{Deserialize, Serialize};
use std::fmt;

/// One Webitel "call": a leg of a conversation, identified by a UUID string. It is the `id` of the
/// `call` events and of the history row, the value of `X-Webitel-Uuid`, and, for legs the engine
/// originates, the SIP Call-ID the runtime should use (b.9: FreeSWITCH uses the leg UUID as
/// Call-ID, and Webitel falls back to the call id as `sip_id`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LegId(pub String);

/// A conversation: the id of its first (root) leg, which is the `parent_id` of every other leg.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CallId(pub String);

/// One fork (one INVITE client transaction / dialog) of an outgoing leg: the leg rings every
/// registered contact of its user, and each contact gets its own fork. Numbered from 0 within
/// its leg; always travels together with the [`LegId`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ForkId(pub u32);

/// A dial-plan lookup the engine asked for with [`Output::Resolve`]; echo it in
/// [`Input::DestinationResolved`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LookupId(pub u64);

macro_rules! string_id {
    ($t:ty) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl From<&str> for $t {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }
        impl From<String> for $t {
            fn from(s: String) -> Self {
                Self(s)
            }
        }
        impl $t {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    };
}
string_id!(LegId);
string_id!(CallId);

impl fmt::Display for ForkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for LookupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Someone on a call. Users of the platform have a `user_id`; a party without one (an external
/// number, a bare destination) gets no events and its history row has no user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    pub user_id: Option<i64>,
    pub domain_id: i64,
    /// The number: the user's extension, or the dialled digits for a non-user.
    pub extension: String,
    pub name: String,
}

impl Party {
    /// A platform user.
    pub fn user(
        user_id: i64,
        domain_id: i64,
        extension: impl Into<String>,
        name: impl Into<String>,
    ) -> Self {
        Party {
            user_id: Some(user_id),
            domain_id,
            extension: extension.into(),
            name: name.into(),
        }
    }

    /// A dialled number that is not (yet) known to be a user.
    pub fn number(domain_id: i64, number: impl Into<String>) -> Self {
        let number = number.into();
        Party {
            user_id: None,
            domain_id,
            name: number.clone(),
            extension: number,
        }
    }
}

/// A registered contact (one registration: one browser tab or one phone). Opaque to the engine;
/// the runtime uses `id` to find the registration's flow and URI.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ContactRef {
    pub id: String,
}

impl ContactRef {
    pub fn new(id: impl Into<String>) -> Self {
        ContactRef { id: id.into() }
    }
}

/// What a destination resolved to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    /// A user of the domain with its live registrations. An empty `contacts` is treated like
    /// [`Target::Offline`]. Leave out the contact the call comes from, if any.
    User {
        user: Party,
        contacts: Vec<ContactRef>,
    },
    /// No such extension: 404 / `UNALLOCATED_NUMBER`.
    NotFound,
    /// The user exists but has no registration: 480 / `USER_NOT_REGISTERED`.
    Offline,
    /// A contact-center queue (a routing schema's `joinQueue`): the calling leg is answered,
    /// hears the hold tone and waits for an agent ([`Output::Queue`] `Joined`).
    Queue { queue_id: i64, name: String },
}

/// What the agent's leg of a queue call carries as webitel-sdk's `call.queue` (CC-NOTES 1.6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueTag {
    pub attempt_id: i64,
    pub queue_id: i64,
    pub queue_name: String,
    /// The queue type's name (`inbound`, `progressive`, …).
    pub queue_type: String,
    pub has_reporting: bool,
}

/// What happened to a queue call, for the contact center.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueNote {
    /// A caller's leg entered a queue.
    Joined {
        member: LegId,
        domain_id: i64,
        queue_id: i64,
        number: String,
        name: String,
    },
    /// The agent picked up; member and agent are bridged.
    OfferAnswered { member: LegId, agent_leg: LegId },
    /// The agent's leg failed, rang out or was rejected; the member still waits.
    OfferFailed { member: LegId, agent_leg: LegId },
    /// The caller hung up while waiting (any ringing offer is cancelled).
    MemberLeft { member: LegId },
    /// The conversation between member and agent is over (either hung up or transferred).
    Ended { member: LegId, agent_leg: LegId },
    /// A dialled member picked up; it now waits for an agent.
    MemberAnswered { member: LegId },
    /// A dialled member was not reached: `cause` (`NO_ANSWER`, `USER_BUSY`, …) and the SIP code.
    DialFailed {
        member: LegId,
        cause: HangupCause,
        sip_code: Option<u16>,
    },
}

/// Webitel's `direction` of a leg, seen from the user the leg belongs to: the caller's own leg is
/// `outbound`, a leg that rings a user is `inbound`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Inbound,
    Outbound,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }
}

/// The media direction the runtime asks for in a re-INVITE offer, from the server's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MediaDirection {
    /// `a=sendonly`: the leg is on hold (its user pressed hold).
    SendOnly,
    /// `a=sendrecv`: back from hold.
    SendRecv,
}

/// Everything that can happen to the engine. Feed with [`crate::Engine::handle`].
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// A new INVITE arrived from a user's device (browser or phone). The runtime picks `leg`
    /// (a fresh UUID, see [`crate::Engine::new_leg_id`]) and keeps the server transaction and
    /// dialog under it. The engine answers with `CreateAnswerer`, a `ringing` event and `Resolve`.
    IncomingCall {
        leg: LegId,
        from: Party,
        destination: String,
        /// The INVITE's Call-ID: the `sip_id` of the caller's `ringing` event (b.9).
        sip_call_id: String,
        offer_sdp: String,
        /// `X-Webitel-Display`, shown to the callee as the caller's name.
        display: Option<String>,
    },
    /// Answer to [`Output::Resolve`].
    DestinationResolved { lookup: LookupId, target: Target },
    /// The media side made the endpoint asked for by `CreateAnswerer` (then `local_sdp` is the
    /// SDP answer for the leg's caller) or `CreateOfferer` (the SDP offer for the leg's forks).
    MediaReady { leg: LegId, local_sdp: String },
    /// The media side could not make the leg's endpoint (bad offer, no ports).
    MediaFailed { leg: LegId },
    /// A fork got 180/183.
    ForkRinging { leg: LegId, fork: ForkId },
    /// A fork got a 2xx (the runtime ACKs it). If the leg is already answered or gone, the
    /// engine replies `Bye` for that fork (the 200/CANCEL race, forked 2xx).
    ForkAnswered {
        leg: LegId,
        fork: ForkId,
        answer_sdp: String,
    },
    /// A fork's INVITE failed: its final 3xx-6xx, or 408 when Timer B fired or the flow closed.
    /// A 487 for a fork the engine cancelled is expected and harmless.
    ForkFailed {
        leg: LegId,
        fork: ForkId,
        sip_code: u16,
    },
    /// A BYE arrived on the leg's dialog (either direction of leg).
    LegHungUp { leg: LegId },
    /// A CANCEL arrived for the leg's incoming INVITE (the runtime answers the CANCEL itself;
    /// the engine sends the 487 as `Reject`).
    LegCancelled { leg: LegId },
    /// A DTMF digit came from the leg's device (RFC 4733 via media, or SIP INFO).
    LegDtmf { leg: LegId, digit: char },
    /// A control action from the WebSocket API or REST.
    Command(CallCommand),
    /// Time passed: fire what is due at `now` (see [`crate::Engine::poll_timeout`]).
    Timeout,
    /// The node is going down: every live leg ends with `SYSTEM_SHUTDOWN`.
    Shutdown,
}

/// Control actions (b.6 `call_*`, REST `/api/calls/active/...`, `POST /api/calls`).
#[derive(Debug, Clone, PartialEq)]
pub enum CallCommand {
    /// `call_hangup`. With no cause: `USER_BUSY` on a ringing inbound leg (reject),
    /// `ORIGINATOR_CANCEL` on a ringing outbound leg, `NORMAL_CLEARING` otherwise.
    Hangup {
        leg: LegId,
        cause: Option<HangupCause>,
    },
    /// `call_hold`: the leg's device gets a `sendonly` re-INVITE and its peer hears the hold tone.
    Hold { leg: LegId },
    /// `call_unhold`.
    Unhold { leg: LegId },
    /// `call_dtmf`: `digit` goes to the leg's bridged peer as RFC 4733.
    Dtmf { leg: LegId, digit: char },
    /// `call_blind_transfer`: the leg's peer is connected to `destination`; `leg` ends with
    /// `BLIND_TRANSFER`.
    BlindTransfer { leg: LegId, destination: String },
    /// `call_bridge` (attended transfer): `leg` and `other` are two answered legs of one user,
    /// each bridged to a party (typically one on hold). The two parties are bridged to each
    /// other; `leg` and `other` end with `ATTENDED_TRANSFER`.
    Bridge { leg: LegId, other: LegId },
    /// `call_mute`: the leg's audio stops reaching the other side.
    Mute { leg: LegId, on: bool },
    /// Click-to-call (`POST /api/calls`, `call_invite`, `call_user`): ring `from`'s own devices
    /// first (with auto-answer when asked), and when one answers, call `destination`. `leg` is
    /// the new call's id, chosen by the caller so it can reply `{id}` at once.
    Originate {
        leg: LegId,
        from: Party,
        destination: String,
        auto_answer: bool,
    },
    /// Ring an agent for a queued member (`Target::Queue`): `agent_leg` rings `contacts` for
    /// `timeout` with `tag` in its `ringing` event; on answer it is bridged with `member`.
    /// A failure leaves the member waiting.
    QueueOffer {
        member: LegId,
        agent_leg: LegId,
        agent: Party,
        contacts: Vec<ContactRef>,
        timeout: std::time::Duration,
        tag: QueueTag,
    },
    /// A dialer calls a member (customer first): `leg` rings `contacts` (gateway forks) for
    /// `timeout`, showing `display` as the caller. Answered, the leg waits in its queue like
    /// an inbound caller (`QueueNote::MemberAnswered`, then `QueueOffer`s); a failure ends it
    /// with `QueueNote::DialFailed`.
    DialMember {
        leg: LegId,
        member: Party,
        display: Party,
        contacts: Vec<ContactRef>,
        timeout: std::time::Duration,
    },
    /// The member leaves its queue without an agent: it dials `destination` (the routing
    /// schema's next step) or, without one, hangs up with `cause` (default `NORMAL_CLEARING`).
    QueueLeave {
        member: LegId,
        destination: Option<String>,
        cause: Option<HangupCause>,
    },
}

/// Everything the engine asks the world to do, in order. Drain with
/// [`crate::Engine::poll_output`] after every `handle`.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    // ---- SIP, incoming legs (the runtime is UAS) ----
    /// Send 180 Ringing on the leg's incoming INVITE.
    Ring { leg: LegId },
    /// Send 200 OK with `sdp` on the leg's incoming INVITE.
    Answer { leg: LegId, sdp: String },
    /// Send a final error response on the leg's incoming INVITE.
    Reject {
        leg: LegId,
        sip_code: u16,
        reason: &'static str,
    },

    // ---- SIP, outgoing legs (the runtime is UAC) ----
    /// Send an INVITE to `contact` for this fork. Use `sip_call_id` as the Call-ID (the same
    /// for every fork of a leg, as a forking proxy would; give each fork its own From-tag),
    /// `from`/`to` for the From/To display and user parts, `sdp` as the body and add `headers`.
    /// `auto_answer` asks hardware phones to pick up at once (e.g. `Call-Info: answer-after=0`).
    Invite {
        leg: LegId,
        fork: ForkId,
        call: CallId,
        contact: ContactRef,
        from: Party,
        to: Party,
        sip_call_id: String,
        sdp: String,
        headers: Vec<(String, String)>,
        auto_answer: bool,
    },
    /// CANCEL the fork's INVITE. `completed_elsewhere` adds
    /// `Reason: SIP;cause=200;text="Call completed elsewhere"` (RFC 3326).
    Cancel {
        leg: LegId,
        fork: ForkId,
        completed_elsewhere: bool,
    },

    // ---- SIP, established dialogs ----
    /// Send BYE on the leg's dialog: the incoming dialog when `fork` is `None`, else that fork's.
    Bye { leg: LegId, fork: Option<ForkId> },
    /// Send a re-INVITE on the leg's dialog whose offer the runtime takes from the leg's media
    /// endpoint with the given direction, and hand the answer back to that endpoint.
    ReInvite {
        leg: LegId,
        fork: Option<ForkId>,
        direction: MediaDirection,
    },
    /// Tell the leg's device that its peer muted (`on`) or unmuted its audio: an in-dialog INFO
    /// with `Content-Type: application/json` and `{"videoMuted":false,"audioMuted":on,
    /// "hold":hold}` (c.3), from which webitel-sdk sets `remoteAudioMuted`/`remoteHold`.
    /// `hold` is whether the peer holds the call.
    NotifyMute {
        leg: LegId,
        fork: Option<ForkId>,
        on: bool,
        hold: bool,
    },

    // ---- media ----
    /// Make the leg's endpoint from the caller's offer; reply `MediaReady` with the answer.
    CreateAnswerer { leg: LegId, offer: String },
    /// Make the leg's endpoint as offerer; reply `MediaReady` with the offer. `near` is the leg
    /// it will be bridged to (the media side keeps both where bridging is cheap).
    CreateOfferer { leg: LegId, near: Option<LegId> },
    /// The leg's remote answer arrived (to the offer from `CreateOfferer`).
    AcceptAnswer { leg: LegId, sdp: String },
    /// Forward media between two endpoints both ways.
    Bridge { a: LegId, b: LegId },
    /// Stop forwarding to and from this leg (its peer is being transferred away).
    Unbridge { leg: LegId },
    /// The leg's user put the call on hold: stop forwarding between the leg and its peer and
    /// play the hold tone to `peer`.
    Hold { leg: LegId, peer: Option<LegId> },
    /// Back from hold: stop the tone, forward again.
    Unhold { leg: LegId, peer: Option<LegId> },
    /// Send an RFC 4733 digit towards the leg's device.
    SendDtmf { leg: LegId, digit: char },
    /// Stop (or resume) the leg's audio reaching its peer.
    Mute { leg: LegId, on: bool },
    /// Play (or stop) the waiting tone to a leg that has no peer (a queued caller).
    Tone { leg: LegId, on: bool },
    /// Tear the leg's endpoint down.
    Close { leg: LegId },

    // ---- dial plan ----
    /// Resolve `destination` in the domain; reply `DestinationResolved` with `lookup`.
    Resolve {
        lookup: LookupId,
        call: CallId,
        domain_id: i64,
        destination: String,
    },

    // ---- observers ----
    /// A Webitel `call` event for one user (b.8). [`CallEvent::to_json`] gives the wire object.
    Event(CallEvent),
    /// The leg's history row as it stands now; upsert by `id`.
    History(Box<HistoryRecord>),
    /// A queue call moved (for the contact center).
    Queue(QueueNote),
}

impl Output {
    /// The leg this output is about, when there is a single one.
    pub fn leg(&self) -> Option<&LegId> {
        match self {
            Output::Ring { leg }
            | Output::Answer { leg, .. }
            | Output::Reject { leg, .. }
            | Output::Invite { leg, .. }
            | Output::Cancel { leg, .. }
            | Output::Bye { leg, .. }
            | Output::ReInvite { leg, .. }
            | Output::CreateAnswerer { leg, .. }
            | Output::CreateOfferer { leg, .. }
            | Output::AcceptAnswer { leg, .. }
            | Output::Unbridge { leg }
            | Output::Hold { leg, .. }
            | Output::Unhold { leg, .. }
            | Output::SendDtmf { leg, .. }
            | Output::Mute { leg, .. }
            | Output::Tone { leg, .. }
            | Output::NotifyMute { leg, .. }
            | Output::Close { leg } => Some(leg),
            Output::Event(e) => Some(&e.id),
            Output::History(h) => Some(&h.id),
            Output::Bridge { .. } | Output::Resolve { .. } | Output::Queue(_) => None,
        }
    }
}
