//! Re-offers on live legs: our hold toward a browser, and a browser's own re-INVITE.

mod common;

use std::time::Duration;

use common::Call;
use switchboard_media::Direction;

#[tokio::test]
async fn reoffer_changes_our_direction_and_keeps_the_leg_connected() {
    let mut call = Call::connect().await;
    let h = call.handle().clone();
    h.bridge(call.leg_a, call.leg_b).await.unwrap();

    let offer = h.reoffer(call.leg_b, Direction::SendOnly).await.unwrap();
    assert!(offer.contains("a=sendonly"), "{offer}");
    let answer = call.b.answer(&offer);
    assert!(answer.contains("a=recvonly"), "{answer}");
    h.accept_answer(call.leg_b, answer).await.unwrap();
    let dir = h.call(call.leg_b, {
        let leg = call.leg_b;
        move |c, _| c.direction(leg)
    });
    assert_eq!(dir.await.unwrap(), Some(Direction::SendOnly));

    let offer = h.reoffer(call.leg_b, Direction::SendRecv).await.unwrap();
    assert!(offer.contains("a=sendrecv"));
    let answer = call.b.answer(&offer);
    h.accept_answer(call.leg_b, answer).await.unwrap();
    call.talk(Duration::from_millis(300), true, true).await;
    assert!(call.b.payloads_from(b'A').len() >= 10, "audio after unhold");
    assert!(call.a.payloads_from(b'B').len() >= 10);
}

#[tokio::test]
async fn a_browsers_reoffer_is_answered_on_its_leg() {
    let mut call = Call::connect().await;
    let h = call.handle().clone();
    h.bridge(call.leg_a, call.leg_b).await.unwrap();
    let offer = call.a.reoffer(Direction::SendOnly);
    let answer = h.accept_offer_on(call.leg_a, offer).await.unwrap();
    assert!(answer.contains("a=recvonly"), "{answer}");
    call.a.accept_answer(&answer);

    let offer = call.a.reoffer(Direction::SendRecv);
    let answer = h.accept_offer_on(call.leg_a, offer).await.unwrap();
    assert!(answer.contains("a=sendrecv"));
    call.a.accept_answer(&answer);
    call.talk(Duration::from_millis(300), true, true).await;
    assert!(call.b.payloads_from(b'A').len() >= 10);
    assert!(call.a.payloads_from(b'B').len() >= 10);
}

#[tokio::test]
async fn closing_a_leg_reports_it_and_forgets_it() {
    let mut call = Call::connect().await;
    let h = call.handle().clone();
    h.bridge(call.leg_a, call.leg_b).await.unwrap();
    h.close(call.leg_a).await.unwrap();
    call.talk(Duration::from_millis(100), false, false).await;
    assert!(call
        .events
        .contains(&switchboard_media::MediaEvent::Closed { leg: call.leg_a }));
    assert!(h.stats(call.leg_a).await.is_err());
    let leg_b = call.leg_b;
    assert_eq!(
        h.call(leg_b, move |c, _| c.peer(leg_b)).await.unwrap(),
        None
    );
}
