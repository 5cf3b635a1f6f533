//! SIP transports: thin tokio edges that hand whole messages to the runtime and carry its
//! messages back. Each gives every connection (WebSocket, TCP, TLS) or listening socket (UDP) a
//! [`FlowId`](switchboard_sip::FlowId); the sans-IO core never sees a socket.
//!
//! - [`ws`]: SIP over WebSocket (RFC 7118) at `GET /sip` on the HTTP listener (browsers).
//! - [`udp`]: one socket; a flow per socket, the peer's address travels with each message, so
//!   responses leave from the socket the request came in on (RFC 3581).
//! - [`stream`]: TCP and TLS (RFC 3261 §18.3 framing by Content-Length, RFC 5626 CRLF keep-alive);
//!   requests to a phone go over the connection it registered on.

pub mod stream;
pub mod udp;
pub mod ws;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

pub use ws::upgrade;

/// Largest SIP message accepted on any transport; SDP offers with many candidates stay well
/// under it, and a UDP datagram cannot be larger.
pub const MAX_MESSAGE: usize = 64 * 1024;

/// Which transport a flow runs on: it decides Via, Contact and retransmissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Ws,
    Udp,
    Tcp,
    Tls,
}

impl Transport {
    /// The Via transport token (§20.42) and the `transport=` URI parameter, lowercased.
    pub fn token(self) -> &'static str {
        match self {
            Transport::Ws => "WS",
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
        }
    }

    /// Stream or message-reliable: no retransmissions (§17).
    pub fn reliable(self) -> bool {
        self != Transport::Udp
    }
}

/// How the runtime reaches a flow.
#[derive(Debug, Clone)]
pub(crate) enum Sink {
    /// A connection: bytes queue towards its writer task.
    Stream(mpsc::Sender<Bytes>),
    /// A UDP socket: sent to the message's destination right away (never blocks).
    Datagram(Arc<UdpSocket>),
}

/// What a transport tells the runtime about a new flow.
#[derive(Debug, Clone)]
pub(crate) struct Link {
    pub(crate) transport: Transport,
    /// The remote address (`ip:port`) of a connection; empty for a UDP socket, whose peers come
    /// with each message.
    pub(crate) peer: String,
    /// Our address on this flow (Via sent-by, Contact); `None` over WebSocket, where we use an
    /// `.invalid` host as JsSIP does.
    pub(crate) local: Option<SocketAddr>,
    pub(crate) sink: Sink,
}

/// True for keep-alive filler (CRLFs) that is not a SIP message.
pub(crate) fn is_keepalive(bytes: &[u8]) -> bool {
    bytes.iter().all(|b| b.is_ascii_whitespace())
}
