//! OPTIONS pings to desk phones registered over UDP. A UDP binding has no connection whose loss
//! would tell us the phone is gone (TCP, TLS and WebSocket bindings die with their flow), and a
//! NAT binding in front of the phone closes when nothing passes for a while; so each UDP
//! binding is asked every interval and dropped after [`MAX_MISSES`] pings in a row went
//! unanswered (no final response by the next round, or the transaction timed out). Any final
//! response counts as alive: a phone answering 405 to OPTIONS is still there.

use std::collections::HashMap;
use std::time::Instant;

use switchboard_sip::header::HeaderName;
use switchboard_sip::response::random_token;
use switchboard_sip::transaction::TransactionId;
use switchboard_sip::{Method, Peer, Request, Uri};

use super::{Runtime, ALLOW};
use crate::transport::Transport;

/// Unanswered pings in a row after which a UDP binding is dropped.
pub(super) const MAX_MISSES: u8 = 3;

#[derive(Default)]
pub(super) struct Pinger {
    pub(super) next_round: Option<Instant>,
    /// Pings in flight: the binding each one asks about.
    inflight: HashMap<TransactionId, (String, Uri)>,
    /// Consecutive unanswered pings per binding (AOR, contact URI as text).
    misses: HashMap<(String, String), u8>,
}

impl Runtime {
    /// Starts a round of pings when one is due, and schedules the next.
    pub(super) fn on_ping_due(&mut self, now: Instant) {
        let interval = self.config.sip_ping_interval;
        if interval.is_zero() {
            self.pinger.next_round = None;
            return;
        }
        if self.pinger.next_round.is_none_or(|t| t > now) {
            return;
        }
        self.pinger.next_round = Some(now + interval);
        let unanswered: Vec<_> = self.pinger.inflight.drain().map(|(_, k)| k).collect();
        for key in unanswered {
            self.count_miss(key, now);
        }
        let mut targets = Vec::new();
        for aor in self.aor_owner.keys() {
            for b in self.registrar.lookup(aor, now) {
                let udp = self
                    .flows
                    .get(&b.flow)
                    .is_some_and(|f| f.link.transport == Transport::Udp);
                if udp {
                    let peer = Peer {
                        flow: b.flow,
                        addr: b.source.clone(),
                        reliable: false,
                    };
                    targets.push((aor.clone(), b.contact.uri.clone(), peer));
                }
            }
        }
        // Forget counters of bindings that are gone (one set, not a scan per counter).
        let live: std::collections::HashSet<(String, String)> = targets
            .iter()
            .map(|(a, u, _)| (a.clone(), u.to_string()))
            .collect();
        self.pinger.misses.retain(|k, _| live.contains(k));
        for (aor, uri, peer) in targets {
            let req = self.options_request(&aor, &uri, peer.flow);
            match self.layer.send_request(req, peer, now) {
                Ok(tx) => {
                    self.pinger.inflight.insert(tx, (aor, uri));
                }
                Err(e) => tracing::debug!("OPTIONS ping not sent: {e}"),
            }
        }
    }

    fn options_request(&self, aor: &str, uri: &Uri, flow: switchboard_sip::FlowId) -> Request {
        let mut req = Request::new(Method::Options, uri.clone());
        let h = &mut req.headers;
        h.push(HeaderName::Via, self.via_for(flow).to_string());
        h.push(HeaderName::MaxForwards, "70");
        let domain = aor.rsplit_once('@').map_or(aor, |(_, d)| d);
        h.push(
            HeaderName::From,
            format!("<sip:ping@{domain}>;tag={}", random_token()),
        );
        h.push(HeaderName::To, format!("<{aor}>"));
        h.push(HeaderName::CallId, random_token());
        h.push(HeaderName::CSeq, "1 OPTIONS");
        h.push(HeaderName::Allow, ALLOW);
        h.push(HeaderName::ContentLength, "0");
        req
    }

    /// A final response to one of our pings: the phone is alive. `false`: not a ping.
    pub(super) fn on_ping_response(&mut self, tx: TransactionId, status: u16) -> bool {
        if status < 200 {
            return self.pinger.inflight.contains_key(&tx);
        }
        match self.pinger.inflight.remove(&tx) {
            Some((aor, uri)) => {
                self.pinger.misses.remove(&(aor, uri.to_string()));
                true
            }
            None => false,
        }
    }

    /// A ping timed out (Timer F) or could not be sent. `false`: not a ping.
    pub(super) fn on_ping_failure(&mut self, tx: TransactionId, now: Instant) -> bool {
        let Some(key) = self.pinger.inflight.remove(&tx) else {
            return false;
        };
        self.count_miss(key, now);
        true
    }

    /// One more unanswered ping: after too many in a row the binding goes.
    fn count_miss(&mut self, (aor, uri): (String, Uri), now: Instant) {
        let key = (aor, uri.to_string());
        let misses = self.pinger.misses.entry(key.clone()).or_default();
        *misses += 1;
        if *misses >= MAX_MISSES {
            self.pinger.misses.remove(&key);
            let aor = key.0;
            if self.registrar.remove_binding(&aor, &uri) {
                tracing::info!(%aor, contact = %uri, "udp binding silent; dropped");
                self.registration_changed(&aor, now);
            }
        }
    }
}
