//! Hold tone and RFC 4733 DTMF in both directions.

mod common;

use std::time::Duration;

use common::{assert_sequence_continuous, Call};
use switchboard_media::{LegId, MediaEvent, ToneLoop};

/// The digits the server reported, with the leg each came from.
fn digits(events: &[MediaEvent]) -> Vec<(LegId, char)> {
    events
        .iter()
        .filter_map(|e| match e {
            MediaEvent::Dtmf { leg, digit } => Some((*leg, *digit)),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn hold_replaces_forwarded_audio_with_the_hold_tone() {
    let mut call = Call::connect().await;
    let h = call.handle().clone();
    h.bridge(call.leg_a, call.leg_b).await.unwrap();
    call.talk(Duration::from_millis(200), true, true).await;
    let heard_before = call.b.payloads_from(b'A').len();
    assert!(heard_before > 0);

    // A puts B on hold: B hears the tone, and neither side hears the other.
    h.hold(call.leg_b, true).await.unwrap();
    call.talk(Duration::from_millis(60), true, true).await;
    let (a_mark, b_mark) = (call.a.received.len(), call.b.received.len());
    call.talk(Duration::from_millis(500), true, true).await;
    let tone = ToneLoop::hold();
    let to_b = &call.b.received[b_mark..];
    assert!(to_b.len() >= 20, "tone packets: {}", to_b.len());
    assert!(to_b.iter().all(|r| r.payload.first() != Some(&b'A')));
    let first = (0..tone.len())
        .find(|i| **tone.packet(*i) == to_b[0].payload[..])
        .expect("a hold tone packet");
    for (k, rx) in to_b.iter().enumerate() {
        assert_eq!(
            rx.payload[..],
            **tone.packet(first + k),
            "tone packets in order"
        );
    }
    let refs: Vec<_> = call.b.received.iter().collect();
    assert_sequence_continuous(&refs);
    assert_eq!(
        call.a.received.len(),
        a_mark,
        "the held party's audio is not forwarded"
    );

    h.hold(call.leg_b, false).await.unwrap();
    call.talk(Duration::from_millis(60), true, true).await;
    let b_mark = call.b.received.len();
    call.talk(Duration::from_millis(300), true, true).await;
    assert!(call.b.received[b_mark..]
        .iter()
        .all(|r| r.payload.first() == Some(&b'A')));
    assert!(
        call.b.received.len() - b_mark >= 10,
        "audio resumes after unhold"
    );
}

#[tokio::test]
async fn send_dtmf_delivers_rfc4733_events_in_step_with_the_audio() {
    let mut call = Call::connect().await;
    let h = call.handle().clone();
    h.bridge(call.leg_a, call.leg_b).await.unwrap();
    h.send_dtmf(call.leg_b, "1#").await.unwrap();
    call.talk(Duration::from_millis(800), true, false).await;

    let tele = call.b.tele_pt();
    let events: Vec<_> = call.b.received.iter().filter(|r| r.pt == tele).collect();
    assert!(
        events.len() >= 8,
        "telephone-event packets: {}",
        events.len()
    );
    let mut digits: Vec<(u8, u32)> = Vec::new();
    for e in &events {
        if digits.last().map(|d| d.1) != Some(e.rtp_time) {
            digits.push((e.payload[0], e.rtp_time));
        }
    }
    assert_eq!(
        digits.iter().map(|d| d.0).collect::<Vec<_>>(),
        vec![1, 11],
        "digits 1 then #"
    );
    assert!(
        events.iter().any(|e| e.payload[1] & 0x80 != 0),
        "end bit sent"
    );
    // One sequence-number space for forwarded audio and events.
    let all: Vec<_> = call.b.received.iter().collect();
    assert_sequence_continuous(&all);
}

#[tokio::test]
async fn dtmf_from_a_browser_is_reported_once_per_digit() {
    let mut call = Call::connect().await;
    call.handle().bridge(call.leg_a, call.leg_b).await.unwrap();
    call.a.send_dtmf(5, 48_000);
    call.a.send_dtmf(10, 96_000);
    call.talk(Duration::from_millis(200), false, false).await;
    assert_eq!(
        digits(&call.events),
        vec![(call.leg_a, '5'), (call.leg_a, '*')]
    );
    // Bridged: the far browser gets the events too.
    let tele = call.b.tele_pt();
    assert_eq!(call.b.received.iter().filter(|r| r.pt == tele).count(), 16);
}

#[tokio::test]
async fn digits_in_a_running_call_take_the_direct_path_in_step_with_the_audio() {
    let mut call = Call::connect().await;
    call.handle().bridge(call.leg_a, call.leg_b).await.unwrap();
    // Both browsers talk first: from then on the server seals B's packets itself.
    call.talk(Duration::from_millis(200), true, true).await;
    let before = call.handle().stats(call.leg_a).await.unwrap();
    call.a.send_dtmf(1, 480_000);
    call.talk(Duration::from_millis(200), true, true).await;
    let after = call.handle().stats(call.leg_a).await.unwrap();
    assert_eq!(digits(&call.events), vec![(call.leg_a, '1')]);
    let tele = call.b.tele_pt();
    assert_eq!(call.b.received.iter().filter(|r| r.pt == tele).count(), 8);
    // Audio and digits share B's one sequence-number space, without gaps.
    let all: Vec<_> = call.b.received.iter().collect();
    assert_sequence_continuous(&all);
    let (fwd, direct) = (
        after.forwarded - before.forwarded,
        after.forwarded_direct - before.forwarded_direct,
    );
    assert_eq!(
        fwd, direct,
        "every packet after the first audio went the direct way"
    );
    assert!(fwd >= 8 + 5, "digits and audio forwarded: {fwd}");
}
