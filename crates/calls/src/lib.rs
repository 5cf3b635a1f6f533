//! Sans-IO call engine: calls made of legs, forking, bridging, hold, DTMF, blind transfer,
//! click-to-call, Webitel `call` events (PROTOCOL-NOTES b.8) and history rows. No sockets, no
//! clocks, no database: the runtime feeds [`Input`]s with the current time and drains
//! [`Output`]s, like str0m's `Rtc`.
//!
//! ```text
//! engine.handle(input, now, wall_ms)?;          // Instant for timers, epoch ms for stamps
//! while let Some(out) = engine.poll_output() {  // SIP, media, lookups, events, history
//!     ...
//! }
//! if let Some(at) = engine.poll_timeout() { /* at `at`: handle(Input::Timeout, ..) */ }
//! ```
//!
//! # Model
//! A **leg** ([`LegId`], a UUID string) is one Webitel "call": it belongs to one user, has its
//! own `call` events, history row and SIP dialog with that user's device. A **call**
//! ([`CallId`]) is the conversation; its id is the first leg's id, which is the `parent_id` of
//! every other leg.
//!
//! - The caller's leg comes from an incoming INVITE (`Input::IncomingCall`, direction
//!   `outbound`), or for click-to-call (`CallCommand::Originate`) is an INVITE the engine sends
//!   to the caller's own devices first (with `params.autoAnswer` in its `ringing` event).
//! - The callee's leg (direction `inbound`) rings **every** registered contact of the callee:
//!   one [`ForkId`] per contact, all with the same leg id, Call-ID and `X-Webitel-Uuid`, as a
//!   forking proxy would. So every tab of the callee sees one call, and whichever tab answers
//!   pairs with it (b.9). The first 2xx wins; the other forks get CANCEL ("Call completed
//!   elsewhere"); a late 2xx gets BYE.
//!
//! # A basic call, step by step
//! 1. `IncomingCall{leg A}` → `CreateAnswerer{A}`, `ringing` event for A, `History(A)`,
//!    `Resolve{lookup}`.
//! 2. `MediaReady{A, answer}` (kept for later). `DestinationResolved{lookup, User{contacts}}` →
//!    `CreateOfferer{B}`, `History(B)`.
//! 3. `MediaReady{B, offer}` → one `Invite{B, fork}` per contact, `ringing` event for B,
//!    ring timer. `ForkRinging` → `Ring{A}` (180, once).
//! 4. `ForkAnswered{B, fork, answer}` → `Cancel` other forks, `AcceptAnswer{B}`, `active`(B),
//!    `Bridge{A, B}`, `bridge`(B), `Answer{A, sdp}` (200 OK), `active`(A), `bridge`(A).
//! 5. `LegHungUp{A}` → `Close{A}`, `hangup`(A), then `Bye{B}`, `Close{B}`, `hangup`(B).
//!
//! Failures: unknown extension → `Reject{A, 404}` (`UNALLOCATED_NUMBER`); no registration →
//! 480 (`USER_NOT_REGISTERED`); ring timeout → CANCEL forks, 480 (`NO_ANSWER`); every fork
//! failed → the best failure (RFC 3261 §16.7: 6xx, then 486, then 480…); the callee's
//! `Hangup{B, USER_BUSY}` while ringing (how webitel-sdk rejects, b.10) → CANCEL forks, 486;
//! caller's CANCEL → 487 and CANCEL to every fork (`ORIGINATOR_CANCEL`).
//!
//! In-call: `Hold{leg}` → media `Hold{leg, peer}` (tone to the peer), `ReInvite{leg,
//! SendOnly}`, `hold` event; `Unhold` → `ReInvite{SendRecv}` and an `active` event (the SDK has
//! no unhold event). `Dtmf{leg, d}` → `SendDtmf{peer, d}` and a `dtmf` event on the peer's leg;
//! digits from a device (`LegDtmf`) give a `dtmf` event on that leg and are relayed to its peer.
//! `BlindTransfer{leg, dest}` → the peer is `Unbridge`d, `leg` gets BYE with `BLIND_TRANSFER`
//! and `transfer_to` = the new leg, which is dialled like a callee (`transfer_from` = `leg`) and
//! bridged with the peer on answer. `Bridge{leg, other}` (`call_bridge`, attended transfer)
//! bridges the parties of a user's two answered legs to each other and ends both legs with
//! `ATTENDED_TRANSFER` (each party's `transfer_from` names the user's leg it came through; the
//! parties may belong to different calls and share fate from then on). `Mute{leg}` → media `Mute` and, when the leg is bridged,
//! `NotifyMute{peer}`: an INFO to the peer's device as webitel-sdk sends between browsers (c.3;
//! b.8 has no mute event, and the SDK's own INFO ends at the server).
//!
//! # What the runtime must do
//! - Pick leg ids for `IncomingCall` and `Originate` with [`Engine::new_leg_id`] (or its own
//!   UUIDs); keep `LegId` → incoming dialog, and `(LegId, ForkId)` → outgoing transaction/dialog.
//! - Use `Invite::sip_call_id` (the leg id) as the Call-ID of every fork and a distinct From-tag
//!   per fork; the `ringing` event's `sip_id` is that Call-ID.
//! - ACK every 2xx it reports as `ForkAnswered` (the engine may answer it with `Bye`).
//! - Answer a CANCEL with 200 itself and report `LegCancelled`; the engine sends the 487.
//! - `ReInvite{direction}`: take the re-offer from the leg's media endpoint, hand the answer back
//!   to it.
//! - Upsert every `History` row; fan each `Event` out to its `user_id`'s sockets wrapped as
//!   `{"event":"call","data":{"call": event.to_json()}}`.
//! - Errors from `handle` are for the input's sender (e.g. a WS action on an unknown leg → 404);
//!   late `ForkRinging`/`ForkFailed` for a finished leg are ignored, a late `ForkAnswered` gets
//!   `Bye`, and other SIP inputs for forgotten legs give `UnknownLeg` (log and drop).
//!
//! # Not here (yet)
//! Early media (183 with SDP) is treated as ringing; recording is the media side's business on
//! `Bridge`; per-call ring timeouts, `hide_number` and call variables are not modelled.

mod cause;
mod engine;
mod error;
mod event;
pub mod flow;
mod types;

pub use cause::HangupCause;
pub use engine::{Config, Engine, IdSource};
pub use error::CallError;
pub use event::{rfc3339_ms, ActiveCall, CallEvent, EventKind, HistoryRecord};
pub use types::{
    CallCommand, CallId, ContactRef, Direction, ForkId, Input, LegId, LookupId, MediaDirection,
    Output, Party, QueueNote, QueueTag, Target,
};
