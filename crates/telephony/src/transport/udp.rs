//! SIP over UDP: one task reads the socket; the socket is one flow and each datagram carries its
//! source, which the transaction layer stamps into Via (`received`, `rport`) and answers to.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use tokio::net::UdpSocket;

use super::{is_keepalive, Link, Sink, Transport, MAX_MESSAGE};
use crate::runtime::Command;
use crate::Telephony;

/// Feeds every datagram of `socket` to the runtime until the runtime stops.
pub(crate) async fn serve(t: Telephony, socket: Arc<UdpSocket>) {
    let flow = t.new_flow();
    let link = Link {
        transport: Transport::Udp,
        peer: String::new(),
        local: socket.local_addr().ok(),
        sink: Sink::Datagram(socket.clone()),
    };
    if !t.send(Command::Open { flow, link }).await {
        return;
    }
    let mut buf = vec![0u8; MAX_MESSAGE];
    loop {
        let (n, from): (usize, SocketAddr) = match socket.recv_from(&mut buf).await {
            Ok(r) => r,
            // ICMP port unreachable for an earlier send surfaces here on Linux: not fatal.
            Err(e) => {
                tracing::debug!("sip udp receive: {e}");
                continue;
            }
        };
        let data = &buf[..n];
        // RFC 5626 §4.4.1 keep-alives some phones send as bare CRLFs: no answer is expected.
        if is_keepalive(data) {
            continue;
        }
        let cmd = Command::Receive {
            flow,
            from: Some(from),
            bytes: Bytes::copy_from_slice(data),
        };
        if !t.send(cmd).await {
            return;
        }
    }
}
