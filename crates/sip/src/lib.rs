//! Sans-IO SIP core: message model and parser, transactions, dialogs, digest
//! authentication, registrar logic and the trunk registration client
//! ([`registrant`]). No sockets, no clocks: callers feed
//! bytes and time in, and take bytes, timers and events out.
//!
//! A transport edge (WebSocket per RFC 7118, UDP, TCP, TLS) gives each
//! connection a [`FlowId`], feeds every received message to
//! [`transaction::TransactionLayer::handle_input`] with `Input::Receive`,
//! calls `handle_timeout(now)` at `poll_timeout()`, and drains `poll_output()`:
//! `Output::Transmit` goes out on its flow, `Output::Event` goes to the TU.
//! Stream edges cut frames with [`stream::next_frame`] (over [`framed_len`]);
//! WebSocket and UDP hand over one message per frame/datagram. When a
//! connection closes, the edge sends `Input::TransportError` and calls
//! [`registrar::Registrar::remove_flow`].

pub mod dialog;
pub mod digest;
pub mod error;
pub mod flow;
pub mod header;
pub mod message;
pub mod method;
pub mod parse;
pub mod refer;
pub mod registrant;
pub mod registrar;
pub mod response;
pub mod stream;
mod text;
pub mod transaction;
pub mod uri;

pub use error::ParseError;
pub use flow::{FlowId, Peer};
pub use header::{Header, HeaderName, Headers};
pub use message::{reason_phrase, Message, Request, Response};
pub use method::Method;
pub use parse::{framed_len, parse, parse_stream};
pub use uri::{SipUri, Uri};
