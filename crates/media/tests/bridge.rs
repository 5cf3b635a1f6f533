//! Forwarding between two bridged browser legs.

mod common;

use std::time::Duration;

use common::{assert_sequence_continuous, Call, PAYLOAD_LEN};

const TALK: Duration = Duration::from_millis(600);

#[tokio::test]
async fn bridged_legs_receive_each_others_audio_unchanged_with_rewritten_ssrc() {
    let mut call = Call::connect().await;
    call.handle().bridge(call.leg_a, call.leg_b).await.unwrap();
    call.talk(TALK, true, true).await;
    // Let the last packets land.
    call.talk(Duration::from_millis(100), false, false).await;

    for (sender, receiver) in [(&call.a, &call.b), (&call.b, &call.a)] {
        let got = receiver.payloads_from(sender.tag);
        assert!(sender.sent >= 20, "sent only {}", sender.sent);
        assert_eq!(got.len() as u32, sender.sent, "every packet forwarded");
        for (i, rx) in got.iter().enumerate() {
            assert_eq!(rx.payload.len(), PAYLOAD_LEN);
            assert_eq!(
                rx.payload[1..5],
                (i as u32).to_be_bytes(),
                "payload order and content"
            );
            assert_eq!(rx.rtp_time, 960 * i as u32, "timestamps pass through");
            assert_eq!(rx.marker, i == 0, "the marker passes through");
            assert_eq!(
                rx.audio_level,
                Some(-((i % 100) as i8)),
                "the audio level passes through"
            );
        }
        assert_sequence_continuous(&got);
        // The server's own stream toward the receiver, not the sender's.
        let sender_ssrc = sender.tx_ssrc;
        assert!(got.iter().all(|r| r.ssrc == got[0].ssrc));
        assert_ne!(got[0].ssrc, sender_ssrc);
    }
    let stats = call.handle().stats(call.leg_a).await.unwrap();
    assert_eq!(stats.forwarded as u32, call.a.sent);
    assert_eq!(stats.lost_in, 0);
    // Once both peers' media has been seen, packets skip str0m (our own SRTP does the work).
    assert!(
        stats.forwarded_direct * 10 >= stats.forwarded * 8,
        "direct path: {} of {}",
        stats.forwarded_direct,
        stats.forwarded
    );
}

#[tokio::test]
async fn unbridged_legs_receive_nothing() {
    let mut call = Call::connect().await;
    call.talk(Duration::from_millis(300), true, true).await;
    assert!(call.a.sent > 5 && call.b.sent > 5);
    assert!(call.a.received.is_empty());
    assert!(call.b.received.is_empty());

    // Bridged, then unbridged again: forwarding stops.
    call.handle().bridge(call.leg_a, call.leg_b).await.unwrap();
    call.talk(Duration::from_millis(200), true, true).await;
    call.handle().unbridge(call.leg_b).await.unwrap();
    call.talk(Duration::from_millis(60), false, false).await;
    let before = (call.a.received.len(), call.b.received.len());
    assert!(before.0 > 0 && before.1 > 0);
    call.talk(Duration::from_millis(300), true, true).await;
    assert_eq!((call.a.received.len(), call.b.received.len()), before);
}

#[tokio::test]
async fn mute_stops_only_the_muted_partys_audio() {
    let mut call = Call::connect().await;
    call.handle().bridge(call.leg_a, call.leg_b).await.unwrap();
    call.handle().mute(call.leg_a, true).await.unwrap();
    call.talk(TALK, true, true).await;
    call.talk(Duration::from_millis(60), false, false).await;
    assert!(call.b.payloads_from(b'A').is_empty(), "A is muted");
    assert_eq!(call.a.payloads_from(b'B').len() as u32, call.b.sent);

    call.handle().mute(call.leg_a, false).await.unwrap();
    call.talk(Duration::from_millis(300), true, false).await;
    assert!(
        call.b.payloads_from(b'A').len() >= 10,
        "unmuted audio flows"
    );
}
