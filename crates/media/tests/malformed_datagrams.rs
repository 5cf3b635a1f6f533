//! Junk on the media socket is dropped without harming live legs.

mod common;

use std::time::Duration;

use common::Call;
use tokio::net::UdpSocket;

#[tokio::test]
async fn malformed_datagrams_are_ignored() {
    let mut call = Call::connect().await;
    call.handle().bridge(call.leg_a, call.leg_b).await.unwrap();
    let junk = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let target = call.server.local_addrs[call.handle().shard_of(call.leg_a)];
    let samples: Vec<Vec<u8>> = vec![
        vec![],
        vec![0x80],
        vec![0x80, 0x6f, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1], // RTP header only, unknown SSRC
        vec![0x81, 0xc8, 0, 1],                         // truncated RTCP
        vec![22, 254, 253, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 1, 2], // DTLS record, no handshake
        vec![0, 1, 0, 8, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3], // truncated STUN
        // RTP-shaped: an extension longer than the datagram, 15 CSRCs missing, and a forged
        // Opus packet whose SRTP tag cannot verify (the direct forwarding path parses these).
        vec![
            0x90, 0x6f, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde, 0xff, 0xff,
        ],
        vec![0x8f, 0x6f, 0, 3, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0],
        [0x80, 0x6f, 0, 4]
            .into_iter()
            .chain((0..96).map(|i| i as u8))
            .collect(),
        (0..1500).map(|i| (i * 7) as u8).collect(),
        vec![0xff; 64],
    ];
    for s in &samples {
        junk.send_to(s, target).await.unwrap();
    }
    // The same junk from a leg's own address (what a broken browser would send).
    let before = call.a.received.len();
    call.talk(Duration::from_millis(100), false, false).await;
    for s in &samples {
        let _ = call.a.socket_send(s, target).await;
    }
    call.talk(Duration::from_millis(400), true, true).await;
    assert!(call.a.received.len() > before + 10, "media still flows");
    assert!(call.b.payloads_from(b'A').len() >= 10);
    assert!(
        call.b
            .received
            .iter()
            .all(|r| r.payload.first() == Some(&b'A')),
        "nothing forged reached B"
    );
}
