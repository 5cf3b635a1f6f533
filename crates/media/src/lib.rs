//! Switchboard's media engine: WebRTC legs terminated in the server (str0m, ICE/DTLS-SRTP, Opus),
//! bridged by forwarding RTP without transcoding, with hold tone and RFC 4733 DTMF.
//!
//! [`MediaCore`] is sans-IO (datagrams and time in; datagrams, events and deadlines out) and
//! [`MediaServer`] is its I/O edge: shards of one thread, one UDP socket and one core each,
//! driven through [`MediaHandle`]; a call's legs are placed on one shard, so forwarding stays
//! on one thread (bridges across shards are relayed).
//!
//! str0m runs each leg (ICE, DTLS, RTCP, the tone and digits we generate); the packets of a
//! bridged call do not go through it. Once a leg's DTLS handshake has exported its SRTP keys
//! (AEAD-AES-GCM, what Chromium negotiates), the engine opens that leg's RTP itself and seals
//! each packet for the peer with the peer's keys, our SSRC and our sequence number (`srtp`);
//! the two share each leg's sequence space, so a browser sees one stream.
//!
//! A call engine drives it like this:
//! 1. browser INVITE with an offer → [`MediaHandle::create_answerer`] → answer SDP in the 200 OK;
//! 2. our INVITE to a browser → [`MediaHandle::create_offerer`], its 200 OK →
//!    [`MediaHandle::accept_answer`];
//! 3. on answer → [`MediaHandle::bridge`]; hold → [`MediaHandle::hold`] (tone to the held party)
//!    and [`MediaHandle::reoffer`] (re-INVITE with `sendonly`); DTMF → [`MediaHandle::send_dtmf`];
//!    events ([`MediaEvent`]) report connection, incoming digits and the end of legs.

mod core;
mod error;
mod record;
mod server;
mod srtp;
mod tone;

pub use crate::core::{
    dtmf_digit, dtmf_event, Datagram, LegId, LegStats, MediaConfig, MediaCore, MediaEvent,
    PayloadKind, Relayed, Tap, TapPacket,
};
pub use crate::error::{MediaError, Result};
pub use crate::record::{self_delimited, OggWriter, RecordControl, RecordDone, Recorder};
pub use crate::server::{MediaHandle, MediaServer, MediaServerConfig};
pub use crate::tone::ToneLoop;
/// Media direction of an m-line, for hold/unhold re-offers.
pub use str0m::media::Direction;
