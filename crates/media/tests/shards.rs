//! The media engine spread over shards: one thread and one socket each, legs placed by load or
//! next to the leg they will be bridged to.

mod common;

use std::time::Duration;

use common::{two_shards, Call, Client};
use switchboard_media::{MediaServer, MediaServerConfig};

fn candidate_port(sdp: &str) -> u16 {
    let line = sdp
        .lines()
        .find(|l| l.starts_with("a=candidate:"))
        .expect("a host candidate");
    // a=candidate:<foundation> <component> udp <priority> <ip> <port> typ host
    line.split_whitespace().nth(5).unwrap().parse().unwrap()
}

#[tokio::test]
async fn new_legs_spread_over_the_shards_each_behind_its_own_socket() {
    let server = two_shards().await;
    let h = server.handle.clone();
    assert_eq!(server.local_addrs.len(), 2);

    let mut per_shard = [0usize; 2];
    for _ in 0..4 {
        let mut c = Client::new(b'X').await;
        let (leg, answer) = h.create_answerer(c.offer(), None).await.unwrap();
        let shard = h.shard_of(leg);
        per_shard[shard] += 1;
        assert_eq!(
            candidate_port(&answer),
            server.local_addrs[shard].port(),
            "the candidate names the socket of the leg's shard"
        );
    }
    assert_eq!(per_shard, [2, 2], "placed on the least-loaded shard");

    // A leg created near another shares its shard whatever the load.
    let (near, _) = h.create_offerer(None).await.unwrap();
    for _ in 0..3 {
        let (leg, _) = h.create_offerer(Some(near)).await.unwrap();
        assert_eq!(h.shard_of(leg), h.shard_of(near));
    }
    // Now 6 legs on one shard, 2 on the other: new legs go to the emptier one every time
    // (taking turns would put one of them next to `near`).
    for _ in 0..2 {
        let (leg, _) = h.create_offerer(None).await.unwrap();
        assert_ne!(h.shard_of(leg), h.shard_of(near), "the least-loaded shard");
    }
}

#[tokio::test]
async fn legs_on_different_shards_are_bridged_through_a_relay() {
    let mut call = Call::connect_across_shards().await;
    let h = call.handle().clone();
    assert_ne!(h.shard_of(call.leg_a), h.shard_of(call.leg_b));
    h.bridge(call.leg_a, call.leg_b).await.unwrap();
    call.talk(Duration::from_millis(400), true, true).await;
    call.talk(Duration::from_millis(100), false, false).await;
    assert!(call.a.sent > 10 && call.b.sent > 10);
    assert_eq!(call.b.payloads_from(call.a.tag).len() as u32, call.a.sent);
    assert_eq!(call.a.payloads_from(call.b.tag).len() as u32, call.b.sent);
    let (a, b) = (call.leg_a, call.leg_b);
    assert_eq!(h.stats(a).await.unwrap().forwarded as u32, call.a.sent);

    // Unbridged from either side, both directions stop.
    h.unbridge(a).await.unwrap();
    assert_eq!(h.call(a, move |c, _| c.peer(a)).await.unwrap(), None);
    assert_eq!(h.call(b, move |c, _| c.peer(b)).await.unwrap(), None);
    let before = (call.a.received.len(), call.b.received.len());
    call.talk(Duration::from_millis(300), true, true).await;
    assert_eq!((call.a.received.len(), call.b.received.len()), before);

    // Bridged again, then closing one leg unlinks the other.
    h.bridge(a, b).await.unwrap();
    h.close(a).await.unwrap();
    assert_eq!(h.call(b, move |c, _| c.peer(b)).await.unwrap(), None);
}

#[tokio::test]
async fn a_fixed_port_gives_consecutive_ports() {
    // Find a free pair by trying: another process may hold any given port.
    for base in (42_000u16..43_000).step_by(7) {
        let started = MediaServer::start(MediaServerConfig {
            bind: ([127, 0, 0, 1], base).into(),
            shards: 2,
            ..Default::default()
        })
        .await;
        if let Ok(server) = started {
            let ports: Vec<u16> = server.local_addrs.iter().map(|a| a.port()).collect();
            assert_eq!(ports, [base, base + 1]);
            return;
        }
    }
    panic!("no two free consecutive ports found");
}

#[tokio::test]
async fn a_call_on_the_second_shard_is_bridged_and_reports_events() {
    // Occupy shard 0 so the call lands on shard 1.
    let mut call = Call::connect_on_second_shard().await;
    call.handle().bridge(call.leg_a, call.leg_b).await.unwrap();
    call.talk(Duration::from_millis(400), true, true).await;
    call.talk(Duration::from_millis(100), false, false).await;
    assert_eq!(call.handle().shard_of(call.leg_a), 1);
    assert!(call.a.sent > 10);
    assert_eq!(call.b.payloads_from(call.a.tag).len() as u32, call.a.sent);
    assert_eq!(call.a.payloads_from(call.b.tag).len() as u32, call.b.sent);
}
