//! Register-mode gateways: Switchboard registers out to each provider as a client. The
//! registration itself is the sans-IO [`Registrant`]; this module feeds it the gateways of the
//! store (reloaded every [`RELOAD`], since the REST API writes them), sends its REGISTERs
//! through the transaction layer, routes the answers back and records `r_state` in the store
//! whenever it changes. A proxy named `;transport=tcp` or `sips:` is reached over a
//! connection of ours, one per proxy, shared by its gateways and their calls; when it drops,
//! the gateways on it register again over a new one.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use tracing::Instrument;

use switchboard_sip::header::name_addr::NameAddr;
use switchboard_sip::registrant::{GatewayAddr, RState, Registrant, RegistrantConfig};
use switchboard_sip::transaction::TransactionId;
use switchboard_sip::{FlowId, Peer, Response, SipUri, Uri};
use switchboard_store::GatewayCredentials;

use tokio::sync::mpsc;

use super::{Command, Flow, Runtime};
use crate::lookup::ProxyLink;
use crate::transport::{stream, Link, Sink, Transport};

/// How often the gateway list is read again.
pub(super) const RELOAD: Duration = Duration::from_secs(5);

/// A gateway as loaded: its row and where its proxy resolved to.
pub(crate) struct GatewayTarget {
    pub(crate) creds: GatewayCredentials,
    pub(crate) addr: GatewayAddr,
    pub(crate) link: ProxyLink,
}

struct Gateway {
    domain_id: i64,
    /// What the registrant was built from: a change means a new registrant.
    fingerprint: String,
    proxy: ProxyLink,
    registrant: Registrant,
    reported: RState,
    /// Removed or disabled: unregistering, then forgotten.
    stopping: bool,
}

pub(super) struct Trunks {
    gateways: HashMap<i64, Gateway>,
    tx: HashMap<TransactionId, i64>,
    pub(super) next_reload: Option<Instant>,
    /// `r_state` changes in the order they happened: one writer, so a quick 401-then-200
    /// never leaves the older state in the store.
    states: Option<mpsc::UnboundedSender<(i64, i64, RState)>>,
    /// Our connections to proxies over TCP and TLS.
    links: HashMap<ProxyLink, FlowId>,
    flow_ids: Arc<AtomicU64>,
    tls: Arc<tokio_rustls::TlsConnector>,
}

impl Trunks {
    pub(super) fn new(flow_ids: Arc<AtomicU64>, tls: Arc<tokio_rustls::TlsConnector>) -> Self {
        Self {
            gateways: HashMap::new(),
            tx: HashMap::new(),
            next_reload: None,
            states: None,
            links: HashMap::new(),
            flow_ids,
            tls,
        }
    }

    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        self.gateways
            .values()
            .filter_map(|g| g.registrant.poll_timeout())
            .chain(self.next_reload)
            .min()
    }

    /// Whether a request from `source` on `flow` comes from the proxy of a registered
    /// gateway: over UDP from its address and port (a desk phone on the provider's host is
    /// still a phone), else over our connection to it.
    pub(super) fn registered_proxy(&self, source: SocketAddr, flow: FlowId) -> Option<(i64, i64)> {
        self.gateways.iter().find_map(|(id, g)| {
            let from_it = match g.proxy.transport {
                Transport::Udp => g.proxy.addr == source,
                _ => self.links.get(&g.proxy) == Some(&flow),
            };
            (g.registrant.state() == RState::Registered && from_it).then_some((g.domain_id, *id))
        })
    }
}

/// Writes `r_state` changes one after another, in the order they were sent.
async fn record_states(
    store: std::sync::Arc<switchboard_store::Store>,
    mut rx: mpsc::UnboundedReceiver<(i64, i64, RState)>,
) {
    while let Some((domain, id, state)) = rx.recv().await {
        if let Err(e) = store
            .set_gateway_state(domain, id, i64::from(state.as_i32()))
            .await
        {
            tracing::debug!(gateway = id, "r_state not recorded: {e}");
        }
    }
}

fn fingerprint(c: &GatewayCredentials, proxy: SocketAddr) -> String {
    // The password is part of it so a new one takes effect; the string never leaves memory.
    format!(
        "{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}\u{0}{proxy}",
        c.account, c.username, c.password, c.proxy, c.expires
    )
}

impl Runtime {
    /// Reads the gateway list off the actor; the result comes back as `Command::Gateways`.
    pub(super) fn on_trunks_reload_due(&mut self, now: Instant) {
        if self.trunks.next_reload.is_none_or(|t| t > now) {
            return;
        }
        self.trunks.next_reload = None;
        let store = self.store.clone();
        let commands = self.commands.clone();
        tokio::spawn(async move {
            let list = match store.registering_gateways().await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!("gateway list: {e}");
                    Vec::new()
                }
            };
            let mut targets = Vec::with_capacity(list.len());
            for creds in list {
                let addr = match GatewayAddr::parse(&creds.account, &creds.proxy) {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(gateway = creds.gateway_id, "gateway not usable: {e}");
                        continue;
                    }
                };
                if let Some(resolved) = crate::lookup::resolve_proxy(&addr.proxy).await {
                    let link = ProxyLink::resolved(&addr.proxy, resolved);
                    targets.push(GatewayTarget { creds, addr, link });
                }
            }
            let _ = commands.send(Command::Gateways(targets)).await;
        });
    }

    /// A fresh gateway list: new gateways start registering, changed ones start over,
    /// removed or disabled ones unregister.
    pub(super) fn on_gateways(&mut self, targets: Vec<GatewayTarget>, now: Instant) {
        self.trunks.next_reload = Some(now + RELOAD);
        let mut seen = Vec::with_capacity(targets.len());
        for t in targets {
            let id = t.creds.gateway_id;
            seen.push(id);
            let fp = fingerprint(&t.creds, t.link.addr);
            if self
                .trunks
                .gateways
                .get(&id)
                .is_some_and(|g| g.fingerprint == fp)
            {
                continue;
            }
            if let Some(mut old) = self.trunks.gateways.remove(&id) {
                old.registrant.stop(now);
            }
            let GatewayTarget {
                creds,
                addr,
                link: proxy,
            } = t;
            let Some(local) = self.trunk_local(proxy.transport) else {
                tracing::warn!(gateway = id, "no SIP listener for the gateway's transport");
                continue;
            };
            let user = addr.aor.user.clone();
            let mut contact_uri = SipUri::new(user.as_deref(), &super::host_of(local));
            contact_uri.port = Some(local.port());
            if proxy.transport != Transport::Udp {
                let token = proxy.transport.token().to_ascii_lowercase();
                contact_uri.params.set("transport", Some(&token));
            }
            let cfg = RegistrantConfig::new(
                &addr,
                &creds.username,
                &creds.password,
                u32::try_from(creds.expires).unwrap_or(600),
                NameAddr::new(Uri::Sip(contact_uri)),
                rand::random(),
            );
            let mut registrant = Registrant::new(cfg);
            registrant.start(now);
            tracing::info!(gateway = id, name = %creds.name, "registering to the provider");
            self.trunks.gateways.insert(
                id,
                Gateway {
                    domain_id: creds.domain_id,
                    fingerprint: fp,
                    proxy,
                    registrant,
                    reported: RState::NotRegistered,
                    stopping: false,
                },
            );
        }
        let gone: Vec<i64> = self
            .trunks
            .gateways
            .keys()
            .filter(|id| !seen.contains(id))
            .copied()
            .collect();
        for id in gone {
            if let Some(g) = self.trunks.gateways.get_mut(&id) {
                if !g.stopping {
                    g.stopping = true;
                    g.registrant.stop(now);
                }
            }
        }
        self.pump_trunks(now);
    }

    /// Timers of the registrants and of the reload.
    pub(super) fn on_trunks_timeout(&mut self, now: Instant) {
        for g in self.trunks.gateways.values_mut() {
            if g.registrant.poll_timeout().is_some_and(|t| t <= now) {
                g.registrant.handle_timeout(now);
            }
        }
        self.on_trunks_reload_due(now);
        self.pump_trunks(now);
    }

    /// A final or provisional response to a REGISTER of ours. `false`: not one.
    pub(super) fn on_trunk_response(
        &mut self,
        tx: TransactionId,
        resp: &Response,
        now: Instant,
    ) -> bool {
        let Some(&id) = self.trunks.tx.get(&tx) else {
            return false;
        };
        if resp.status >= 200 {
            self.trunks.tx.remove(&tx);
        }
        if let Some(g) = self.trunks.gateways.get_mut(&id) {
            g.registrant.handle_response(resp, now);
        }
        self.pump_trunks(now);
        true
    }

    /// Timer F or a transport failure of a REGISTER of ours. `false`: not one.
    pub(super) fn on_trunk_failure(
        &mut self,
        tx: TransactionId,
        timeout: bool,
        now: Instant,
    ) -> bool {
        let Some(id) = self.trunks.tx.remove(&tx) else {
            return false;
        };
        if let Some(g) = self.trunks.gateways.get_mut(&id) {
            if timeout {
                g.registrant.transaction_timeout(now);
            } else {
                g.registrant.transport_error(now);
            }
        }
        self.pump_trunks(now);
        true
    }

    /// Sends what the registrants want sent, forgets the ones that finished unregistering,
    /// and records state changes.
    fn pump_trunks(&mut self, now: Instant) {
        let ids: Vec<i64> = self.trunks.gateways.keys().copied().collect();
        for id in ids {
            self.send_due_register(id, now);
            self.record_trunk_state(id);
        }
        // Stopped registrants that are done unregistering can go.
        self.trunks
            .gateways
            .retain(|_, g| !(g.stopping && g.registrant.state() == RState::NotRegistered));
    }

    /// Sends the REGISTER gateway `id`'s registrant has due, if any, over its proxy's flow.
    fn send_due_register(&mut self, id: i64, now: Instant) {
        let Some(link) = self
            .trunks
            .gateways
            .get(&id)
            .filter(|g| g.registrant.has_request())
            .map(|g| g.proxy.clone())
        else {
            return;
        };
        let Some((flow, _)) = self.trunk_flow(&link) else {
            if let Some(g) = self.trunks.gateways.get_mut(&id) {
                g.registrant.transport_error(now);
            }
            return;
        };
        // A Via (a fresh branch) only for a registrant that has a request to send.
        let via = self.via_for(flow);
        let Some(g) = self.trunks.gateways.get_mut(&id) else {
            return;
        };
        let Some(req) = g.registrant.poll_request(via) else {
            return;
        };
        let peer = Peer {
            flow,
            addr: link.addr.to_string(),
            reliable: link.transport.reliable(),
        };
        match self.layer.send_request(req, peer, now) {
            Ok(tx) => {
                self.trunks.tx.insert(tx, id);
            }
            Err(e) => {
                tracing::warn!(gateway = id, "REGISTER not sent: {e}");
                g.registrant.transport_error(now);
            }
        }
    }

    /// Records a gateway's `r_state` if it changed since last recorded.
    fn record_trunk_state(&mut self, id: i64) {
        let Some(g) = self.trunks.gateways.get_mut(&id) else {
            return;
        };
        let state = g.registrant.state();
        if state == g.reported {
            return;
        }
        g.reported = state;
        tracing::info!(gateway = id, state = state.name(), "gateway registration");
        let domain = g.domain_id;
        let store = &self.store;
        let states = self.trunks.states.get_or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(record_states(store.clone(), rx));
            tx
        });
        let _ = states.send((domain, id, state));
    }

    /// Our address for a trunk over `transport` (Via, Contact): the UDP/TCP listener, or the
    /// TLS one for TLS when there is one.
    fn trunk_local(&self, transport: Transport) -> Option<SocketAddr> {
        match transport {
            Transport::Tls => self.sip_addrs.tls.or(self.sip_addrs.udp_tcp),
            _ => self.sip_addrs.udp_tcp,
        }
    }

    /// The flow to send to a trunk's proxy on, and our address on it: the UDP socket, or our
    /// connection to the proxy, opened now if there is none (requests queue while it opens).
    pub(crate) fn trunk_flow(&mut self, link: &ProxyLink) -> Option<(FlowId, SocketAddr)> {
        if link.transport == Transport::Udp {
            return self.udp_flow();
        }
        let local = self.trunk_local(link.transport)?;
        if let Some(&flow) = self.trunks.links.get(link) {
            if self.flows.contains_key(&flow) {
                return Some((flow, local));
            }
        }
        let tls = match link.transport {
            Transport::Tls => match ServerName::try_from(link.host.clone()) {
                Ok(name) => Some((self.trunks.tls.clone(), name)),
                Err(_) => {
                    tracing::warn!(host = %link.host, "gateway host is no TLS server name");
                    return None;
                }
            },
            _ => None,
        };
        let flow = FlowId(self.trunks.flow_ids.fetch_add(1, Ordering::Relaxed));
        let (tx, rx) = mpsc::channel(self.config.flow_queue);
        let sink = Sink::Stream(tx.clone());
        let peer = link.addr.to_string();
        let transport = link.transport;
        self.flows.insert(
            flow,
            Flow {
                link: Link {
                    transport,
                    peer,
                    local: Some(local),
                    sink,
                },
            },
        );
        self.trunks.links.insert(link.clone(), flow);
        let span = tracing::info_span!("sip_trunk", %flow, peer = %link.addr, transport = transport.token());
        tokio::spawn(
            stream::connect(self.commands.clone(), flow, link.addr, tls, tx, rx).instrument(span),
        );
        Some((flow, local))
    }

    /// A connection of ours to a proxy closed: its gateways register again over a new one.
    pub(super) fn on_trunk_flow_closed(&mut self, flow: FlowId, now: Instant) {
        let before = self.trunks.links.len();
        self.trunks.links.retain(|_, f| *f != flow);
        if self.trunks.links.len() == before {
            return;
        }
        let links = &self.trunks.links;
        for g in self.trunks.gateways.values_mut() {
            if g.proxy.transport != Transport::Udp && !links.contains_key(&g.proxy) {
                g.registrant.connection_lost(now);
            }
        }
        self.pump_trunks(now);
    }

    /// Our UDP listener's flow and address.
    pub(super) fn udp_flow(&self) -> Option<(FlowId, SocketAddr)> {
        self.udp.zip(self.sip_addrs.udp_tcp)
    }
}
