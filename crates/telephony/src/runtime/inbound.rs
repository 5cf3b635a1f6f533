//! Who an INVITE from outside a dialog comes from. A provider's: the proxy of a registered
//! gateway, or a source an IP trunk's access list admits (Webitel: `check_address`); such a
//! call needs no digest and is routed by its gateway's schema. A device's: its From names one
//! of our domains, and it answers our 407 challenge. Anything else is refused with 403, as
//! OpenSIPS does for a foreign host (`403 Forbidden auth host`).

use std::net::SocketAddr;
use std::time::Instant;

use switchboard_calls::Party;
use switchboard_sip::response::make_response;
use switchboard_sip::transaction::TransactionId;
use switchboard_sip::{Peer, Request, Uri};

use super::{Command, Runtime};
use crate::transport::Transport;

/// The verdict on an INVITE's source, found off the actor.
#[derive(Debug)]
pub(crate) enum Origin {
    Trunk(TrunkOrigin),
    /// From one of our domains: a device, to be challenged.
    Device,
    /// Neither a trunk nor a domain of ours.
    Foreign,
}

/// The trunk a call comes in on.
#[derive(Debug)]
pub(crate) struct TrunkOrigin {
    domain_id: i64,
    domain_name: String,
    gateway_id: i64,
    schema_id: Option<i64>,
}

impl Runtime {
    /// An INVITE outside any dialog.
    pub(super) fn on_new_invite(
        &mut self,
        tx: TransactionId,
        peer: Peer,
        req: Request,
        now: Instant,
    ) {
        // A device answering our challenge: straight to the digest check.
        let answered = req
            .headers
            .proxy_authorization()
            .is_ok_and(|a| !a.is_empty());
        // Trunks are UDP, TCP or TLS; browsers (WebSocket) are always devices.
        let ws = self
            .flows
            .get(&peer.flow)
            .is_none_or(|f| f.link.transport == Transport::Ws);
        let source: Option<SocketAddr> = peer.addr.parse().ok();
        let Some(source) = source.filter(|_| !answered && !ws) else {
            self.on_invite(tx, peer, req, now);
            return;
        };
        let registered = self.trunks.registered_proxy(source, peer.flow);
        let proto = self
            .flows
            .get(&peer.flow)
            .map_or("udp", |f| match f.link.transport {
                Transport::Tcp => "tcp",
                Transport::Tls => "tls",
                _ => "udp",
            });
        let to_host = super::to_identity(&req).map(|(host, _)| host);
        let from_host = super::calls::from_identity(&req).map(|(host, _)| host);
        let (store, commands) = (self.store.clone(), self.commands.clone());
        tokio::spawn(async move {
            let origin = async {
                if let Some((domain_id, gw)) = registered {
                    let g = store.get_gateway(domain_id, gw).await?;
                    let d = store.domain_by_id(domain_id).await?;
                    return Ok(Origin::Trunk(TrunkOrigin {
                        domain_id,
                        domain_name: d.name,
                        gateway_id: g.id,
                        schema_id: g.schema.map(|s| s.0),
                    }));
                }
                if let Some(m) = store
                    .trunk_for_source(source.ip(), source.port(), proto, to_host.as_deref())
                    .await?
                {
                    return Ok(Origin::Trunk(TrunkOrigin {
                        domain_id: m.domain_id,
                        domain_name: m.domain_name,
                        gateway_id: m.gateway.id,
                        schema_id: m.gateway.schema.map(|s| s.0),
                    }));
                }
                let ours = match from_host {
                    Some(h) => store.domain_by_name(&h).await?.is_some(),
                    None => false,
                };
                Ok::<_, switchboard_store::StoreError>(if ours {
                    Origin::Device
                } else {
                    Origin::Foreign
                })
            }
            .await
            .map_err(|e| e.to_string());
            let _ = commands.send(Command::Origin { tx, origin }).await;
        });
        self.pending_origin.insert(tx, peer);
    }

    pub(super) fn on_origin(
        &mut self,
        tx: TransactionId,
        origin: Result<Origin, String>,
        now: Instant,
    ) {
        let Some(peer) = self.pending_origin.remove(&tx) else {
            return;
        };
        let Some(req) = self.layer.server_request(tx).cloned() else {
            return;
        };
        match origin {
            Ok(Origin::Device) => self.on_invite(tx, peer, req, now),
            Ok(Origin::Foreign) => {
                tracing::info!(source = %peer.addr, "INVITE from a host that is no trunk: 403");
                let mut r =
                    make_response(&req, 403, Some(&switchboard_sip::response::random_token()));
                r.reason = "Forbidden auth host".to_string();
                self.respond(tx, r, now);
            }
            Ok(Origin::Trunk(trunk)) => self.start_trunk_call(tx, peer, req, trunk, now),
            Err(e) => {
                tracing::error!("trunk lookup failed: {e}");
                self.reply(tx, &req, 500, now);
            }
        }
    }

    /// A provider's call: the caller is the number in From, the callee whatever the
    /// gateway's schema bridges the dialled number to (an extension when it has none).
    fn start_trunk_call(
        &mut self,
        tx: TransactionId,
        peer: Peer,
        req: Request,
        trunk: TrunkOrigin,
        now: Instant,
    ) {
        let TrunkOrigin {
            domain_id,
            domain_name,
            gateway_id,
            schema_id,
        } = trunk;
        let from = req.headers.from().ok();
        let number = match from.as_ref().map(|f| &f.uri) {
            Some(Uri::Sip(u)) => u.user.clone().unwrap_or_default(),
            _ => String::new(),
        };
        let name = from
            .and_then(|f| f.display)
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| number.clone());
        // The dialled number: the To user (the Request-URI of a registered gateway's call is
        // our Contact, i.e. the account).
        let destination = match req.headers.to().ok().map(|t| t.uri) {
            Some(Uri::Sip(u)) => u.user.unwrap_or_default(),
            _ => String::new(),
        };
        tracing::info!(gateway = gateway_id, from = %number, to = %destination, "call from a trunk");
        let caller = Party {
            user_id: None,
            domain_id,
            extension: number,
            name,
        };
        let leg = self.engine.new_leg_id();
        if let Some(schema) = schema_id {
            self.calls.via_schema.insert(leg.0.clone(), schema);
        }
        self.calls.domains.insert(domain_id, domain_name);
        self.begin_incoming(tx, peer, req, leg, (caller, destination), now);
    }
}
