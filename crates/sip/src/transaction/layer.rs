//! The transaction layer: owns transactions, matches messages to them and drives timers.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::Instant;

use super::client::{ClientState, ClientTx};
use super::server::{ServerState, ServerTx};
use super::{
    transmit, Event, Input, Out, Output, TimerConfig, TransactionError, TransactionId,
    TransactionKind,
};
use crate::flow::{FlowId, Peer};
use crate::header::via::BRANCH_MAGIC;
use crate::header::HeaderName;
use crate::message::{Message, Request, Response};
use crate::response::{reject, Rejection};
use crate::{parse, Method};

/// §17.1.3: branch of the top Via plus the CSeq method.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ClientKey {
    branch: String,
    method: Method,
}

/// §17.2.3: branch, sent-by and method, with ACK folded onto INVITE.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ServerKey {
    branch: String,
    sent_by: String,
    method: Method,
}

/// Owns every client and server transaction of one endpoint.
#[derive(Debug, Default)]
pub struct TransactionLayer {
    cfg: TimerConfig,
    next_id: u64,
    clients: HashMap<TransactionId, (ClientKey, ClientTx)>,
    servers: HashMap<TransactionId, (ServerKey, ServerTx)>,
    client_keys: HashMap<ClientKey, TransactionId>,
    server_keys: HashMap<ServerKey, TransactionId>,
    out: Out,
    /// Every transaction's next deadline, earliest first. Entries go stale when a deadline
    /// moves or a transaction ends; `filed` holds the current one, and stale entries are
    /// skipped when they come up. Without it each packet would scan every transaction (a
    /// REGISTER's lingers 32 s on UDP, so at R/s some 64·R are alive).
    timers: BinaryHeap<Reverse<(Instant, TransactionId)>>,
    filed: HashMap<TransactionId, Instant>,
}

fn server_key(req: &Request) -> Option<ServerKey> {
    let via = req.headers.top_via().ok()?;
    let branch = via.branch()?;
    if !branch.starts_with(BRANCH_MAGIC) {
        // RFC 2543 peers are not matched; every message is a new transaction.
        return None;
    }
    let method = match &req.method {
        Method::Ack => Method::Invite,
        m => m.clone(),
    };
    Some(ServerKey {
        branch: branch.to_owned(),
        sent_by: via.sent_by(),
        method,
    })
}

fn client_key_of(headers: &crate::Headers) -> Option<ClientKey> {
    let via = headers.top_via().ok()?;
    Some(ClientKey {
        branch: via.branch()?.to_owned(),
        method: headers.cseq().ok()?.method,
    })
}

/// §18.2.1: record where a request really came from in its top Via.
fn stamp_received(req: &mut Request, source: &str) {
    let Some((host, port)) = source.rsplit_once(':') else {
        return;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let Ok(mut via) = req.headers.top_via() else {
        return;
    };
    let mut changed = false;
    if !via
        .host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .eq_ignore_ascii_case(host)
    {
        via.params.set("received", Some(host));
        changed = true;
    }
    if via.rport() == Some(None) {
        via.params.set("rport", Some(port));
        changed = true;
    }
    if changed {
        if let Some(h) = req.headers.0.iter_mut().find(|h| h.name == HeaderName::Via) {
            h.value = via.to_string();
        }
    }
}

impl TransactionLayer {
    pub fn new(cfg: TimerConfig) -> Self {
        Self {
            cfg,
            ..Self::default()
        }
    }

    pub fn timers(&self) -> &TimerConfig {
        &self.cfg
    }

    fn alloc_id(&mut self) -> TransactionId {
        self.next_id += 1;
        TransactionId(self.next_id)
    }

    /// Feeds received bytes or a transport failure.
    pub fn handle_input(&mut self, input: Input, now: Instant) {
        match input {
            Input::Receive { peer, bytes } => match parse(&bytes) {
                Ok(Message::Request(r)) => self.on_request(r, peer, now),
                Ok(Message::Response(r)) => self.on_response(r, peer, now),
                Err(e) => {
                    if let Rejection::Respond(r) = reject(&bytes, &e) {
                        transmit(&mut self.out, &peer, &r.to_bytes());
                    }
                }
            },
            Input::TransportError { flow } => self.on_flow_error(flow),
        }
    }

    fn on_request(&mut self, mut req: Request, peer: Peer, now: Instant) {
        stamp_received(&mut req, &peer.addr);
        let key = server_key(&req);
        if let Some(id) = key.as_ref().and_then(|k| self.server_keys.get(k)).copied() {
            let mut pass_ack = false;
            if let Some((_, tx)) = self.servers.get_mut(&id) {
                pass_ack = tx.on_request(&req, &self.cfg, now, &mut self.out);
            }
            self.reap_server(id);
            if pass_ack {
                self.event(Event::Request {
                    tx: None,
                    peer,
                    request: req,
                    cancels: None,
                });
            }
            return;
        }
        if req.method == Method::Ack {
            // ACK for a 2xx is its own transaction-less request (§17.1.1.3, §13.3.1.4).
            self.event(Event::Request {
                tx: None,
                peer,
                request: req,
                cancels: None,
            });
            return;
        }
        let cancels = match (&req.method, &key) {
            (Method::Cancel, Some(k)) => self
                .server_keys
                .get(&ServerKey {
                    method: Method::Invite,
                    ..k.clone()
                })
                .copied(),
            _ => None,
        };
        let id = self.alloc_id();
        let tx = ServerTx::new(id, req.clone(), peer.clone(), &self.cfg, now);
        let key = key.unwrap_or_else(|| ServerKey {
            // Unmatchable key for pre-RFC 3261 branches.
            branch: format!("legacy-{}", id.0),
            sent_by: String::new(),
            method: req.method.clone(),
        });
        self.server_keys.insert(key.clone(), id);
        self.servers.insert(id, (key, tx));
        self.reap_server(id);
        self.event(Event::Request {
            tx: Some(id),
            peer,
            request: req,
            cancels,
        });
    }

    fn on_response(&mut self, resp: Response, peer: Peer, now: Instant) {
        let id = client_key_of(&resp.headers).and_then(|k| self.client_keys.get(&k).copied());
        match id.and_then(|id| self.clients.get_mut(&id).map(|(_, tx)| (id, tx))) {
            Some((id, tx)) => {
                tx.on_response(resp, &self.cfg, now, &mut self.out);
                self.reap_client(id);
            }
            None => self.event(Event::StrayResponse {
                peer,
                response: resp,
            }),
        }
    }

    fn on_flow_error(&mut self, flow: FlowId) {
        let clients: Vec<_> = self
            .clients
            .iter()
            .filter(|(_, (_, t))| t.peer.flow == flow)
            .map(|(id, _)| *id)
            .collect();
        for id in clients {
            if let Some((_, tx)) = self.clients.get_mut(&id) {
                tx.on_transport_error(&mut self.out);
            }
            self.reap_client(id);
        }
        let servers: Vec<_> = self
            .servers
            .iter()
            .filter(|(_, (_, t))| t.peer.flow == flow)
            .map(|(id, _)| *id)
            .collect();
        for id in servers {
            if let Some((_, tx)) = self.servers.get_mut(&id) {
                tx.on_transport_error(&mut self.out);
            }
            self.reap_server(id);
        }
    }

    /// Starts a client transaction. The request must carry its top Via with a
    /// fresh `z9hG4bK` branch (see [`crate::response::new_branch`]).
    pub fn send_request(
        &mut self,
        req: Request,
        peer: Peer,
        now: Instant,
    ) -> Result<TransactionId, TransactionError> {
        if req.method == Method::Ack {
            return Err(TransactionError::AckNotAllowed);
        }
        let key = client_key_of(&req.headers).ok_or(TransactionError::MissingBranch)?;
        if !key.branch.starts_with(BRANCH_MAGIC) {
            return Err(TransactionError::MissingBranch);
        }
        if self.client_keys.contains_key(&key) {
            return Err(TransactionError::Duplicate);
        }
        let id = self.alloc_id();
        let tx = ClientTx::start(id, req, peer, &self.cfg, now, &mut self.out);
        self.client_keys.insert(key.clone(), id);
        self.clients.insert(id, (key, tx));
        self.reap_client(id);
        Ok(id)
    }

    /// Sends a response through server transaction `tx`.
    pub fn send_response(
        &mut self,
        tx: TransactionId,
        resp: &Response,
        now: Instant,
    ) -> Result<(), TransactionError> {
        let (key, t) = self.servers.get_mut(&tx).ok_or(TransactionError::Unknown)?;
        let same = resp
            .headers
            .top_via()
            .ok()
            .and_then(|v| v.branch().map(str::to_owned));
        if same.as_deref() != Some(key.branch.as_str()) && !key.branch.starts_with("legacy-") {
            return Err(TransactionError::Mismatch);
        }
        let r = t.send(resp, &self.cfg, now, &mut self.out);
        self.reap_server(tx);
        r
    }

    /// Sends bytes outside any transaction (ACK for 2xx, 2xx retransmissions, stateless replies).
    pub fn send_stateless(&mut self, peer: &Peer, bytes: bytes::Bytes) {
        transmit(&mut self.out, peer, &bytes);
    }

    /// The request a server transaction was created for.
    pub fn server_request(&self, tx: TransactionId) -> Option<&Request> {
        self.servers.get(&tx).map(|(_, t)| &t.request)
    }

    /// Where a server transaction's request came from (and its responses go).
    pub fn server_peer(&self, tx: TransactionId) -> Option<&Peer> {
        self.servers.get(&tx).map(|(_, t)| &t.peer)
    }

    /// The request a client transaction sent.
    pub fn client_request(&self, tx: TransactionId) -> Option<&Request> {
        self.clients.get(&tx).map(|(_, t)| &t.request)
    }

    pub fn kind(&self, tx: TransactionId) -> Option<TransactionKind> {
        if let Some((_, t)) = self.clients.get(&tx) {
            return Some(if t.invite {
                TransactionKind::ClientInvite
            } else {
                TransactionKind::ClientNonInvite
            });
        }
        self.servers.get(&tx).map(|(_, t)| {
            if t.invite {
                TransactionKind::ServerInvite
            } else {
                TransactionKind::ServerNonInvite
            }
        })
    }

    pub fn client_state(&self, tx: TransactionId) -> Option<ClientState> {
        self.clients.get(&tx).map(|(_, t)| t.state)
    }

    pub fn server_state(&self, tx: TransactionId) -> Option<ServerState> {
        self.servers.get(&tx).map(|(_, t)| t.state)
    }

    /// Number of live transactions.
    pub fn len(&self) -> usize {
        self.clients.len() + self.servers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&Reverse((at, id))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            if self.filed.get(&id) != Some(&at) {
                continue; // superseded or ended
            }
            self.filed.remove(&id);
            if let Some((_, t)) = self.clients.get_mut(&id) {
                if t.next_deadline().is_some_and(|d| d <= now) {
                    t.on_timer(&self.cfg, now, &mut self.out);
                }
                self.reap_client(id);
            } else if let Some((_, t)) = self.servers.get_mut(&id) {
                if t.next_deadline().is_some_and(|d| d <= now) {
                    t.on_timer(&self.cfg, now, &mut self.out);
                }
                self.reap_server(id);
            }
        }
    }

    /// When [`Self::handle_timeout`] is due next (possibly early: a stale entry costs one
    /// wake-up that finds nothing to do).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((at, _))| *at)
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    fn event(&mut self, e: Event) {
        self.out.push_back(Output::Event(e));
    }

    /// After a client transaction moved: forget it if it ended, else file its next deadline.
    fn reap_client(&mut self, id: TransactionId) {
        let next = match self.clients.get(&id) {
            Some((_, t)) if t.state == ClientState::Terminated => {
                if let Some((k, _)) = self.clients.remove(&id) {
                    self.client_keys.remove(&k);
                }
                None
            }
            Some((_, t)) => t.next_deadline(),
            None => None,
        };
        self.file(id, next);
    }

    /// After a server transaction moved: forget it if it ended, else file its next deadline.
    fn reap_server(&mut self, id: TransactionId) {
        let next = match self.servers.get(&id) {
            Some((_, t)) if t.state == ServerState::Terminated => {
                if let Some((k, _)) = self.servers.remove(&id) {
                    self.server_keys.remove(&k);
                }
                None
            }
            Some((_, t)) => t.next_deadline(),
            None => None,
        };
        self.file(id, next);
    }

    fn file(&mut self, id: TransactionId, next: Option<Instant>) {
        match next {
            Some(at) if self.filed.get(&id) != Some(&at) => {
                self.filed.insert(id, at);
                self.timers.push(Reverse((at, id)));
            }
            Some(_) => {}
            None => {
                self.filed.remove(&id);
            }
        }
    }
}
