//! Transport-agnostic identity of a connection or socket, owned by the edge.

use std::fmt;

/// Opaque id the transport edge assigns to a connection (WS/TCP/TLS) or a
/// socket+peer pair (UDP). The core only hands it back in outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowId(pub u64);

impl fmt::Display for FlowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "flow#{}", self.0)
    }
}

/// Where a message came from or goes to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Peer {
    pub flow: FlowId,
    /// Source address as the edge saw it (`ip:port`), used for `received`/`rport`.
    pub addr: String,
    /// Stream or message-reliable transport (WS, TCP, TLS): no retransmissions (§17).
    pub reliable: bool,
}
