//! Transactions (RFC 3261 §17) as sans-IO state machines, plus the layer that
//! owns them, matches messages to them (§17.1.3, §17.2.3) and drives timers.

mod client;
mod layer;
mod server;

use std::time::Duration;

use bytes::Bytes;
use thiserror::Error;

use crate::flow::{FlowId, Peer};
use crate::message::{Request, Response};

pub use client::ClientState;
pub use layer::TransactionLayer;
pub use server::ServerState;

/// RFC 3261 timer base values (§17.1.1.1, Table 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    /// RTT estimate; default 500 ms.
    pub t1: Duration,
    /// Longest retransmit interval for non-INVITE requests and INVITE responses; 4 s.
    pub t2: Duration,
    /// Longest time a message stays in the network; 5 s.
    pub t4: Duration,
    /// Delay before the server INVITE transaction sends 100 Trying itself (§17.2.1: 200 ms).
    pub trying_delay: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        Self {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            trying_delay: Duration::from_millis(200),
        }
    }
}

impl TimerConfig {
    /// Timers B, F, H, J, L, M: 64*T1.
    pub fn t1x64(&self) -> Duration {
        self.t1 * 64
    }

    /// Timer D on unreliable transports: at least 32 s.
    pub fn timer_d(&self) -> Duration {
        Duration::from_secs(32).max(self.t1x64() / 2)
    }
}

/// Handle of one transaction inside a [`TransactionLayer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransactionId(pub u64);

/// Which of the four machines a transaction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionKind {
    ClientInvite,
    ClientNonInvite,
    ServerInvite,
    ServerNonInvite,
}

/// What arrives from the outside world.
#[derive(Debug, Clone)]
pub enum Input {
    /// Bytes of one message (datagram, WebSocket message, or a frame cut with `framed_len`).
    Receive { peer: Peer, bytes: Bytes },
    /// The transport could not deliver on this flow or it closed (§17.1.4, §17.2.4).
    TransportError { flow: FlowId },
}

/// What the layer wants done.
// Outputs are drained right away; boxing the event would cost an allocation each.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send these bytes on `flow` (to `addr` for UDP).
    Transmit {
        flow: FlowId,
        addr: String,
        bytes: Bytes,
    },
    /// Something for the transaction user (B2BUA, registrar…).
    Event(Event),
}

/// Notifications to the transaction user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A new request. `tx` is `None` for an ACK that matched no server transaction
    /// (the ACK for a 2xx, §13.3.1.4) or that matched an Accepted one (RFC 6026).
    /// For CANCEL, `cancels` names the INVITE transaction it matches (§9.2).
    Request {
        tx: Option<TransactionId>,
        peer: Peer,
        request: Request,
        cancels: Option<TransactionId>,
    },
    /// A response for a client transaction (2xx retransmissions included while Accepted).
    Response {
        tx: TransactionId,
        response: Response,
    },
    /// A response that matched no transaction (e.g. a 2xx retransmitted after the
    /// transaction ended); the dialog layer re-sends its ACK.
    StrayResponse { peer: Peer, response: Response },
    /// Timer B, F or H fired.
    Timeout { tx: TransactionId },
    /// The flow failed while the transaction needed it.
    TransportError { tx: TransactionId },
    /// The transaction is gone; its id will not appear again.
    Terminated { tx: TransactionId },
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TransactionError {
    #[error("no such transaction")]
    Unknown,
    #[error("request lacks a top Via with an RFC 3261 branch or a CSeq")]
    MissingBranch,
    #[error("a transaction with this key already exists")]
    Duplicate,
    #[error("ACK is not sent through a transaction")]
    AckNotAllowed,
    #[error("the transaction cannot send this response in its state")]
    InvalidState,
    #[error("response does not belong to this transaction")]
    Mismatch,
}

/// Queue the machines write into; the layer drains it.
pub(crate) type Out = std::collections::VecDeque<Output>;

pub(crate) fn transmit(out: &mut Out, peer: &Peer, bytes: &Bytes) {
    out.push_back(Output::Transmit {
        flow: peer.flow,
        addr: peer.addr.clone(),
        bytes: bytes.clone(),
    });
}
