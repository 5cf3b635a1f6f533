//! Register-mode gateways: Switchboard registers out to each provider as a client. The
//! registration itself is the sans-IO [`Registrant`]; this module feeds it the gateways of the
//! store (reloaded every [`RELOAD`], since the REST API writes them), sends its REGISTERs
//! through the transaction layer over our UDP socket, routes the answers back and records
//! `r_state` in the store whenever it changes.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use switchboard_sip::header::name_addr::NameAddr;
use switchboard_sip::registrant::{GatewayAddr, RState, Registrant, RegistrantConfig};
use switchboard_sip::transaction::TransactionId;
use switchboard_sip::{FlowId, Peer, Response, SipUri, Uri};
use switchboard_store::GatewayCredentials;

use super::{Command, Runtime};
use crate::transport::Transport;

/// How often the gateway list is read again.
pub(super) const RELOAD: Duration = Duration::from_secs(5);

/// A gateway as loaded: its row and where its proxy resolved to.
pub(crate) struct GatewayTarget {
    pub(crate) creds: GatewayCredentials,
    pub(crate) proxy: SocketAddr,
}

struct Gateway {
    domain_id: i64,
    /// What the registrant was built from: a change means a new registrant.
    fingerprint: String,
    proxy: SocketAddr,
    registrant: Registrant,
    reported: RState,
    /// Removed or disabled: unregistering, then forgotten.
    stopping: bool,
}

#[derive(Default)]
pub(super) struct Trunks {
    gateways: HashMap<i64, Gateway>,
    tx: HashMap<TransactionId, i64>,
    pub(super) next_reload: Option<Instant>,
}

impl Trunks {
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        self.gateways
            .values()
            .filter_map(|g| g.registrant.poll_timeout())
            .chain(self.next_reload)
            .min()
    }

    /// Whether `source` is the proxy of a registered gateway.
    pub(super) fn registered_proxy(&self, source: SocketAddr) -> Option<(i64, i64)> {
        self.gateways.iter().find_map(|(id, g)| {
            (g.registrant.state() == RState::Registered && g.proxy.ip() == source.ip())
                .then_some((g.domain_id, *id))
        })
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
                let proxy = match GatewayAddr::parse(&creds.account, &creds.proxy) {
                    Ok(a) => a.proxy,
                    Err(e) => {
                        tracing::warn!(gateway = creds.gateway_id, "gateway not usable: {e}");
                        continue;
                    }
                };
                if let Some(proxy) = crate::lookup::resolve_proxy(&proxy).await {
                    targets.push(GatewayTarget { creds, proxy });
                }
            }
            let _ = commands.send(Command::Gateways(targets)).await;
        });
    }

    /// A fresh gateway list: new gateways start registering, changed ones start over,
    /// removed or disabled ones unregister.
    pub(super) fn on_gateways(&mut self, targets: Vec<GatewayTarget>, now: Instant) {
        self.trunks.next_reload = Some(now + RELOAD);
        let Some((flow, local)) = self.udp_flow() else {
            return;
        };
        let mut seen = Vec::with_capacity(targets.len());
        for t in targets {
            let id = t.creds.gateway_id;
            seen.push(id);
            let fp = fingerprint(&t.creds, t.proxy);
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
            let addr = match GatewayAddr::parse(&t.creds.account, &t.creds.proxy) {
                Ok(a) => a,
                Err(_) => continue,
            };
            let user = addr.aor.user.clone();
            let mut contact_uri = SipUri::new(user.as_deref(), &super::host_of(local));
            contact_uri.port = Some(local.port());
            let cfg = RegistrantConfig::new(
                &addr,
                &t.creds.username,
                &t.creds.password,
                u32::try_from(t.creds.expires).unwrap_or(600),
                NameAddr::new(Uri::Sip(contact_uri)),
                rand::random(),
            );
            let mut registrant = Registrant::new(cfg);
            registrant.start(now);
            tracing::info!(gateway = id, name = %t.creds.name, "registering to the provider");
            self.trunks.gateways.insert(
                id,
                Gateway {
                    domain_id: t.creds.domain_id,
                    fingerprint: fp,
                    proxy: t.proxy,
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
        self.pump_trunks(flow, now);
    }

    /// Timers of the registrants and of the reload.
    pub(super) fn on_trunks_timeout(&mut self, now: Instant) {
        for g in self.trunks.gateways.values_mut() {
            if g.registrant.poll_timeout().is_some_and(|t| t <= now) {
                g.registrant.handle_timeout(now);
            }
        }
        self.on_trunks_reload_due(now);
        if let Some((flow, _)) = self.udp_flow() {
            self.pump_trunks(flow, now);
        }
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
        if let Some((flow, _)) = self.udp_flow() {
            self.pump_trunks(flow, now);
        }
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
        if let Some((flow, _)) = self.udp_flow() {
            self.pump_trunks(flow, now);
        }
        true
    }

    /// Sends what the registrants want sent, forgets the ones that finished unregistering,
    /// and records state changes.
    fn pump_trunks(&mut self, flow: FlowId, now: Instant) {
        let ids: Vec<i64> = self.trunks.gateways.keys().copied().collect();
        for id in ids {
            // A Via (a fresh branch) only for a registrant that has a request to send.
            let pending = self
                .trunks
                .gateways
                .get(&id)
                .is_some_and(|g| g.registrant.has_request());
            let via = pending.then(|| self.via_for(flow));
            let Some(g) = self.trunks.gateways.get_mut(&id) else {
                continue;
            };
            if let Some(req) = via.and_then(|v| g.registrant.poll_request(v)) {
                let peer = Peer {
                    flow,
                    addr: g.proxy.to_string(),
                    reliable: false,
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
            let Some(g) = self.trunks.gateways.get_mut(&id) else {
                continue;
            };
            let state = g.registrant.state();
            if state != g.reported {
                g.reported = state;
                tracing::info!(gateway = id, state = state.name(), "gateway registration");
                let (store, domain) = (self.store.clone(), g.domain_id);
                tokio::spawn(async move {
                    if let Err(e) = store
                        .set_gateway_state(domain, id, i64::from(state.as_i32()))
                        .await
                    {
                        tracing::debug!(gateway = id, "r_state not recorded: {e}");
                    }
                });
            }
        }
        // Stopped registrants that are done unregistering can go.
        self.trunks
            .gateways
            .retain(|_, g| !(g.stopping && g.registrant.state() == RState::NotRegistered));
    }

    /// Our UDP listener's flow and address (trunks register over UDP).
    pub(super) fn udp_flow(&self) -> Option<(FlowId, SocketAddr)> {
        self.flows.iter().find_map(|(id, f)| {
            (f.link.transport == Transport::Udp)
                .then_some(f.link.local)
                .flatten()
                .map(|l| (*id, l))
        })
    }
}
