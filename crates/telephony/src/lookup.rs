//! Store queries of the runtime. They run on spawned tasks, never on the runtime itself.

use std::net::SocketAddr;

use switchboard_calls::flow::Step;
use switchboard_sip::registrant::{ProxyAddr, ProxyTransport};
use switchboard_store::{Store, StoreResult};

use crate::transport::Transport;

/// What the runtime needs to authenticate a request and check the identity it claims.
#[derive(Debug, Clone)]
pub struct DeviceAuth {
    pub domain_id: i64,
    pub device_id: i64,
    pub device_name: String,
    pub device_brand: String,
    /// MD5(account:realm:password).
    pub ha1: String,
    /// The user whose extension the request claims (AOR of a REGISTER, From of an INVITE), when
    /// that user exists and this device is theirs (their default device or one of their devices).
    pub owner: Option<Owner>,
}

/// A user as the runtime tracks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub user_id: i64,
    pub extension: String,
    pub name: String,
}

/// Finds the device named by a digest username in the domain named by the realm, and whether
/// the user with `extension` owns it. `Ok(None)`: no such device.
pub async fn device_auth(
    store: &Store,
    realm: &str,
    account: &str,
    extension: &str,
) -> StoreResult<Option<DeviceAuth>> {
    Ok(store
        .sip_credentials(realm, account, extension)
        .await?
        .map(|c| DeviceAuth {
            domain_id: c.domain_id,
            device_id: c.device_id,
            device_name: c.device_name,
            device_brand: c.brand,
            ha1: c.ha1,
            owner: c.owner.map(|o| Owner {
                user_id: o.user_id,
                extension: o.extension,
                name: o.name,
            }),
        }))
}

/// The user a dialled extension names, in a domain.
pub async fn user_by_extension(
    store: &Store,
    domain_id: i64,
    extension: &str,
) -> StoreResult<Option<Owner>> {
    Ok(store
        .user_by_extension(domain_id, extension)
        .await?
        .map(|u| Owner {
            user_id: u.id,
            extension: u.extension.clone(),
            name: u.display_name().to_string(),
        }))
}

/// Where a gateway's requests go: the proxy's address, the transport, and its host name (what
/// a TLS certificate is checked against).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ProxyLink {
    pub(crate) addr: SocketAddr,
    pub(crate) transport: Transport,
    pub(crate) host: String,
}

impl ProxyLink {
    /// A gateway's parsed `proxy` as resolved to `addr`. The REST API admits only UDP, TCP
    /// and TLS proxies.
    pub(crate) fn resolved(proxy: &ProxyAddr, addr: SocketAddr) -> Self {
        let transport = match proxy.transport {
            ProxyTransport::Tcp => Transport::Tcp,
            ProxyTransport::Tls => Transport::Tls,
            _ => Transport::Udp,
        };
        let host = proxy.host.trim_start_matches('[').trim_end_matches(']');
        Self {
            addr,
            transport,
            host: host.to_owned(),
        }
    }
}

/// One gateway to try for a dialled number that is no extension.
#[derive(Debug, Clone)]
pub struct GatewayDial {
    pub creds: switchboard_store::GatewayCredentials,
    /// The number as the provider gets it (the bridge's dial string, expanded).
    pub number: String,
    /// Where the proxy resolved to, and over what.
    pub(crate) link: ProxyLink,
    /// The Request-URI host: the gateway's `host` (trunk mode) or its proxy host.
    pub host: String,
}

/// What a dialled number leads to.
#[derive(Debug, Clone)]
pub enum Resolution {
    User(Owner),
    /// An outbound route's schema bridges it to these gateways, in failover order.
    Gateways(Vec<GatewayDial>),
    /// The schema puts the caller in a contact-center queue; `after` are the schema's steps
    /// that follow, for a caller who leaves the queue without an agent.
    Queue {
        queue_id: i64,
        name: String,
        after: Vec<Step>,
    },
    Nothing,
}

/// Resolves a dialled number: a user's extension, else the outbound route whose pattern
/// matches, whose schema's first `bridge` names the gateways (and users) to ring.
pub async fn resolve(store: &Store, domain_id: i64, destination: &str) -> StoreResult<Resolution> {
    if let Some(owner) = user_by_extension(store, domain_id, destination).await? {
        return Ok(Resolution::User(owner));
    }
    let Some(route) = store.match_outbound_route(domain_id, destination).await? else {
        return Ok(Resolution::Nothing);
    };
    // The route pattern's capture groups feed `$1`… in dial strings.
    let captures = regex_captures(&route.pattern, destination);
    by_schema(store, domain_id, route.schema.0, destination, &captures).await
}

/// What a routing schema does with `destination`: its first `joinQueue` or `bridge`, whichever
/// comes first. A bridge rings the first user endpoint that exists, else its gateways in order.
pub async fn by_schema(
    store: &Store,
    domain_id: i64,
    schema_id: i64,
    destination: &str,
    captures: &[String],
) -> StoreResult<Resolution> {
    let schema = store.get_schema(domain_id, schema_id).await?;
    let steps = match switchboard_calls::flow::parse_flow(&schema.flow) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(schema = schema.id, "routing schema unusable: {e}");
            return Ok(Resolution::Nothing);
        }
    };
    let Some(at) = steps
        .iter()
        .position(|s| matches!(s, Step::Bridge(_) | Step::JoinQueue(_)))
    else {
        return Ok(Resolution::Nothing);
    };
    let mut steps = steps;
    let after = steps.split_off(at + 1);
    let bridge = match steps.pop() {
        Some(Step::Bridge(b)) => b,
        Some(Step::JoinQueue(q)) => {
            let Some(queue_id) = q.queue_id else {
                tracing::warn!(schema = schema.id, "joinQueue names no queue id");
                return Ok(Resolution::Nothing);
            };
            return Ok(Resolution::Queue {
                queue_id,
                name: q.queue_name.unwrap_or_default(),
                after,
            });
        }
        _ => return Ok(Resolution::Nothing),
    };
    let caps: Vec<&str> = captures.iter().map(String::as_str).collect();
    let mut dials = Vec::new();
    for ep in bridge.endpoints {
        match ep {
            switchboard_calls::flow::Endpoint::User {
                extension: Some(ext),
                ..
            } => {
                if let Some(owner) = user_by_extension(store, domain_id, &ext).await? {
                    if dials.is_empty() {
                        return Ok(Resolution::User(owner));
                    }
                }
            }
            switchboard_calls::flow::Endpoint::User { .. } => {}
            switchboard_calls::flow::Endpoint::Gateway {
                id,
                name,
                dial_string,
            } => {
                let gw_id = match (id, name) {
                    (Some(id), _) => Some(id),
                    (None, Some(n)) => store.gateway_by_name(domain_id, &n).await?.map(|g| g.id),
                    (None, None) => None,
                };
                let Some(gw_id) = gw_id else { continue };
                let number = switchboard_calls::flow::expand(&dial_string, destination, &caps);
                if let Some(d) = gateway_dial(store, domain_id, gw_id, number).await? {
                    dials.push(d);
                }
            }
        }
    }
    Ok(if dials.is_empty() {
        Resolution::Nothing
    } else {
        Resolution::Gateways(dials)
    })
}

/// How to reach `number` through gateway `gw_id`: its credentials (one read: they carry
/// what routing needs of the gateway) and where its proxy is. `None`: disabled, or its proxy
/// is unusable (logged).
pub async fn gateway_dial(
    store: &Store,
    domain_id: i64,
    gw_id: i64,
    number: String,
) -> StoreResult<Option<GatewayDial>> {
    let creds = store.gateway_credentials(domain_id, gw_id).await?;
    if !creds.enable {
        return Ok(None);
    }
    let Ok(proxy) = switchboard_sip::registrant::ProxyAddr::parse(&creds.proxy) else {
        return Ok(None);
    };
    let Some(addr) = resolve_proxy(&proxy).await else {
        return Ok(None);
    };
    let link = ProxyLink::resolved(&proxy, addr);
    let host = if creds.register || creds.host.is_empty() {
        match proxy.port {
            Some(p) => format!("{}:{p}", proxy.host),
            None => proxy.host.clone(),
        }
    } else {
        creds.host.clone()
    };
    Ok(Some(GatewayDial {
        creds,
        number,
        link,
        host,
    }))
}

/// Where a gateway's proxy is: its first IPv4 address (trunks go out over our IPv4 UDP socket).
/// Why not, logged.
pub async fn resolve_proxy(
    proxy: &switchboard_sip::registrant::ProxyAddr,
) -> Option<std::net::SocketAddr> {
    let host = proxy.host.trim_start_matches('[').trim_end_matches(']');
    match tokio::net::lookup_host((host, proxy.port_or_default())).await {
        Ok(mut addrs) => {
            let found = addrs.find(std::net::SocketAddr::is_ipv4);
            if found.is_none() {
                tracing::warn!(%host, "gateway proxy has no IPv4 address");
            }
            found
        }
        Err(e) => {
            tracing::warn!(%host, "gateway proxy does not resolve: {e}");
            None
        }
    }
}

fn regex_captures(pattern: &str, destination: &str) -> Vec<String> {
    let Ok(re) = regex::Regex::new(pattern) else {
        return Vec::new();
    };
    re.captures(destination)
        .map(|c| {
            c.iter()
                .skip(1)
                .map(|m| m.map(|m| m.as_str().to_owned()).unwrap_or_default())
                .collect()
        })
        .unwrap_or_default()
}
