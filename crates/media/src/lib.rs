//! Switchboard's media engine: WebRTC legs terminated in the server (str0m, ICE/DTLS-SRTP, Opus
//! or G.711) and plain RTP legs for desk phones and trunks (RTP/AVP, PCMU/PCMA), bridged by
//! forwarding RTP (transcoding Opus↔G.711 only where the legs share no codec), with hold tone
//! and RFC 4733 DTMF.
//!
//! [`MediaCore`] is sans-IO (datagrams and time in; datagrams, events and deadlines out) and
//! [`MediaServer`] is its I/O edge: shards of one thread, one UDP socket (WebRTC) and one core
//! each, plus a port pair per RTP leg polled by the same thread, driven through
//! [`MediaHandle`]; a call's legs are placed on one shard, so forwarding stays on one thread
//! (bridges across shards are relayed).
//!
//! str0m runs each WebRTC leg (ICE, DTLS, RTCP, the tone and digits we generate); the packets
//! of a bridged call do not go through it. Once a leg's DTLS handshake has exported its SRTP
//! keys (AEAD-AES-GCM, what Chromium negotiates), the engine opens that leg's RTP itself and
//! seals each packet for the peer with the peer's keys, our SSRC and our sequence number
//! (`srtp`); the two share each leg's sequence space, so a browser sees one stream. RTP legs
//! (`plain`) latch to where the phone sends from and get one continuous stream of ours.
//!
//! A bridge relays payloads (µ-law↔A-law converted per byte, digits rescaled between 8 and
//! 48 kHz). A browser bridged to a phone should send G.711 (create or answer its leg with
//! [`Prefer::G711`]) so the bridge only relays; an Opus browser and a phone are bridged
//! through a transcoder (`transcode`: libopus at 8 kHz, see [`codec`]) in the direction that
//! needs it, held by the receiving leg so it survives transfers.
//!
//! A call engine drives it like this:
//! 1. INVITE with an offer → [`MediaHandle::create_answerer`] → answer SDP in the 200 OK (a
//!    phone's `RTP/AVP` offer makes an RTP leg, see [`sdp_kind`]; [`MediaError::NoCommonCodec`]
//!    is a 488);
//! 2. our INVITE → [`MediaHandle::create_offerer`] (a browser),
//!    [`MediaHandle::create_offerer_kind`] with [`LegKind::Rtp`] (a phone or trunk), or
//!    [`MediaHandle::create_offerer_preferring`] (a browser that will talk to a phone); its
//!    200 OK → [`MediaHandle::accept_answer`];
//! 3. on answer → [`MediaHandle::bridge`]; hold → [`MediaHandle::hold`] (tone to the held party)
//!    and [`MediaHandle::reoffer`] (re-INVITE with `sendonly`); a peer's re-INVITE →
//!    [`MediaHandle::accept_offer_on`] ([`sdp_is_hold`] tells a hold); DTMF →
//!    [`MediaHandle::send_dtmf`]; events ([`MediaEvent`]) report connection, incoming digits
//!    and the end of legs.

mod bridge;
pub mod codec;
mod core;
mod dtmf;
mod error;
pub mod g711;
mod plain;
mod record;
mod server;
mod sockets;
mod srtp;
mod tone;
mod transcode;

pub use crate::core::{
    dtmf_digit, dtmf_event, Datagram, LegId, LegStats, MediaConfig, MediaCore, MediaEvent,
    PayloadKind, Prefer, Relayed, Tap, TapPacket,
};
pub use crate::error::{MediaError, Result};
#[doc(hidden)]
pub use crate::plain::sdp::fuzz_remote_sdp;
pub use crate::plain::sdp::{sdp_is_hold, sdp_kind, LegKind};
pub use crate::record::{self_delimited, OggWriter, RecordControl, RecordDone, Recorder};
pub use crate::server::{MediaHandle, MediaServer, MediaServerConfig};
pub use crate::tone::ToneLoop;
/// Media direction of an m-line, for hold/unhold re-offers.
pub use str0m::media::Direction;
