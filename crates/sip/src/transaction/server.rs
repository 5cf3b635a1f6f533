//! Server transactions: INVITE (§17.2.1, Figure 7, with RFC 6026 Accepted) and
//! non-INVITE (§17.2.2, Figure 8).

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{transmit, Event, Out, Output, TimerConfig, TransactionError, TransactionId};
use crate::flow::Peer;
use crate::message::{Request, Response};
use crate::response::make_response;
use crate::Method;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerState {
    /// Non-INVITE received, TU has not answered (Figure 8).
    Trying,
    Proceeding,
    /// Final response sent (non-2xx for INVITE); waiting for ACK / absorbing retransmissions.
    Completed,
    /// ACK received for the non-2xx (INVITE only).
    Confirmed,
    /// 2xx sent to INVITE; the TU retransmits it (RFC 6026).
    Accepted,
    Terminated,
}

#[derive(Debug)]
pub(crate) struct ServerTx {
    pub id: TransactionId,
    pub invite: bool,
    pub state: ServerState,
    pub request: Request,
    pub peer: Peer,
    last_response: Option<Bytes>,
    /// 100 Trying timer (§17.2.1), INVITE only.
    trying: Option<Instant>,
    /// Timer G and its interval.
    timer_g: Option<(Instant, Duration)>,
    /// Timer H: give up waiting for ACK.
    timer_h: Option<Instant>,
    /// Timer I, J or L: linger before terminating.
    linger: Option<Instant>,
}

impl ServerTx {
    pub fn new(
        id: TransactionId,
        request: Request,
        peer: Peer,
        cfg: &TimerConfig,
        now: Instant,
    ) -> Self {
        let invite = request.method == Method::Invite;
        Self {
            id,
            invite,
            state: if invite {
                ServerState::Proceeding
            } else {
                ServerState::Trying
            },
            request,
            peer,
            last_response: None,
            trying: invite.then(|| now + cfg.trying_delay),
            timer_g: None,
            timer_h: None,
            linger: None,
        }
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        [
            self.trying,
            self.timer_g.map(|(t, _)| t),
            self.timer_h,
            self.linger,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn terminate(&mut self, out: &mut Out) {
        self.state = ServerState::Terminated;
        self.trying = None;
        self.timer_g = None;
        self.timer_h = None;
        self.linger = None;
        out.push_back(Output::Event(Event::Terminated { tx: self.id }));
    }

    fn linger_for(&mut self, d: Duration, now: Instant, out: &mut Out) {
        if d.is_zero() {
            self.terminate(out);
        } else {
            self.linger = Some(now + d);
        }
    }

    /// The TU sends a response through this transaction.
    pub fn send(
        &mut self,
        resp: &Response,
        cfg: &TimerConfig,
        now: Instant,
        out: &mut Out,
    ) -> Result<(), TransactionError> {
        let code = resp.status;
        let open = matches!(self.state, ServerState::Trying | ServerState::Proceeding);
        // RFC 6026 §8.6: further 2xx may be sent while Accepted.
        let accepted_2xx = self.state == ServerState::Accepted && (200..300).contains(&code);
        if !open && !accepted_2xx {
            return Err(TransactionError::InvalidState);
        }
        let wire = resp.to_bytes();
        transmit(out, &self.peer, &wire);
        self.last_response = Some(wire);
        self.trying = None;
        if code < 200 {
            self.state = ServerState::Proceeding;
            return Ok(());
        }
        if !self.invite {
            self.state = ServerState::Completed;
            let d = if self.peer.reliable {
                Duration::ZERO
            } else {
                cfg.t1x64()
            };
            self.linger_for(d, now, out);
        } else if code < 300 {
            if self.state != ServerState::Accepted {
                self.state = ServerState::Accepted;
                // Timer L.
                self.linger = Some(now + cfg.t1x64());
            }
        } else {
            self.state = ServerState::Completed;
            if !self.peer.reliable {
                self.timer_g = Some((now + cfg.t1, cfg.t1));
            }
            self.timer_h = Some(now + cfg.t1x64());
        }
        Ok(())
    }

    /// A retransmission of the request (or, for INVITE, the ACK) arrived.
    /// Returns true when the ACK should be passed to the TU (Accepted state).
    pub fn on_request(
        &mut self,
        req: &Request,
        cfg: &TimerConfig,
        now: Instant,
        out: &mut Out,
    ) -> bool {
        if req.method == Method::Ack {
            match self.state {
                ServerState::Completed => {
                    self.state = ServerState::Confirmed;
                    self.timer_g = None;
                    self.timer_h = None;
                    let d = if self.peer.reliable {
                        Duration::ZERO
                    } else {
                        cfg.t4
                    };
                    self.linger_for(d, now, out);
                    false
                }
                ServerState::Accepted => true,
                _ => false,
            }
        } else {
            match self.state {
                ServerState::Proceeding | ServerState::Completed => {
                    if let Some(w) = &self.last_response {
                        transmit(out, &self.peer, w);
                    }
                }
                _ => {}
            }
            false
        }
    }

    pub fn on_timer(&mut self, cfg: &TimerConfig, now: Instant, out: &mut Out) {
        if self.trying.is_some_and(|t| t <= now) {
            self.trying = None;
            if self.state == ServerState::Proceeding && self.last_response.is_none() {
                let wire = make_response(&self.request, 100, None).to_bytes();
                transmit(out, &self.peer, &wire);
                self.last_response = Some(wire);
            }
        }
        if let Some((at, interval)) = self.timer_g {
            if at <= now {
                if let Some(w) = &self.last_response {
                    transmit(out, &self.peer, w);
                }
                let next = (interval * 2).min(cfg.t2);
                self.timer_g = Some((now + next, next));
            }
        }
        if self.timer_h.is_some_and(|t| t <= now) {
            out.push_back(Output::Event(Event::Timeout { tx: self.id }));
            self.terminate(out);
            return;
        }
        if self.linger.is_some_and(|t| t <= now) {
            self.terminate(out);
        }
    }

    pub fn on_transport_error(&mut self, out: &mut Out) {
        out.push_back(Output::Event(Event::TransportError { tx: self.id }));
        self.terminate(out);
    }
}
