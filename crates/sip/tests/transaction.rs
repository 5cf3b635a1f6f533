//! Transaction state machines (RFC 3261 §17, RFC 6026) through the layer's
//! handle_input / handle_timeout / poll_output interface.

use std::time::{Duration, Instant};

use bytes::Bytes;
use switchboard_sip::response::make_response;
use switchboard_sip::transaction::{
    ClientState, Event, Input, Output, ServerState, TimerConfig, TransactionId, TransactionLayer,
};
use switchboard_sip::{parse, FlowId, HeaderName, Message, Method, Peer, Request, Response};

fn peer(reliable: bool) -> Peer {
    Peer {
        flow: FlowId(1),
        addr: "192.0.2.9:5060".into(),
        reliable,
    }
}

fn request(method: &str, branch: &str, sent_by: &str) -> Request {
    let s = format!(
        "{method} sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP {sent_by};branch={branch}\r\n\
Max-Forwards: 70\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
Call-ID: 3848276298220188511@atlanta.example.com\r\n\
CSeq: 1 {method}\r\n\
Contact: <sip:alice@client.atlanta.example.com>\r\n\
Content-Length: 0\r\n\r\n"
    );
    match parse(s.as_bytes()).unwrap() {
        Message::Request(r) => r,
        _ => unreachable!(),
    }
}

fn drain(l: &mut TransactionLayer) -> (Vec<Bytes>, Vec<Event>) {
    let (mut tx, mut ev) = (Vec::new(), Vec::new());
    while let Some(o) = l.poll_output() {
        match o {
            Output::Transmit { bytes, .. } => tx.push(bytes),
            Output::Event(e) => ev.push(e),
        }
    }
    (tx, ev)
}

fn response_to(req: &Request, status: u16) -> Response {
    make_response(req, status, Some("totag1"))
}

fn receive(l: &mut TransactionLayer, msg: Bytes, reliable: bool, now: Instant) {
    l.handle_input(
        Input::Receive {
            peer: peer(reliable),
            bytes: msg,
        },
        now,
    );
}

fn at(t0: Instant, ms: u64) -> Instant {
    t0 + Duration::from_millis(ms)
}

fn parse_req(b: &Bytes) -> Request {
    match parse(b).unwrap() {
        Message::Request(r) => r,
        _ => panic!("expected request"),
    }
}

fn server_tx(ev: &[Event]) -> TransactionId {
    ev.iter()
        .find_map(|e| match e {
            Event::Request { tx: Some(t), .. } => Some(*t),
            _ => None,
        })
        .expect("request event")
}

#[test]
fn rfc3261_17_1_1_2_invite_client_retransmits_timer_a_on_unreliable() {
    let mut l = TransactionLayer::new(TimerConfig::default());
    let t0 = Instant::now();
    let id = l
        .send_request(
            request("INVITE", "z9hG4bK74bf9", "client.atlanta.example.com"),
            peer(false),
            t0,
        )
        .unwrap();
    assert_eq!(drain(&mut l).0.len(), 1);
    assert_eq!(l.poll_timeout(), Some(at(t0, 500)));
    // Timer A fires at T1, 2*T1 later, 4*T1 later…
    let mut sent = 0;
    for ms in [500, 1500, 3500, 7500, 15500, 31500] {
        l.handle_timeout(at(t0, ms));
        sent += drain(&mut l).0.len();
    }
    assert_eq!(sent, 6);
    assert_eq!(l.client_state(id), Some(ClientState::Calling));
    // Timer B at 64*T1.
    l.handle_timeout(at(t0, 32_000));
    let (_, ev) = drain(&mut l);
    assert_eq!(
        ev,
        vec![Event::Timeout { tx: id }, Event::Terminated { tx: id }]
    );
    assert!(l.is_empty());
}

#[test]
fn rfc3261_17_1_1_2_invite_client_does_not_retransmit_on_reliable() {
    let mut l = TransactionLayer::new(TimerConfig::default());
    let t0 = Instant::now();
    l.send_request(request("INVITE", "z9hG4bK1", "h.invalid"), peer(true), t0)
        .unwrap();
    drain(&mut l);
    assert_eq!(l.poll_timeout(), Some(at(t0, 32_000)));
    l.handle_timeout(at(t0, 10_000));
    assert!(drain(&mut l).0.is_empty());
}

#[test]
fn rfc3261_17_1_1_3_invite_client_acks_non_2xx_and_absorbs_retransmissions() {
    let mut l = TransactionLayer::new(TimerConfig::default());
    let t0 = Instant::now();
    let req = request("INVITE", "z9hG4bKnashds8", "client.atlanta.example.com");
    let id = l.send_request(req.clone(), peer(false), t0).unwrap();
    drain(&mut l);
    receive(
        &mut l,
        response_to(&req, 180).to_bytes(),
        false,
        at(t0, 100),
    );
    let (_, ev) = drain(&mut l);
    assert!(matches!(&ev[..], [Event::Response { response, .. }] if response.status == 180));
    assert_eq!(l.client_state(id), Some(ClientState::Proceeding));
    // No retransmissions in Proceeding.
    l.handle_timeout(at(t0, 600));
    assert!(drain(&mut l).0.is_empty());

    let busy = response_to(&req, 486).to_bytes();
    receive(&mut l, busy.clone(), false, at(t0, 1000));
    let (sent, ev) = drain(&mut l);
    let ack = parse_req(&sent[0]);
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(ack.uri, req.uri);
    assert_eq!(
        ack.headers.top_via().unwrap().branch(),
        Some("z9hG4bKnashds8")
    );
    assert_eq!(ack.headers.to().unwrap().tag(), Some("totag1"));
    assert_eq!(ack.headers.cseq().unwrap().method, Method::Ack);
    assert_eq!(ack.headers.cseq().unwrap().seq, 1);
    assert!(matches!(&ev[..], [Event::Response { response, .. }] if response.status == 486));
    assert_eq!(l.client_state(id), Some(ClientState::Completed));

    // A retransmitted 486 is re-ACKed but not passed up.
    receive(&mut l, busy, false, at(t0, 2000));
    let (sent, ev) = drain(&mut l);
    assert_eq!(sent.len(), 1);
    assert!(ev.is_empty());
    // Timer D (32 s).
    l.handle_timeout(at(t0, 1000 + 32_000));
    assert_eq!(drain(&mut l).1, vec![Event::Terminated { tx: id }]);
}

#[test]
fn rfc3261_17_1_1_2_timer_d_is_zero_on_reliable() {
    let mut l = TransactionLayer::new(TimerConfig::default());
    let t0 = Instant::now();
    let req = request("INVITE", "z9hG4bK2", "h.invalid");
    let id = l.send_request(req.clone(), peer(true), t0).unwrap();
    drain(&mut l);
    receive(&mut l, response_to(&req, 603).to_bytes(), true, t0);
    let (sent, ev) = drain(&mut l);
    assert_eq!(sent.len(), 1, "ACK");
    assert_eq!(ev.last(), Some(&Event::Terminated { tx: id }));
    assert!(l.is_empty());
}

#[test]
fn rfc6026_invite_client_accepted_passes_2xx_retransmissions_then_timer_m() {
    let mut l = TransactionLayer::new(TimerConfig::default());
    let t0 = Instant::now();
    let req = request("INVITE", "z9hG4bK3", "h.invalid");
    let id = l.send_request(req.clone(), peer(false), t0).unwrap();
    drain(&mut l);
    let ok = response_to(&req, 200).to_bytes();
    receive(&mut l, ok.clone(), false, t0);
    let (sent, ev) = drain(&mut l);
    assert!(sent.is_empty(), "the TU ACKs 2xx, not the transaction");
    assert_eq!(ev.len(), 1);
    assert_eq!(l.client_state(id), Some(ClientState::Accepted));
    receive(&mut l, ok, false, at(t0, 500));
    assert_eq!(drain(&mut l).1.len(), 1);
    l.handle_timeout(at(t0, 32_000));
    assert_eq!(drain(&mut l).1, vec![Event::Terminated { tx: id }]);
}

#[test]
fn rfc3261_17_1_2_2_non_invite_client_timer_e_caps_at_t2_then_timer_f() {
    let mut l = TransactionLayer::new(TimerConfig::default());
    let t0 = Instant::now();
    let id = l
        .send_request(request("OPTIONS", "z9hG4bK4", "h.invalid"), peer(false), t0)
        .unwrap();
    drain(&mut l);
    let mut next = l.poll_timeout().unwrap();
    let mut intervals = Vec::new();
    let mut prev = t0;
    while next < at(t0, 32_000) {
        intervals.push((next - prev).as_millis());
        l.handle_timeout(next);
        drain(&mut l);
        prev = next;
        next = l.poll_timeout().unwrap();
    }
    assert_eq!(&intervals[..6], &[500, 1000, 2000, 4000, 4000, 4000]);
    l.handle_timeout(at(t0, 32_000));
    let (_, ev) = drain(&mut l);
    assert!(ev.contains(&Event::Timeout { tx: id }));
}

#[test]
fn rfc3261_17_1_2_2_non_invite_client_timer_k() {
    let mut l = TransactionLayer::new(TimerConfig::default());
    let t0 = Instant::now();
    let req = request("BYE", "z9hG4bK5", "h.invalid");
    let id = l.send_request(req.clone(), peer(false), t0).unwrap();
    drain(&mut l);
    let ok = response_to(&req, 200).to_bytes();
    receive(&mut l, ok.clone(), false, t0);
    assert_eq!(drain(&mut l).1.len(), 1);
    assert_eq!(l.client_state(id), Some(ClientState::Completed));
    receive(&mut l, ok, false, at(t0, 10));
    assert!(drain(&mut l).1.is_empty(), "retransmission absorbed");
    l.handle_timeout(at(t0, 5000));
    assert_eq!(drain(&mut l).1, vec![Event::Terminated { tx: id }]);
}

#[test]
fn rfc3261_17_2_1_server_invite_sends_100_trying() {
    let mut l = TransactionLayer::new(TimerConfig::default());
    let t0 = Instant::now();
    let req = request("INVITE", "z9hG4bK6", "pc33.atlanta.example.com");
    receive(&mut l, req.to_bytes(), false, t0);
    let (sent, ev) = drain(&mut l);
    assert!(sent.is_empty());
    let id = server_tx(&ev);
    assert_eq!(l.poll_timeout(), Some(at(t0, 200)));
    l.handle_timeout(at(t0, 200));
    let (sent, _) = drain(&mut l);
    let Message::Response(r) = parse(&sent[0]).unwrap() else {
        panic!()
    };
    assert_eq!(r.status, 100);
    assert!(
        r.headers.to().unwrap().tag().is_none(),
        "100 carries no to-tag"
    );
    // A retransmitted INVITE gets the 100 again.
    receive(&mut l, req.to_bytes(), false, at(t0, 500));
    assert_eq!(drain(&mut l).0.len(), 1);
    assert_eq!(l.server_state(id), Some(ServerState::Proceeding));
}

#[test]
fn rfc3261_17_2_1_no_100_trying_when_tu_answers_within_200ms() {
    let mut l = TransactionLayer::new(TimerConfig::default());
    let t0 = Instant::now();
    let req = request("INVITE", "z9hG4bK7", "h.invalid");
    receive(&mut l, req.to_bytes(), true, t0);
    let id = server_tx(&drain(&mut l).1);
    let stored = l.server_request(id).unwrap().clone();
    l.send_response(id, &response_to(&stored, 180), at(t0, 50))
        .unwrap();
    drain(&mut l);
    l.handle_timeout(at(t0, 200));
    assert!(drain(&mut l).0.is_empty());
}

#[test]
fn rfc3261_17_2_1_server_invite_timer_g_until_ack_then_timer_i() {
    let mut l = TransactionLayer::new(TimerConfig::default());
    let t0 = Instant::now();
    let req = request("INVITE", "z9hG4bK8", "h.invalid");
    receive(&mut l, req.to_bytes(), false, t0);
    let id = server_tx(&drain(&mut l).1);
    let stored = l.server_request(id).unwrap().clone();
    let busy = response_to(&stored, 486);
    l.send_response(id, &busy, t0).unwrap();
    assert_eq!(drain(&mut l).0.len(), 1);
    l.handle_timeout(at(t0, 500));
    l.handle_timeout(at(t0, 1500));
    assert_eq!(drain(&mut l).0.len(), 2, "Timer G retransmits");
    // ACK for the non-2xx matches the INVITE transaction.
    let mut ack = request("ACK", "z9hG4bK8", "h.invalid");
    ack.headers
        .set(HeaderName::To, busy.headers.get(&HeaderName::To).unwrap());
    receive(&mut l, ack.to_bytes(), false, at(t0, 1600));
    let (sent, ev) = drain(&mut l);
    assert!(sent.is_empty() && ev.is_empty(), "ACK absorbed");
    assert_eq!(l.server_state(id), Some(ServerState::Confirmed));
    l.handle_timeout(at(t0, 1600 + 5000));
    assert_eq!(drain(&mut l).1, vec![Event::Terminated { tx: id }]);
}

#[test]
fn rfc3261_17_2_1_server_invite_timer_h_without_ack() {
    let mut l = TransactionLayer::new(TimerConfig::default());
    let t0 = Instant::now();
    receive(
        &mut l,
        request("INVITE", "z9hG4bK9", "h.invalid").to_bytes(),
        true,
        t0,
    );
    let id = server_tx(&drain(&mut l).1);
    let stored = l.server_request(id).unwrap().clone();
    l.send_response(id, &response_to(&stored, 404), t0).unwrap();
    drain(&mut l);
    l.handle_timeout(at(t0, 31_999));
    assert!(
        drain(&mut l).0.is_empty(),
        "no Timer G on reliable transports"
    );
    l.handle_timeout(at(t0, 32_000));
    assert_eq!(
        drain(&mut l).1,
        vec![Event::Timeout { tx: id }, Event::Terminated { tx: id }]
    );
}

#[test]
fn rfc6026_server_invite_2xx_accepted_passes_ack_to_tu() {
    let mut l = TransactionLayer::new(TimerConfig::default());
    let t0 = Instant::now();
    let req = request("INVITE", "z9hG4bK10", "h.invalid");
    receive(&mut l, req.to_bytes(), false, t0);
    let id = server_tx(&drain(&mut l).1);
    let stored = l.server_request(id).unwrap().clone();
    l.send_response(id, &response_to(&stored, 200), t0).unwrap();
    drain(&mut l);
    assert_eq!(l.server_state(id), Some(ServerState::Accepted));
    // INVITE retransmissions are absorbed; the TU retransmits 2xx itself.
    receive(&mut l, req.to_bytes(), false, at(t0, 100));
    assert_eq!(drain(&mut l), (vec![], vec![]));
    // ACK for 2xx has a new branch: it reaches the TU without a transaction.
    receive(
        &mut l,
        request("ACK", "z9hG4bKnew", "h.invalid").to_bytes(),
        false,
        at(t0, 200),
    );
    let (_, ev) = drain(&mut l);
    assert!(
        matches!(&ev[..], [Event::Request { tx: None, request, .. }] if request.method == Method::Ack)
    );
    l.handle_timeout(at(t0, 32_000));
    assert_eq!(drain(&mut l).1, vec![Event::Terminated { tx: id }]);
}

#[test]
fn rfc3261_17_2_2_server_non_invite_replays_final_then_timer_j() {
    let mut l = TransactionLayer::new(TimerConfig::default());
    let t0 = Instant::now();
    let req = request("OPTIONS", "z9hG4bK11", "h.invalid");
    receive(&mut l, req.to_bytes(), false, t0);
    let id = server_tx(&drain(&mut l).1);
    // Retransmission in Trying: absorbed, no event.
    receive(&mut l, req.to_bytes(), false, at(t0, 500));
    assert_eq!(drain(&mut l), (vec![], vec![]));
    let stored = l.server_request(id).unwrap().clone();
    l.send_response(id, &response_to(&stored, 200), at(t0, 600))
        .unwrap();
    assert_eq!(drain(&mut l).0.len(), 1);
    receive(&mut l, req.to_bytes(), false, at(t0, 1000));
    assert_eq!(drain(&mut l).0.len(), 1, "final replayed");
    l.handle_timeout(at(t0, 600 + 32_000));
    assert_eq!(drain(&mut l).1, vec![Event::Terminated { tx: id }]);
}

#[test]
fn rfc3261_17_2_2_timer_j_is_zero_on_reliable() {
    let mut l = TransactionLayer::new(TimerConfig::default());
    let t0 = Instant::now();
    receive(
        &mut l,
        request("REGISTER", "z9hG4bK12", "h.invalid").to_bytes(),
        true,
        t0,
    );
    let id = server_tx(&drain(&mut l).1);
    let stored = l.server_request(id).unwrap().clone();
    l.send_response(id, &response_to(&stored, 200), t0).unwrap();
    assert_eq!(drain(&mut l).1, vec![Event::Terminated { tx: id }]);
    assert!(l.is_empty());
}

#[test]
fn rfc3261_17_2_3_matching_uses_sent_by_and_cancel_finds_its_invite() {
    let mut l = TransactionLayer::new(TimerConfig::default());
    let t0 = Instant::now();
    receive(
        &mut l,
        request("INVITE", "z9hG4bK13", "a.invalid").to_bytes(),
        true,
        t0,
    );
    let invite = server_tx(&drain(&mut l).1);
    // Same branch from another sent-by is another transaction.
    receive(
        &mut l,
        request("INVITE", "z9hG4bK13", "b.invalid").to_bytes(),
        true,
        t0,
    );
    let other = server_tx(&drain(&mut l).1);
    assert_ne!(invite, other);
    // CANCEL: own transaction, pointing at the INVITE.
    receive(
        &mut l,
        request("CANCEL", "z9hG4bK13", "a.invalid").to_bytes(),
        true,
        t0,
    );
    let (_, ev) = drain(&mut l);
    assert!(
        matches!(&ev[..], [Event::Request { tx: Some(c), cancels: Some(i), .. }] if *i == invite && *c != invite)
    );
}

#[test]
fn rfc3261_17_1_3_response_matches_by_branch_and_cseq_method() {
    let mut l = TransactionLayer::new(TimerConfig::default());
    let t0 = Instant::now();
    let inv = request("INVITE", "z9hG4bK14", "h.invalid");
    let cancel = request("CANCEL", "z9hG4bK14", "h.invalid");
    let i = l.send_request(inv.clone(), peer(true), t0).unwrap();
    let c = l.send_request(cancel.clone(), peer(true), t0).unwrap();
    drain(&mut l);
    receive(&mut l, response_to(&cancel, 200).to_bytes(), true, t0);
    let (_, ev) = drain(&mut l);
    assert!(matches!(&ev[0], Event::Response { tx, .. } if *tx == c));
    assert_eq!(l.client_state(i), Some(ClientState::Calling));
    // An unrelated response is stray.
    receive(
        &mut l,
        response_to(&request("INVITE", "z9hG4bKzz", "h.invalid"), 200).to_bytes(),
        true,
        t0,
    );
    assert!(matches!(
        &drain(&mut l).1[..],
        [Event::StrayResponse { .. }]
    ));
}

#[test]
fn rfc3261_18_2_1_received_and_rport_are_stamped() {
    let mut l = TransactionLayer::new(TimerConfig::default());
    let mut req = request("OPTIONS", "z9hG4bK15", "abc.invalid");
    req.headers.set(
        HeaderName::Via,
        "SIP/2.0/WS abc.invalid;branch=z9hG4bK15;rport",
    );
    receive(&mut l, req.to_bytes(), true, Instant::now());
    let (_, ev) = drain(&mut l);
    let Event::Request { request, .. } = &ev[0] else {
        panic!()
    };
    let via = request.headers.top_via().unwrap();
    assert_eq!(via.received(), Some("192.0.2.9"));
    assert_eq!(via.rport(), Some(Some(5060)));
}

#[test]
fn rfc3261_17_1_4_transport_error_terminates_transactions_on_flow() {
    let mut l = TransactionLayer::new(TimerConfig::default());
    let t0 = Instant::now();
    let id = l
        .send_request(request("INVITE", "z9hG4bK16", "h.invalid"), peer(true), t0)
        .unwrap();
    drain(&mut l);
    l.handle_input(Input::TransportError { flow: FlowId(1) }, t0);
    assert_eq!(
        drain(&mut l).1,
        vec![
            Event::TransportError { tx: id },
            Event::Terminated { tx: id }
        ]
    );
    assert!(l.is_empty());
}

#[test]
fn rfc3261_8_2_unparseable_request_gets_stateless_400() {
    let mut l = TransactionLayer::new(TimerConfig::default());
    let bad = "OPTIONS sip:x@y SIP/2.0\r\nVia: SIP/2.0/UDP h.invalid;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:x@y>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: lots\r\nContent-Length: 0\r\n\r\n";
    receive(
        &mut l,
        Bytes::from_static(bad.as_bytes()),
        true,
        Instant::now(),
    );
    let (sent, ev) = drain(&mut l);
    assert!(ev.is_empty());
    let Message::Response(r) = parse(&sent[0]).unwrap_or_else(|e| panic!("{e}")) else {
        panic!()
    };
    assert_eq!(r.status, 400);
    assert!(r.headers.to().unwrap().tag().is_some());
    assert_eq!(r.headers.cseq().unwrap().seq, 1);
}
