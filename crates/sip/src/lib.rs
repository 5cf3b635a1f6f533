//! Sans-IO SIP core: message model and parser, transactions, dialogs, digest
//! authentication and registrar logic. No sockets, no clocks: callers feed
//! bytes and time in, and take bytes, timers and events out.

pub mod dialog;
pub mod digest;
pub mod error;
pub mod flow;
pub mod header;
pub mod message;
pub mod method;
pub mod parse;
pub mod registrar;
pub mod response;
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
