//! A browser (WebRTC, str0m peer) bridged to a desk phone (plain RTP): with G.711 on the
//! browser leg the bridge relays SRTP↔RTP; with Opus it goes through a transcoder (see
//! `transcoding.rs` for what comes out of it).

mod common;

use std::time::Duration;

use common::phone::{frame, tele};
use common::{browser_and_phone, two_shards, Client};
use switchboard_media::{MediaEvent, Prefer};

const EVERY: Duration = Duration::from_millis(20);

fn durations(packets: &[&common::Rx]) -> Vec<u16> {
    packets
        .iter()
        .map(|r| u16::from_be_bytes([r.payload[2], r.payload[3]]))
        .collect()
}

#[tokio::test]
async fn a_g711_browser_and_a_phone_are_bridged_by_relaying_the_payloads() {
    let mut server = two_shards().await;
    let w = Client::new_g711(b'W').await;
    let (mut w, mut p, leg_w, leg_p) = browser_and_phone(&mut server, w, Prefer::G711).await;
    server.handle.bridge(leg_w, leg_p).await.unwrap();
    tokio::join!(
        w.pump(Duration::from_millis(500), Some(EVERY)),
        p.talk(0, 25, |i| frame(b'P', i))
    );
    tokio::join!(
        w.pump(Duration::from_millis(100), None),
        p.listen(Duration::from_millis(100))
    );

    // Browser → phone: the browser's PCMU, unchanged, in the server's plain RTP stream.
    let heard = p.audio(0);
    assert!(
        w.sent >= 20 && heard.len() as u32 == w.sent,
        "{} of {}",
        heard.len(),
        w.sent
    );
    for (i, pk) in heard.iter().enumerate() {
        assert_eq!(pk.payload.len(), 160);
        assert_eq!(pk.payload[0], b'W');
        assert_eq!(pk.payload[1..5], (i as u32).to_be_bytes());
    }
    assert!(heard
        .iter()
        .all(|pk| pk.ssrc == heard[0].ssrc && pk.ssrc != w.tx_ssrc));
    // Phone → browser: the phone's frames, as PCMU over SRTP.
    let got = w.payloads_from(b'P');
    assert_eq!(got.len(), 25);
    for (i, rx) in got.iter().enumerate() {
        assert_eq!(rx.pt, 0);
        assert_eq!(rx.payload, frame(b'P', i));
    }
    common::assert_sequence_continuous(&got);
    let stats = server.handle.stats(leg_w).await.unwrap();
    assert_eq!(
        stats.forwarded as u32, w.sent,
        "all relayed, none transcoded"
    );
}

#[tokio::test]
async fn our_g711_answer_to_a_browser_lists_pcmu_first_and_opus_last() {
    let server = two_shards().await;
    let mut w = Client::new_g711(b'W').await;
    let offer = w.offer();
    assert!(
        offer.contains(" 111 0 8 110"),
        "the browser offers Opus first:\n{offer}"
    );
    let (_, answer) = server
        .handle
        .create_answerer_preferring(offer.clone(), None, Prefer::G711)
        .await
        .unwrap();
    let m = answer.lines().find(|l| l.starts_with("m=audio")).unwrap();
    assert!(m.ends_with("SAVPF 0 8 111 110"), "{m}");
    // Without the preference the answer keeps Opus first.
    let (_, answer) = server.handle.create_answerer(offer, None).await.unwrap();
    let m = answer.lines().find(|l| l.starts_with("m=audio")).unwrap();
    assert!(m.ends_with("SAVPF 111 0 8 110"), "{m}");
    // Our own offers carry PCMU and PCMA besides Opus (RFC 7874), in the preferred order.
    let (_, offer) = server.handle.create_offerer(None).await.unwrap();
    assert!(offer.contains("SAVPF 111 0 8 110 126"), "{offer}");
    let (_, offer) = server
        .handle
        .create_offerer_preferring(None, Prefer::G711)
        .await
        .unwrap();
    assert!(offer.contains("SAVPF 0 8 111 110 126"), "{offer}");
}

#[tokio::test]
async fn an_opus_browser_and_a_phone_are_bridged_through_a_transcoder() {
    for (w, prefer) in [
        (Client::new(b'O').await, Prefer::G711),
        // It has G.711 but was answered Opus first: it sends Opus.
        (Client::new_g711(b'O').await, Prefer::Opus),
    ] {
        let mut server = two_shards().await;
        let (_, _, leg_w, leg_p) = browser_and_phone(&mut server, w, prefer).await;
        server.handle.bridge(leg_w, leg_p).await.unwrap();
        assert_eq!(
            server
                .handle
                .call(leg_p, move |c, _| c.peer(leg_p))
                .await
                .unwrap(),
            Some(leg_w),
            "no longer refused with NeedsTranscoding"
        );
    }
}

#[tokio::test]
async fn digits_cross_between_the_phones_8khz_and_the_browsers_48khz_clock() {
    let mut server = two_shards().await;
    let w = Client::new_g711(b'W').await;
    let (mut w, mut p, leg_w, leg_p) = browser_and_phone(&mut server, w, Prefer::G711).await;
    server.handle.bridge(leg_w, leg_p).await.unwrap();
    p.talk(0, 2, |i| frame(b'P', i)).await;
    p.send_digit(9, 101).await;
    w.send_dtmf(4, 48_000);
    tokio::join!(
        w.pump(Duration::from_millis(200), None),
        p.listen(Duration::from_millis(200))
    );

    // Phone → browser: durations ×6 at the browser's telephone-event payload type.
    let tele_pt = w.tele_pt();
    let to_w: Vec<_> = w.received.iter().filter(|r| r.pt == tele_pt).collect();
    assert_eq!(to_w.len(), 8);
    assert!(to_w.iter().all(|r| r.payload[0] == 9));
    assert_eq!(
        durations(&to_w),
        [960, 1920, 2880, 3840, 4800, 4800, 4800, 4800]
    );
    // Browser → phone: durations ÷6 at the phone's payload type.
    let to_p = p.audio(101);
    assert_eq!(to_p.len(), 8);
    assert!(to_p
        .iter()
        .all(|pk| pk.payload[0] == 4 && pk.ts == to_p[0].ts));
    let d: Vec<u16> = to_p
        .iter()
        .map(|pk| u16::from_be_bytes([pk.payload[2], pk.payload[3]]))
        .collect();
    assert_eq!(d, [160, 320, 480, 640, 800, 800, 800, 800]);
    assert_eq!(to_p[7].payload, tele(4, true, 800));

    let mut digits = Vec::new();
    while let Ok(e) = server.events.try_recv() {
        if let MediaEvent::Dtmf { leg, digit } = e {
            digits.push((leg, digit));
        }
    }
    digits.sort();
    let mut want = vec![(leg_w, '4'), (leg_p, '9')];
    want.sort();
    assert_eq!(digits, want, "each digit reported once");
}

#[tokio::test]
async fn the_hold_tone_to_a_g711_browser_is_g711() {
    let mut server = two_shards().await;
    let w = Client::new_g711(b'W').await;
    let (mut w, _p, leg_w, leg_p) = browser_and_phone(&mut server, w, Prefer::G711).await;
    server.handle.bridge(leg_w, leg_p).await.unwrap();
    server.handle.hold(leg_w, true).await.unwrap();
    w.pump(Duration::from_millis(300), None).await;
    let tone: Vec<_> = w.received.iter().filter(|r| r.pt == 0).collect();
    assert!(tone.len() >= 10, "tone packets: {}", tone.len());
    assert!(tone.iter().all(|r| r.payload.len() == 160));
    for t in tone.windows(2) {
        assert_eq!(
            t[1].rtp_time,
            t[0].rtp_time.wrapping_add(160),
            "8 kHz timeline"
        );
    }
}
