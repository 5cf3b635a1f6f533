//! Desk phones on plain RTP/AVP with G.711: two phones bridged through the server, each on a
//! port pair of its own. The phones are UDP sockets speaking RTP framed in the test.

mod common;

use std::time::Duration;

use common::phone::{frame, parse, Phone};
use common::two_shards;
use switchboard_media::{
    g711, Direction, LegId, LegKind, MediaError, MediaEvent, MediaHandle, MediaServer,
};
use tokio::net::UdpSocket;

const SENDRECV: &str = "a=sendrecv\r\n";

/// Phone `a` calls in offering `a_pts`; the server calls phone `b`, which answers `b_pts`.
async fn call(server: &MediaServer, a_pts: &[u8], b_pts: &[u8]) -> (Phone, Phone, LegId, LegId) {
    let h = &server.handle;
    let mut a = Phone::new(0xa0a0).await;
    let (leg_a, answer) = h
        .create_answerer(a.sdp(a_pts, SENDRECV), None)
        .await
        .unwrap();
    a.learn(&answer);
    let mut b = Phone::new(0xb0b0).await;
    let (leg_b, offer) = h
        .create_offerer_kind(Some(leg_a), LegKind::Rtp)
        .await
        .unwrap();
    b.learn(&offer);
    h.accept_answer(leg_b, b.sdp(b_pts, SENDRECV))
        .await
        .unwrap();
    h.bridge(leg_a, leg_b).await.unwrap();
    (a, b, leg_a, leg_b)
}

fn digits(server: &mut MediaServer) -> Vec<(LegId, char)> {
    let mut out = Vec::new();
    while let Ok(e) = server.events.try_recv() {
        if let MediaEvent::Dtmf { leg, digit } = e {
            out.push((leg, digit));
        }
    }
    out
}

fn check_own_stream(got: &[&common::phone::Packet], sender_ssrc: u32) {
    assert!(got.iter().all(|p| p.ssrc == got[0].ssrc), "one stream");
    assert_ne!(
        got[0].ssrc, sender_ssrc,
        "the server's SSRC, not the sender's"
    );
    for w in got.windows(2) {
        assert_eq!(w[1].seq, w[0].seq.wrapping_add(1), "sequence continues");
        assert_eq!(w[1].ts, w[0].ts.wrapping_add(160), "20 ms per packet");
    }
}

#[tokio::test]
async fn two_phones_hear_each_other_unchanged_in_the_servers_own_streams() {
    let server = two_shards().await;
    let (mut a, mut b, leg_a, _) = call(&server, &[0, 8, 101], &[0, 101]).await;
    tokio::join!(
        a.talk(0, 25, |i| frame(b'A', i)),
        b.talk(0, 25, |i| frame(b'B', i))
    );
    tokio::join!(
        a.listen(Duration::from_millis(100)),
        b.listen(Duration::from_millis(100))
    );
    for (sender, receiver, tag) in [(&a, &b, b'A'), (&b, &a, b'B')] {
        let got = receiver.audio(0);
        assert_eq!(got.len(), 25, "every packet forwarded");
        for (i, p) in got.iter().enumerate() {
            assert_eq!(p.payload, frame(tag, i), "payload passes through");
            assert_eq!(
                p.marker,
                i == 0,
                "marker only on the talkspurt's first packet"
            );
        }
        check_own_stream(&got, sender.ssrc);
    }
    let stats = server.handle.stats(leg_a).await.unwrap();
    assert_eq!((stats.rtp_in, stats.forwarded, stats.lost_in), (25, 25, 0));
}

#[tokio::test]
async fn media_goes_to_the_sdp_address_until_the_phone_sends_then_latches_to_its_source() {
    let server = two_shards().await;
    let h = &server.handle;
    // Phone A's SDP names an address it does not send from (as behind a NAT).
    let decoy = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut a = Phone::new(0xa0a0).await;
    let offer = a.sdp_at(decoy.local_addr().unwrap(), &[0, 101], SENDRECV);
    let (leg_a, answer) = h.create_answerer(offer, None).await.unwrap();
    a.learn(&answer);
    let mut b = Phone::new(0xb0b0).await;
    let (leg_b, offer) = h
        .create_offerer_kind(Some(leg_a), LegKind::Rtp)
        .await
        .unwrap();
    b.learn(&offer);
    h.accept_answer(leg_b, b.sdp(&[0, 101], SENDRECV))
        .await
        .unwrap();
    h.bridge(leg_a, leg_b).await.unwrap();

    b.talk(0, 5, |i| frame(b'B', i)).await;
    let mut buf = [0u8; 512];
    for i in 0..5 {
        let (n, _) = tokio::time::timeout(Duration::from_secs(1), decoy.recv_from(&mut buf))
            .await
            .expect("B's audio reaches the SDP address first")
            .unwrap();
        assert_eq!(parse(&buf[..n]).unwrap().payload, frame(b'B', i));
    }
    // A's first packet latches the server to where A really sends from.
    a.talk(0, 1, |i| frame(b'A', i)).await;
    b.talk(0, 5, |i| frame(b'B', i + 5)).await;
    a.listen(Duration::from_millis(100)).await;
    let got: Vec<_> = a
        .audio(0)
        .iter()
        .map(|p| p.payload[1..5].to_vec())
        .collect();
    assert_eq!(got.len(), 5, "after latching, B reaches A's real address");
    assert_eq!(got[0], 5u32.to_be_bytes());
    assert!(
        tokio::time::timeout(Duration::from_millis(100), decoy.recv_from(&mut buf))
            .await
            .is_err(),
        "nothing more to the SDP address"
    );

    // Once latched, another source on A's port is ignored and counted.
    let intruder = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for i in 0..5u16 {
        let p = common::phone::rtp(
            0,
            false,
            i,
            160 * i as u32,
            0x1111,
            &frame(b'X', i as usize),
        );
        intruder.send_to(&p, a.server.unwrap()).await.unwrap();
    }
    b.listen(Duration::from_millis(150)).await;
    assert!(
        b.audio(0).iter().all(|p| p.payload[0] == b'A'),
        "nothing of the intruder"
    );
    let stats = h.stats(leg_a).await.unwrap();
    assert_eq!(stats.rtp_ignored, 5);
    assert_eq!(stats.rtp_in, 1);
}

#[tokio::test]
async fn a_pcmu_phone_and_a_pcma_phone_hear_each_other_converted_per_sample() {
    let server = two_shards().await;
    let (mut a, mut b, _, _) = call(&server, &[0, 101], &[8, 101]).await;
    let ulaw = |i: usize| {
        (0..160)
            .map(|j| (i * 31 + j * 7) as u8)
            .collect::<Vec<u8>>()
    };
    let alaw = |i: usize| {
        (0..160)
            .map(|j| (i * 17 + j * 5) as u8)
            .collect::<Vec<u8>>()
    };
    tokio::join!(a.talk(0, 10, ulaw), b.talk(8, 10, alaw));
    tokio::join!(
        a.listen(Duration::from_millis(100)),
        b.listen(Duration::from_millis(100))
    );
    let to_b = b.audio(8);
    assert_eq!(to_b.len(), 10, "B hears A as PCMA");
    for (i, p) in to_b.iter().enumerate() {
        let want: Vec<u8> = ulaw(i).into_iter().map(g711::ulaw_to_alaw).collect();
        assert_eq!(p.payload, want);
    }
    let to_a = a.audio(0);
    assert_eq!(to_a.len(), 10, "A hears B as PCMU");
    for (i, p) in to_a.iter().enumerate() {
        let want: Vec<u8> = alaw(i).into_iter().map(g711::alaw_to_ulaw).collect();
        assert_eq!(p.payload, want);
    }
    assert!(b.audio(0).is_empty() && a.audio(8).is_empty());
}

#[tokio::test]
async fn offers_and_answers_without_g711_are_refused_with_no_common_codec() {
    let server = two_shards().await;
    let h = &server.handle;
    let phone = Phone::new(1).await;
    let r = h.create_answerer(phone.sdp(&[9, 18], SENDRECV), None).await;
    assert!(matches!(r, Err(MediaError::NoCommonCodec)), "{r:?}");
    let (leg, _) = h.create_offerer_kind(None, LegKind::Rtp).await.unwrap();
    let r = h.accept_answer(leg, phone.sdp(&[18], SENDRECV)).await;
    assert!(matches!(r, Err(MediaError::NoCommonCodec)), "{r:?}");
    // A refused offer costs nothing: the next one gets a leg.
    assert!(h
        .create_answerer(phone.sdp(&[8], SENDRECV), None)
        .await
        .is_ok());
}

#[tokio::test]
async fn our_sdp_toward_phones_is_lean() {
    let server = two_shards().await;
    let h = &server.handle;
    let (_, offer) = h.create_offerer_kind(None, LegKind::Rtp).await.unwrap();
    let phone = Phone::new(1).await;
    let (_, answer) = h
        .create_answerer(phone.sdp(&[8, 0, 101], SENDRECV), None)
        .await
        .unwrap();
    for sdp in [&offer, &answer] {
        assert!(sdp.len() < 400, "{} bytes:\n{sdp}", sdp.len());
        for absent in [
            "a=ice",
            "a=fingerprint",
            "a=ssrc",
            "a=candidate",
            "a=setup",
            "a=mid",
        ] {
            assert!(!sdp.contains(absent), "{absent} in\n{sdp}");
        }
        for present in [
            "c=IN IP4 127.0.0.1",
            "a=fmtp:101 0-15",
            "a=ptime:20",
            "a=sendrecv",
        ] {
            assert!(sdp.contains(present), "{present} missing in\n{sdp}");
        }
        let port = common::phone::sdp_addr(sdp).port();
        assert_eq!(port % 2, 0, "RTP on an even port");
    }
    assert!(offer.contains(" RTP/AVP 0 8 101\r\n"), "{offer}");
    // The answer takes the first of the offer's codecs we support.
    assert!(answer.contains(" RTP/AVP 8 101\r\n"), "{answer}");
    assert!(answer.contains("a=rtpmap:8 PCMA/8000") && !answer.contains("PCMU"));
    // An offer without telephone-event gets an answer without it.
    let (_, answer) = h
        .create_answerer(phone.sdp(&[0], SENDRECV), None)
        .await
        .unwrap();
    assert!(
        answer.contains(" RTP/AVP 0\r\n") && !answer.contains("telephone-event"),
        "{answer}"
    );
}

#[tokio::test]
async fn a_phones_digits_are_reported_once_each_and_reach_the_other_phone() {
    let mut server = two_shards().await;
    let (mut a, mut b, leg_a, _) = call(&server, &[0, 96], &[0, 101]).await;
    a.talk(0, 2, |i| frame(b'A', i)).await;
    a.send_digit(5, 96).await;
    a.send_digit(11, 96).await;
    b.listen(Duration::from_millis(200)).await;
    assert_eq!(digits(&mut server), vec![(leg_a, '5'), (leg_a, '#')]);
    let events = b.audio(101);
    assert_eq!(
        events.len(),
        16,
        "every report relayed, at B's payload type"
    );
    assert!(events[..8]
        .iter()
        .all(|p| p.ts == events[0].ts && p.payload[0] == 5));
    assert!(events[8..]
        .iter()
        .all(|p| p.ts == events[8].ts && p.payload[0] == 11));
    assert!(events[0].marker && events[8].marker && !events[1].marker);
    assert_eq!(
        events[7].payload,
        common::phone::tele(5, true, 800),
        "8 kHz unchanged"
    );
    // Audio and digits are one stream toward B.
    let all: Vec<_> = b.received.iter().collect();
    for w in all.windows(2) {
        assert_eq!(w[1].seq, w[0].seq.wrapping_add(1));
    }
}

#[tokio::test]
async fn digits_sent_to_a_phone_are_8khz_telephone_events() {
    let server = two_shards().await;
    let (_, mut b, _, leg_b) = call(&server, &[0, 101], &[0, 101]).await;
    server.handle.send_dtmf(leg_b, "1").await.unwrap();
    b.listen(Duration::from_millis(400)).await;
    let events = b.audio(101);
    assert_eq!(
        events.len(),
        7,
        "five reports, the last of them the first of three ends"
    );
    let durations: Vec<u16> = events
        .iter()
        .map(|p| u16::from_be_bytes([p.payload[2], p.payload[3]]))
        .collect();
    assert_eq!(
        durations,
        [160, 320, 480, 640, 800, 800, 800],
        "8 kHz units"
    );
    assert!(events
        .iter()
        .all(|p| p.payload[0] == 1 && p.ts == events[0].ts));
    assert_eq!(
        events.iter().filter(|p| p.payload[1] & 0x80 != 0).count(),
        3
    );
    assert!(events[0].marker);
}

/// Loudest decoded sample of a µ-law payload.
fn level(p: &[u8]) -> i32 {
    p.iter()
        .map(|&c| (g711::decode_ulaw(c) as i32).abs())
        .max()
        .unwrap_or(0)
}

#[tokio::test]
async fn hold_by_sendonly_or_null_address_stops_forwarding_and_the_held_phone_hears_the_tone() {
    let server = two_shards().await;
    let h: &MediaHandle = &server.handle;
    let (mut a, mut b, leg_a, leg_b) = call(&server, &[0, 101], &[0, 101]).await;
    a.talk(0, 1, |i| frame(b'A', i)).await;

    // Phone A holds B: its re-INVITE says sendonly; the call engine plays the tone to B.
    let answer = h
        .accept_offer_on(leg_a, a.sdp(&[0, 101], "a=sendonly\r\n"))
        .await
        .unwrap();
    assert!(answer.contains("a=recvonly"), "{answer}");
    h.hold(leg_b, true).await.unwrap();
    tokio::join!(
        a.listen(Duration::from_millis(50)),
        b.listen(Duration::from_millis(50))
    );
    let (a_mark, b_mark) = (a.received.len(), b.received.len());
    tokio::join!(
        a.talk(0, 25, |i| frame(b'A', i)),
        b.talk(0, 25, |i| frame(b'B', i))
    );
    b.listen(Duration::from_millis(60)).await;
    assert_eq!(
        a.received.len(),
        a_mark,
        "nothing is sent to the holding phone"
    );
    let tone: Vec<_> = b.received[b_mark..].iter().filter(|p| p.pt == 0).collect();
    assert!(tone.len() >= 20, "tone packets: {}", tone.len());
    assert!(tone
        .iter()
        .all(|p| p.payload.len() == 160 && p.payload[0] != b'A'));
    let loud = tone.iter().filter(|p| level(&p.payload) > 2000).count();
    assert!(loud >= 15, "the 425 Hz burst is heard: {loud}");
    for w in tone.windows(2) {
        assert_eq!(
            w[1].ts,
            w[0].ts.wrapping_add(160),
            "the tone is one timeline"
        );
    }

    // The legacy hold (RFC 2543): c=0.0.0.0 with sendrecv. Still nothing goes to A.
    let null = format!("0.0.0.0:{}", a.addr.port()).parse().unwrap();
    let answer = h
        .accept_offer_on(leg_a, a.sdp_at(null, &[0, 101], SENDRECV))
        .await
        .unwrap();
    assert!(answer.contains("a=sendrecv"));
    h.hold(leg_b, false).await.unwrap();
    let a_mark = a.received.len();
    tokio::join!(
        a.talk(0, 10, |i| frame(b'A', i)),
        b.talk(0, 10, |i| frame(b'B', i))
    );
    assert_eq!(a.received.len(), a_mark, "nothing is sent to 0.0.0.0");

    // A resumes with its real address: audio flows both ways again, B's stream continuing.
    let b_mark = b.received.len();
    h.accept_offer_on(leg_a, a.sdp(&[0, 101], SENDRECV))
        .await
        .unwrap();
    tokio::join!(
        a.talk(0, 10, |i| frame(b'A', i)),
        b.talk(0, 10, |i| frame(b'B', i))
    );
    tokio::join!(
        a.listen(Duration::from_millis(60)),
        b.listen(Duration::from_millis(60))
    );
    assert!(a.audio(0).iter().filter(|p| p.payload[0] == b'B').count() >= 8);
    let resumed: Vec<_> = b.received[b_mark..].iter().collect();
    assert!(resumed.iter().filter(|p| p.payload[0] == b'A').count() >= 8);
    let before = &b.received[b_mark - 1];
    assert!(
        resumed[0].ts.wrapping_sub(before.ts) < 8000 * 10,
        "the timeline moves on, it does not jump back"
    );
    assert!(resumed[0].marker, "a new talkspurt");
}

#[tokio::test]
async fn our_hold_reoffer_to_a_phone_says_sendonly() {
    let server = two_shards().await;
    let h = &server.handle;
    let (_, b, _, leg_b) = call(&server, &[0, 101], &[0, 101]).await;
    let offer = h.reoffer(leg_b, Direction::SendOnly).await.unwrap();
    assert!(
        offer.contains("a=sendonly") && offer.contains(" RTP/AVP 0 101\r\n"),
        "{offer}"
    );
    assert!(
        offer
            .lines()
            .any(|l| l.starts_with("o=- ") && l.contains(" 2 IN IP4")),
        "{offer}"
    );
    h.accept_answer(leg_b, b.sdp(&[0, 101], "a=recvonly\r\n"))
        .await
        .unwrap();
    let dir = h.call(leg_b, move |c, _| c.direction(leg_b)).await.unwrap();
    assert_eq!(dir, Some(Direction::SendOnly));
    // A re-INVITE without SDP gets an offer even when nothing changed.
    let again = h.reoffer(leg_b, Direction::SendOnly).await.unwrap();
    assert!(again.contains(" 3 IN IP4"), "{again}");
}

#[tokio::test]
async fn closing_a_phone_leg_frees_its_ports() {
    let mut server = two_shards().await;
    let (_, mut b, leg_a, leg_b) = call(&server, &[0, 101], &[0, 101]).await;
    let port = b.server.unwrap().port();
    server.handle.close(leg_b).await.unwrap();
    b.listen(Duration::from_millis(50)).await;
    assert!(!b.rtcp_received.is_empty(), "an RTCP BYE");
    assert_eq!(b.rtcp_received.last().unwrap()[1], 203);
    let mut closed = false;
    while let Ok(e) = server.events.try_recv() {
        closed |= e == MediaEvent::Closed { leg: leg_b };
    }
    assert!(closed);
    assert_eq!(
        server
            .handle
            .call(leg_a, move |c, _| c.peer(leg_a))
            .await
            .unwrap(),
        None
    );
    // The pair is closed: it can be bound again.
    let again = std::net::UdpSocket::bind(("127.0.0.1", port));
    assert!(again.is_ok(), "port {port} still bound");
}

#[tokio::test]
async fn a_transfer_continues_the_phones_stream_without_jumping_back() {
    let server = two_shards().await;
    let h = &server.handle;
    let (mut a, mut b, leg_a, _) = call(&server, &[0, 101], &[0, 101]).await;
    b.talk(0, 10, |i| frame(b'B', i)).await;
    a.listen(Duration::from_millis(50)).await;

    // A is transferred to C, whose timestamps start far below B's.
    let mut c = Phone::new(0xc0c0).await;
    c.ts = 5;
    let (leg_c, offer) = h
        .create_offerer_kind(Some(leg_a), LegKind::Rtp)
        .await
        .unwrap();
    c.learn(&offer);
    h.accept_answer(leg_c, c.sdp(&[0, 101], SENDRECV))
        .await
        .unwrap();
    h.bridge(leg_a, leg_c).await.unwrap();
    c.talk(0, 10, |i| frame(b'C', i)).await;
    b.talk(0, 5, |i| frame(b'B', i + 10)).await;
    a.listen(Duration::from_millis(60)).await;

    let got = a.audio(0);
    assert_eq!(got.len(), 20, "B's ten, then C's ten; B is no longer heard");
    assert!(got[10..].iter().all(|p| p.payload[0] == b'C'));
    assert!(
        got.iter().all(|p| p.ssrc == got[0].ssrc),
        "one stream across the transfer"
    );
    for w in got.windows(2) {
        assert_eq!(w[1].seq, w[0].seq.wrapping_add(1));
    }
    let step = got[10].ts.wrapping_sub(got[9].ts);
    assert!(
        (160..8000 * 2).contains(&step),
        "forward by the time elapsed: {step}"
    );
    assert!(got[10].marker, "C starts a new talkspurt");
    for w in got[10..].windows(2) {
        assert_eq!(w[1].ts.wrapping_sub(w[0].ts), 160, "then C's own spacing");
    }
}

#[tokio::test]
async fn phones_on_different_shards_are_bridged_through_the_relay() {
    let server = two_shards().await;
    let h = &server.handle;
    let mut a = Phone::new(0xa0a0).await;
    let (leg_a, answer) = h
        .create_answerer(a.sdp(&[0, 101], SENDRECV), None)
        .await
        .unwrap();
    a.learn(&answer);
    let mut b = Phone::new(0xb0b0).await;
    let (leg_b, offer) = h.create_offerer_kind(None, LegKind::Rtp).await.unwrap();
    assert_ne!(h.shard_of(leg_a), h.shard_of(leg_b), "placed by load");
    b.learn(&offer);
    h.accept_answer(leg_b, b.sdp(&[8, 101], SENDRECV))
        .await
        .unwrap();
    h.bridge(leg_a, leg_b).await.unwrap();
    tokio::join!(
        a.talk(0, 10, |i| frame(b'A', i)),
        b.talk(8, 10, |i| frame(b'B', i))
    );
    tokio::join!(
        a.listen(Duration::from_millis(100)),
        b.listen(Duration::from_millis(100))
    );
    assert_eq!(a.audio(0).len(), 10);
    assert_eq!(b.audio(8).len(), 10);
}

#[tokio::test]
async fn mute_and_unbridge_work_on_phone_legs() {
    let server = two_shards().await;
    let h = &server.handle;
    let (mut a, mut b, leg_a, leg_b) = call(&server, &[0, 101], &[0, 101]).await;
    h.mute(leg_a, true).await.unwrap();
    tokio::join!(
        a.talk(0, 10, |i| frame(b'A', i)),
        b.talk(0, 10, |i| frame(b'B', i))
    );
    tokio::join!(
        a.listen(Duration::from_millis(60)),
        b.listen(Duration::from_millis(60))
    );
    assert!(b.audio(0).is_empty(), "A is muted");
    assert_eq!(a.audio(0).len(), 10, "B is heard");

    h.mute(leg_a, false).await.unwrap();
    h.unbridge(leg_b).await.unwrap();
    let marks = (a.received.len(), b.received.len());
    tokio::join!(
        a.talk(0, 5, |i| frame(b'A', i)),
        b.talk(0, 5, |i| frame(b'B', i))
    );
    tokio::join!(
        a.listen(Duration::from_millis(60)),
        b.listen(Duration::from_millis(60))
    );
    assert_eq!((a.received.len(), b.received.len()), marks, "unbridged");
    assert!(h.stats(leg_a).await.unwrap().not_forwarded >= 15);
}
