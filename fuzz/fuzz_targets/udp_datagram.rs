#![no_main]
//! One UDP datagram, as the UDP edge and the runtime handle it: bare-whitespace keep-alives are
//! dropped, anything else goes to the sans-IO transaction layer as `Input::Receive` from an
//! unreliable peer. A scripted transaction user answers what arrives (the status picked by the
//! CSeq number, so the fuzzer can steer it), the peer retransmits the datagram and ACKs a
//! non-2xx, a response gets a client transaction to land in, and fake time runs every timer
//! out. Nothing may panic, every transmission must parse, and timers must make progress.

use std::time::{Duration, Instant};

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use switchboard_sip::header::via::Via;
use switchboard_sip::response::make_response;
use switchboard_sip::transaction::{
    Event, Input, Output, TimerConfig, TransactionId, TransactionLayer,
};
use switchboard_sip::{parse, FlowId, HeaderName, Message, Method, Peer, Request, Response, Uri};

/// The UDP edge's receive buffer (`transport::MAX_MESSAGE`): longer datagrams are truncated.
const MAX_DATAGRAM: usize = 64 * 1024;
const FLOW: FlowId = FlowId(3);
/// More timer rounds than any transaction needs (Timer G/E retransmit about ten times).
const MAX_ROUNDS: usize = 256;

fuzz_target!(|data: &[u8]| {
    let data = &data[..data.len().min(MAX_DATAGRAM)];
    // The edge's keep-alive check (`transport::is_keepalive`).
    if data.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    // Source address family steered by the length: IPv6 sources exercise Via `received`.
    let addr = if data.len() % 2 == 0 {
        "192.0.2.7:5062"
    } else {
        "[2001:db8::7]:5062"
    };
    let mut h = Harness {
        layer: TransactionLayer::new(TimerConfig::default()),
        now: Instant::now(),
        peer: Peer {
            flow: FLOW,
            addr: addr.to_owned(),
            reliable: false,
        },
        acks: Vec::new(),
        malformed: parse(data).is_err(),
    };
    let bytes = Bytes::copy_from_slice(data);

    // A response needs a client transaction to match: start one that it answers.
    if let Ok(Message::Response(resp)) = parse(data) {
        if let Some(req) = request_answered_by(&resp) {
            let _ = h.layer.send_request(req, h.peer.clone(), h.now);
            h.drain();
        }
    }

    h.receive(bytes.clone());
    h.tick(Duration::from_millis(300));
    // The peer did not hear us: it retransmits.
    h.receive(bytes);
    for ack in std::mem::take(&mut h.acks) {
        h.receive(ack);
    }
    h.run_timers();
});

struct Harness {
    layer: TransactionLayer,
    now: Instant,
    peer: Peer,
    /// ACKs the peer will send for the non-2xx finals the TU gave.
    acks: Vec<Bytes>,
    /// The datagram does not parse: the layer may only answer it statelessly.
    malformed: bool,
}

impl Harness {
    fn receive(&mut self, bytes: Bytes) {
        let input = Input::Receive {
            peer: self.peer.clone(),
            bytes,
        };
        self.layer.handle_input(input, self.now);
        self.drain();
    }

    fn tick(&mut self, d: Duration) {
        self.now += d;
        self.layer.handle_timeout(self.now);
        self.drain();
    }

    /// Advances fake time deadline by deadline until no timer is left.
    fn run_timers(&mut self) {
        for _ in 0..MAX_ROUNDS {
            let Some(at) = self.layer.poll_timeout() else {
                return;
            };
            self.now = self.now.max(at);
            self.layer.handle_timeout(self.now);
            self.drain();
            if let Some(next) = self.layer.poll_timeout() {
                assert!(next > self.now, "a timer due now did not fire");
            }
        }
        panic!("timers still pending after {MAX_ROUNDS} rounds");
    }

    fn drain(&mut self) {
        while let Some(out) = self.layer.poll_output() {
            match out {
                Output::Transmit { flow, addr, bytes } => {
                    assert_eq!(flow, FLOW);
                    assert_eq!(addr, self.peer.addr, "UDP answers go to the source");
                    if let Err(e) = parse(&bytes) {
                        // A §8.2 rejection of a request that did not parse echoes its From,
                        // To, Call-ID and CSeq as they came (RFC 4475 asks for the 400), so
                        // only what routes and matches it must read back.
                        assert!(
                            self.malformed && is_routable_rejection(&bytes),
                            "transmitted message does not parse ({e}):\n{}",
                            String::from_utf8_lossy(&bytes)
                        );
                    }
                }
                Output::Event(ev) => self.on_event(ev),
            }
        }
    }

    /// The transaction user: answers requests, the status chosen by the CSeq number.
    fn on_event(&mut self, ev: Event) {
        let Event::Request {
            tx: Some(tx),
            request,
            cancels,
            ..
        } = ev
        else {
            return;
        };
        if let Some(invite) = cancels {
            if let Some(req) = self.layer.server_request(invite).cloned() {
                self.answer(invite, &req, 487);
            }
        }
        let Ok(cseq) = request.headers.cseq() else {
            return;
        };
        let invite = request.method == Method::Invite;
        match cseq.seq % 6 {
            0 => {}
            1 => self.answer(tx, &request, 200),
            2 if invite => {
                self.answer(tx, &request, 180);
                self.answer(tx, &request, 200);
            }
            3 => self.answer(tx, &request, 401),
            4 if invite => {
                self.answer(tx, &request, 183);
                self.answer(tx, &request, 486);
            }
            _ => self.answer(tx, &request, 404),
        }
    }

    fn answer(&mut self, tx: TransactionId, req: &Request, status: u16) {
        let resp = make_response(req, status, Some("fuzz-tag"));
        let live = self.layer.server_state(tx).is_some();
        let sent = self.layer.send_response(tx, &resp, self.now);
        if live && status < 200 {
            assert!(sent.is_ok(), "provisional refused: {sent:?}");
        }
        if sent.is_ok() && req.method == Method::Invite && status >= 300 {
            if let Some(ack) = ack_for(req, &resp) {
                self.acks.push(ack);
            }
        }
    }
}

/// A stateless error response whose status line and top Via (all a UDP peer needs to route it
/// and match it to its request, §18.1.2, §17.1.3) read back.
fn is_routable_rejection(bytes: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return false;
    };
    let mut lines = text.split("\r\n");
    let status_ok = lines
        .next()
        .and_then(|l| l.strip_prefix("SIP/2.0 "))
        .and_then(|l| l.get(..3))
        .and_then(|c| c.parse::<u16>().ok())
        .is_some_and(|c| (400..600).contains(&c));
    let via_ok = lines
        .find_map(|l| l.strip_prefix("Via: "))
        .is_some_and(|v| Via::parse(v).is_ok());
    status_ok && via_ok
}

/// The ACK a phone sends for a non-2xx final (§17.1.1.3): the INVITE's top Via, its To with
/// our tag, CSeq method ACK.
fn ack_for(invite: &Request, resp: &Response) -> Option<Bytes> {
    let mut ack = Request::new(Method::Ack, invite.uri.clone());
    ack.headers
        .push(HeaderName::Via, invite.headers.get(&HeaderName::Via)?);
    ack.headers.push(HeaderName::MaxForwards, "70");
    for name in [HeaderName::From, HeaderName::CallId] {
        ack.headers.push(name.clone(), invite.headers.get(&name)?);
    }
    ack.headers
        .push(HeaderName::To, resp.headers.get(&HeaderName::To)?);
    let seq = invite.headers.cseq().ok()?.seq;
    ack.headers.push(HeaderName::CSeq, format!("{seq} ACK"));
    Some(ack.to_bytes())
}

/// A request of ours that `resp` answers: its top Via and CSeq, the dialog headers copied.
fn request_answered_by(resp: &Response) -> Option<Request> {
    let cseq = resp.headers.cseq().ok()?;
    if cseq.method == Method::Ack {
        return None;
    }
    let uri = Uri::parse("sip:fuzz@192.0.2.1:5060").ok()?;
    let mut req = Request::new(cseq.method.clone(), uri);
    req.headers
        .push(HeaderName::Via, resp.headers.get(&HeaderName::Via)?);
    req.headers.push(HeaderName::MaxForwards, "70");
    for name in [
        HeaderName::From,
        HeaderName::To,
        HeaderName::CallId,
        HeaderName::CSeq,
    ] {
        if let Some(v) = resp.headers.get(&name) {
            req.headers.push(name.clone(), v);
        }
    }
    // Only requests we could have sent: they must read back.
    parse(&req.to_bytes()).ok()?;
    Some(req)
}
