//! Client transactions: INVITE (§17.1.1, Figure 5, with RFC 6026 Accepted) and
//! non-INVITE (§17.1.2, Figure 6).

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{transmit, Event, Out, Output, TimerConfig, TransactionId};
use crate::flow::Peer;
use crate::header::HeaderName;
use crate::message::{Request, Response};
use crate::Method;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientState {
    /// INVITE sent, nothing heard (Figure 5).
    Calling,
    /// Non-INVITE sent, nothing heard (Figure 6).
    Trying,
    Proceeding,
    /// Non-2xx final received; absorbing retransmissions.
    Completed,
    /// 2xx to INVITE received; forwarding further 2xx to the TU (RFC 6026).
    Accepted,
    Terminated,
}

#[derive(Debug)]
pub(crate) struct ClientTx {
    pub id: TransactionId,
    pub invite: bool,
    pub state: ClientState,
    pub request: Request,
    wire: Bytes,
    pub peer: Peer,
    /// ACK for a non-2xx final, kept to answer retransmissions.
    ack: Option<Bytes>,
    /// Timer A (INVITE) or E (non-INVITE) and its current interval.
    retransmit: Option<(Instant, Duration)>,
    /// Timer B (INVITE) or F (non-INVITE).
    timeout: Option<Instant>,
    /// Timer D, K or M: how long to linger before terminating.
    linger: Option<Instant>,
}

impl ClientTx {
    pub fn start(
        id: TransactionId,
        request: Request,
        peer: Peer,
        cfg: &TimerConfig,
        now: Instant,
        out: &mut Out,
    ) -> Self {
        let invite = request.method == Method::Invite;
        let wire = request.to_bytes();
        transmit(out, &peer, &wire);
        let retransmit = (!peer.reliable).then(|| (now + cfg.t1, cfg.t1));
        Self {
            id,
            invite,
            state: if invite {
                ClientState::Calling
            } else {
                ClientState::Trying
            },
            request,
            wire,
            peer,
            ack: None,
            retransmit,
            timeout: Some(now + cfg.t1x64()),
            linger: None,
        }
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        [self.retransmit.map(|(t, _)| t), self.timeout, self.linger]
            .into_iter()
            .flatten()
            .min()
    }

    fn terminate(&mut self, out: &mut Out) {
        self.state = ClientState::Terminated;
        self.retransmit = None;
        self.timeout = None;
        self.linger = None;
        out.push_back(Output::Event(Event::Terminated { tx: self.id }));
    }

    /// Enter a lingering state, or terminate at once if the duration is zero (reliable transports).
    fn linger_for(&mut self, d: Duration, now: Instant, out: &mut Out) {
        self.retransmit = None;
        self.timeout = None;
        if d.is_zero() {
            self.terminate(out);
        } else {
            self.linger = Some(now + d);
        }
    }

    pub fn on_timer(&mut self, cfg: &TimerConfig, now: Instant, out: &mut Out) {
        if let Some((at, interval)) = self.retransmit {
            if at <= now {
                transmit(out, &self.peer, &self.wire);
                let next = if self.invite {
                    // Timer A doubles without a cap (§17.1.1.2).
                    interval * 2
                } else if self.state == ClientState::Proceeding {
                    cfg.t2
                } else {
                    // Timer E doubles up to T2 (§17.1.2.2).
                    (interval * 2).min(cfg.t2)
                };
                self.retransmit = Some((now + next, next));
            }
        }
        if self.timeout.is_some_and(|t| t <= now) {
            // Timer B / F.
            out.push_back(Output::Event(Event::Timeout { tx: self.id }));
            self.terminate(out);
            return;
        }
        if self.linger.is_some_and(|t| t <= now) {
            // Timer D / K / M.
            self.terminate(out);
        }
    }

    pub fn on_response(&mut self, resp: Response, cfg: &TimerConfig, now: Instant, out: &mut Out) {
        let code = resp.status;
        match (self.invite, self.state) {
            (_, ClientState::Terminated) => {}
            (true, ClientState::Calling | ClientState::Proceeding) => {
                if code < 200 {
                    self.state = ClientState::Proceeding;
                    self.retransmit = None;
                    // Timer B only guards the Calling state.
                    self.timeout = None;
                    self.deliver(resp, out);
                } else if code < 300 {
                    self.state = ClientState::Accepted;
                    self.deliver(resp, out);
                    self.linger_for(cfg.t1x64(), now, out);
                } else {
                    let ack = self.build_ack(&resp).to_bytes();
                    transmit(out, &self.peer, &ack);
                    self.ack = Some(ack);
                    self.state = ClientState::Completed;
                    self.deliver(resp, out);
                    let d = if self.peer.reliable {
                        Duration::ZERO
                    } else {
                        cfg.timer_d()
                    };
                    self.linger_for(d, now, out);
                }
            }
            (true, ClientState::Completed) if code >= 300 => {
                if let Some(ack) = &self.ack {
                    transmit(out, &self.peer, ack);
                }
            }
            (true, ClientState::Accepted) if (200..300).contains(&code) => {
                self.deliver(resp, out);
            }
            (false, ClientState::Trying | ClientState::Proceeding) => {
                if code < 200 {
                    self.state = ClientState::Proceeding;
                    self.deliver(resp, out);
                } else {
                    self.state = ClientState::Completed;
                    self.deliver(resp, out);
                    let d = if self.peer.reliable {
                        Duration::ZERO
                    } else {
                        cfg.t4
                    };
                    self.linger_for(d, now, out);
                }
            }
            _ => {}
        }
    }

    fn deliver(&self, response: Response, out: &mut Out) {
        out.push_back(Output::Event(Event::Response {
            tx: self.id,
            response,
        }));
    }

    /// ACK for a non-2xx final response (§17.1.1.3).
    fn build_ack(&self, resp: &Response) -> Request {
        let mut ack = Request::new(Method::Ack, self.request.uri.clone());
        let h = &self.request.headers;
        if let Some(v) = h.get(&HeaderName::Via) {
            ack.headers.push(HeaderName::Via, v);
        }
        ack.headers.push(HeaderName::MaxForwards, "70");
        for r in h.get_all(&HeaderName::Route) {
            ack.headers.push(HeaderName::Route, r);
        }
        if let Some(v) = h.get(&HeaderName::From) {
            ack.headers.push(HeaderName::From, v);
        }
        if let Some(v) = resp.headers.get(&HeaderName::To) {
            ack.headers.push(HeaderName::To, v);
        }
        if let Some(v) = h.get(&HeaderName::CallId) {
            ack.headers.push(HeaderName::CallId, v);
        }
        let seq = h.cseq().map(|c| c.seq).unwrap_or(0);
        ack.headers.push(HeaderName::CSeq, format!("{seq} ACK"));
        ack
    }

    pub fn on_transport_error(&mut self, out: &mut Out) {
        out.push_back(Output::Event(Event::TransportError { tx: self.id }));
        self.terminate(out);
    }
}
