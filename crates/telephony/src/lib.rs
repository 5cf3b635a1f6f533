//! The telephony runtime: the I/O around the sans-IO SIP core that makes browser phones work.
//!
//! - [`transport`]: SIP over WebSocket (RFC 7118) at `GET /sip` on the HTTP listener, and over
//!   UDP, TCP and TLS for desk phones. Each connection (or UDP socket) is a flow ([`FlowId`]);
//!   everything addressed to a flow goes back over it (JsSIP's contact host is `*.invalid`).
//! - [`runtime`]: one task (an actor) owns the transaction layer, the registrar and the digest
//!   server. Transport tasks feed it over a channel; timers come from the cores' `poll_timeout`.
//!   Database lookups never run on it: they are spawned and their results come back as inputs,
//!   so one slow query never stalls signalling.
//! - [`lookup`]: the store queries the runtime needs (device credentials, AOR ownership).
//!
//! [`Telephony`] is the handle the rest of the process holds: it spawns the runtime, serves the
//! routes ([`routes`]) and answers questions such as "how many phones of this user are
//! registered" (presence).

mod contact_center;
mod control;
mod history;
pub mod lookup;
mod media;
pub mod runtime;
pub mod transport;

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde_json::Value;
use switchboard_api::ws::hub::EventHub;
use switchboard_media::{MediaHandle, MediaServer, MediaServerConfig, Recorder};
use switchboard_sip::registrar::RegistrarConfig;
use switchboard_sip::FlowId;
use switchboard_store::Store;
use tokio::sync::{broadcast, mpsc, oneshot};

pub use runtime::Stats;

/// Settings of the telephony runtime.
#[derive(Debug, Clone)]
pub struct TelephonyConfig {
    /// Address the media endpoints advertise as their ICE host candidate.
    pub media_address: IpAddr,
    /// First UDP port of the media sockets (one per media thread, consecutive); 0 = any free.
    pub media_port: u16,
    /// Media threads (shards of the media engine); 0 = one per available core.
    pub media_threads: usize,
    /// Ringing longer than this ends the call with 480.
    pub no_answer_timeout: Duration,
    /// Registration lifetimes.
    pub registrar: RegistrarConfig,
    /// Lifetime of a digest nonce, in seconds.
    pub nonce_ttl_secs: u64,
    /// Messages queued towards one WebSocket before it is considered stuck and closed.
    pub flow_queue: usize,
    /// Folder for call recordings; `None` records nothing.
    pub recordings: Option<std::path::PathBuf>,
    /// How long an answered leg outlives the SIP WebSocket it was set up over before it is hung
    /// up, so a page reload mid-call finds the call through `subscribe_call` (as with Webitel,
    /// where the leg lives on until a media timeout).
    pub flow_loss_grace: Duration,
    /// SIP over UDP and TCP for desk phones and trunks, both on this address; `None`: off.
    pub sip_listen: Option<SocketAddr>,
    /// SIP over TLS, with this server configuration; `None`: off.
    pub sip_tls: Option<(SocketAddr, Arc<rustls::ServerConfig>)>,
    /// OPTIONS pings to UDP bindings (RFC 3261 has no keepalive for UDP phones); zero: none.
    pub sip_ping_interval: Duration,
    /// Certificate authorities trusted for TLS to trunks, besides the public web roots (a
    /// provider's private CA).
    pub sip_trunk_ca: Vec<rustls::pki_types::CertificateDer<'static>>,
}

impl Default for TelephonyConfig {
    fn default() -> Self {
        Self {
            media_address: IpAddr::from([127, 0, 0, 1]),
            media_port: 0,
            media_threads: 0,
            no_answer_timeout: Duration::from_secs(60),
            registrar: RegistrarConfig::default(),
            nonce_ttl_secs: 300,
            flow_queue: 256,
            recordings: None,
            flow_loss_grace: Duration::from_secs(30),
            sip_listen: None,
            sip_tls: None,
            sip_ping_interval: Duration::from_secs(30),
            sip_trunk_ca: Vec::new(),
        }
    }
}

/// Who a registration belongs to: a user of a domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserKey {
    pub domain_id: i64,
    pub user_id: i64,
}

/// A change in the number of registered phones of a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistrationChange {
    pub user: UserKey,
    /// Live bindings after the change; 0 means the user has no registered phone.
    pub bindings: usize,
}

/// Registered phones per user and the registrations per device, written by the runtime, read
/// by anyone.
#[derive(Debug, Default)]
pub(crate) struct Registrations {
    by_user: RwLock<HashMap<UserKey, usize>>,
    devices: RwLock<DeviceRegistrations>,
}

/// A device as its registrations are filed: (domain id, device id).
pub(crate) type DeviceKey = (i64, i64);

#[derive(Debug, Default)]
struct DeviceRegistrations {
    /// The registrations of each AOR, with the device each came from.
    by_aor: HashMap<String, Vec<(DeviceKey, switchboard_model::Registration)>>,
    /// The AORs each device has registrations under.
    aors: HashMap<DeviceKey, HashSet<String>>,
}

impl Registrations {
    pub(crate) fn set(&self, user: UserKey, bindings: usize) -> bool {
        let mut map = self.by_user.write().unwrap_or_else(|e| e.into_inner());
        let before = if bindings == 0 {
            map.remove(&user)
        } else {
            map.insert(user, bindings)
        };
        before.unwrap_or(0) != bindings
    }

    /// Replaces what is known of `aor`'s registrations.
    pub(crate) fn set_aor(
        &self,
        aor: &str,
        regs: Vec<(DeviceKey, switchboard_model::Registration)>,
    ) {
        let mut d = self.devices.write().unwrap_or_else(|e| e.into_inner());
        let d = &mut *d;
        for (key, _) in d.by_aor.remove(aor).unwrap_or_default() {
            if let Some(set) = d.aors.get_mut(&key) {
                set.remove(aor);
                if set.is_empty() {
                    d.aors.remove(&key);
                }
            }
        }
        if regs.is_empty() {
            return;
        }
        for (key, _) in &regs {
            d.aors.entry(*key).or_default().insert(aor.to_owned());
        }
        d.by_aor.insert(aor.to_owned(), regs);
    }

    fn of_device(&self, key: DeviceKey) -> Vec<switchboard_model::Registration> {
        let d = self.devices.read().unwrap_or_else(|e| e.into_inner());
        d.aors
            .get(&key)
            .into_iter()
            .flatten()
            .filter_map(|aor| d.by_aor.get(aor))
            .flatten()
            .filter(|(k, _)| *k == key)
            .map(|(_, r)| r.clone())
            .collect()
    }

    fn device_registered(&self, key: DeviceKey) -> bool {
        let d = self.devices.read().unwrap_or_else(|e| e.into_inner());
        d.aors.contains_key(&key)
    }

    fn get(&self, user: UserKey) -> usize {
        let map = self.by_user.read().unwrap_or_else(|e| e.into_inner());
        map.get(&user).copied().unwrap_or(0)
    }
}

/// Handle of the telephony runtime. Cloning is cheap.
#[derive(Clone)]
pub struct Telephony {
    inner: Arc<Inner>,
}

/// The SIP listeners of the process, as bound.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SipAddrs {
    /// UDP and TCP (same address and port).
    pub udp_tcp: Option<SocketAddr>,
    pub tls: Option<SocketAddr>,
}

struct Inner {
    commands: mpsc::Sender<runtime::Command>,
    sip_addrs: SipAddrs,
    store: Arc<Store>,
    /// Shared with the runtime, which opens connections to trunks itself.
    next_flow: Arc<AtomicU64>,
    registrations: Arc<Registrations>,
    changes: broadcast::Sender<RegistrationChange>,
    config: TelephonyConfig,
    live_agents: runtime::cc::LiveAgents,
    cc_reload: contact_center::Reload,
}

impl Telephony {
    /// Starts the runtime, the media engine (a thread and UDP socket per shard), the media
    /// worker and the history writer on the current tokio runtime. Call events go to `hub`.
    pub async fn start(
        store: Arc<Store>,
        hub: Arc<dyn EventHub>,
        config: TelephonyConfig,
    ) -> Result<Self, switchboard_media::MediaError> {
        // Legs a crash or kill -9 left open: nothing can still be talking on them.
        match store.close_live_calls("SYSTEM_SHUTDOWN").await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(legs = n, "closed call legs left open by the last run"),
            Err(e) => tracing::error!(error = %e, "could not close call legs left open"),
        }
        let media = MediaServer::start(MediaServerConfig {
            bind: std::net::SocketAddr::new(config.media_address, config.media_port),
            shards: config.media_threads,
            ..Default::default()
        })
        .await?;
        tracing::info!(addrs = ?media.local_addrs, "media sockets bound, one per shard");
        let (commands, rx) = mpsc::channel(4096);
        let registrations = Arc::new(Registrations::default());
        let (changes, _) = broadcast::channel(1024);
        let next_flow = Arc::new(AtomicU64::new(1));
        let trunk_tls = trunk_tls_config(&config.sip_trunk_ca)?;
        let (media_ops, ops_rx) = mpsc::unbounded_channel();
        let (history, history_rx) = mpsc::unbounded_channel();
        let recording = match &config.recordings {
            Some(dir) => Some(start_recorder(&media.handle, dir.clone(), store.clone()).await?),
            None => None,
        };
        tokio::spawn(
            media::MediaWorker::new(media.handle, commands.clone(), recording)
                .run(ops_rx, media.events),
        );
        tokio::spawn(history::write(store.clone(), history_rx));
        let (cc_writes, cc_rx) = mpsc::unbounded_channel();
        tokio::spawn(runtime::cc::write(store.clone(), cc_rx));
        let live_agents = runtime::cc::LiveAgents::default();
        let first_attempt_id = match store.max_attempt_id().await {
            Ok(n) => n + 1,
            Err(e) => {
                tracing::error!("could not read the last attempt id: {e}");
                // Far above any id a working store handed out before.
                switchboard_store::now_ms()
            }
        };
        let udp_tcp = match config.sip_listen {
            Some(addr) => Some(bind_udp_tcp(addr).await?),
            None => None,
        };
        let tls = match &config.sip_tls {
            Some((addr, cfg)) => {
                let l = tokio::net::TcpListener::bind(addr).await?;
                Some((l, Arc::new(tokio_rustls::TlsAcceptor::from(cfg.clone()))))
            }
            None => None,
        };
        let sip_addrs = SipAddrs {
            udp_tcp: udp_tcp.as_ref().and_then(|(u, _)| u.local_addr().ok()),
            tls: tls.as_ref().and_then(|(l, _)| l.local_addr().ok()),
        };
        let rt = runtime::Runtime::new(
            store.clone(),
            config.clone(),
            runtime::Links {
                commands: commands.clone(),
                registrations: registrations.clone(),
                changes: changes.clone(),
                hub,
                media_ops,
                history,
                cc_writes,
                live_agents: live_agents.clone(),
                first_attempt_id,
                flow_ids: next_flow.clone(),
                trunk_tls,
                sip_addrs,
            },
        );
        tokio::spawn(rt.run(rx));
        let t = Self {
            inner: Arc::new(Inner {
                commands,
                sip_addrs,
                store,
                next_flow,
                registrations,
                changes,
                config,
                live_agents,
                cc_reload: contact_center::Reload::default(),
            }),
        };
        tokio::spawn(t.clone().reload_cc());
        if let Some((udp, tcp)) = udp_tcp {
            tokio::spawn(transport::udp::serve(t.clone(), Arc::new(udp)));
            tokio::spawn(transport::stream::accept(t.clone(), tcp, None));
        }
        if let Some((listener, acceptor)) = tls {
            tokio::spawn(transport::stream::accept(
                t.clone(),
                listener,
                Some(acceptor),
            ));
        }
        Ok(t)
    }

    /// Where the SIP listeners are bound.
    pub fn sip_addrs(&self) -> SipAddrs {
        self.inner.sip_addrs
    }

    pub fn config(&self) -> &TelephonyConfig {
        &self.inner.config
    }

    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Number of live registrations (phones, tabs) of a user.
    pub fn registered(&self, domain_id: i64, user_id: i64) -> usize {
        self.inner.registrations.get(UserKey { domain_id, user_id })
    }

    /// Every change of a user's registration count, e.g. for presence.
    pub fn registration_changes(&self) -> broadcast::Receiver<RegistrationChange> {
        self.inner.changes.subscribe()
    }

    /// Counters of the runtime (flows, bindings, transactions).
    pub async fn stats(&self) -> Option<Stats> {
        let (tx, rx) = oneshot::channel();
        self.inner
            .commands
            .send(runtime::Command::Stats(tx))
            .await
            .ok()?;
        rx.await.ok()
    }

    pub(crate) fn new_flow(&self) -> FlowId {
        FlowId(self.inner.next_flow.fetch_add(1, Ordering::Relaxed))
    }

    pub(crate) fn commands(&self) -> mpsc::Sender<runtime::Command> {
        self.inner.commands.clone()
    }

    pub(crate) async fn send(&self, cmd: runtime::Command) -> bool {
        self.inner.commands.send(cmd).await.is_ok()
    }
}

impl switchboard_api::presence::Presence for Telephony {
    fn device_registrations(
        &self,
        domain_id: i64,
        device_id: i64,
    ) -> Vec<switchboard_model::Registration> {
        self.inner.registrations.of_device((domain_id, device_id))
    }

    fn device_registered(&self, domain_id: i64, device_id: i64) -> bool {
        self.inner
            .registrations
            .device_registered((domain_id, device_id))
    }
}

/// Binds UDP and TCP on one address. For port 0 the two must still share a port: UDP picks one,
/// TCP follows it, and a port TCP cannot have is tried again with another.
async fn bind_udp_tcp(
    addr: SocketAddr,
) -> std::io::Result<(tokio::net::UdpSocket, tokio::net::TcpListener)> {
    let mut last = None;
    for _ in 0..16 {
        let udp = tokio::net::UdpSocket::bind(addr).await?;
        let bound = udp.local_addr()?;
        match tokio::net::TcpListener::bind(bound).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) if addr.port() == 0 => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no port free for both UDP and TCP")))
}

/// The TLS client for trunks: the public web roots and the configured extra authorities.
fn trunk_tls_config(
    extra: &[rustls::pki_types::CertificateDer<'static>],
) -> std::io::Result<Arc<tokio_rustls::TlsConnector>> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for ca in extra {
        roots
            .add(ca.clone())
            .map_err(|e| std::io::Error::other(format!("trunk CA certificate: {e}")))?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| std::io::Error::other(format!("tls versions: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(tokio_rustls::TlsConnector::from(Arc::new(cfg))))
}

/// Packets in flight from the media task to the recorder (~1.6 s of 500 two-party calls).
const RECORD_QUEUE: usize = 80_000;

/// Starts the recorder thread, installs its tap on the media engine and a thread that stores
/// finished recordings.
async fn start_recorder(
    media: &MediaHandle,
    dir: std::path::PathBuf,
    store: Arc<Store>,
) -> Result<media::Recording, switchboard_media::MediaError> {
    std::fs::create_dir_all(&dir)?;
    let (recorder, done) = Recorder::start(RECORD_QUEUE)?;
    media.set_tap(|| recorder.tap()).await?;
    let rt = tokio::runtime::Handle::current();
    let st = store.clone();
    std::thread::Builder::new()
        .name("recordings".into())
        .spawn(move || media::finish_recordings(st, done, rt))?;
    tracing::info!(dir = %dir.display(), "recording calls");
    Ok(media::Recording::new(recorder, dir, store))
}

/// The routes to merge into the HTTP listener: `GET /sip` (SIP over WebSocket) and
/// `GET /sip/status` (counters, no personal data).
pub fn routes(telephony: Telephony) -> axum::Router {
    axum::Router::new()
        .route("/sip", axum::routing::get(transport::upgrade))
        .route("/sip/status", axum::routing::get(status))
        .with_state(telephony)
}

async fn status(axum::extract::State(t): axum::extract::State<Telephony>) -> axum::Json<Value> {
    let s = t.stats().await.unwrap_or_default();
    // Where desk phones reach the server: public anyway, they are configured with it.
    let addrs = t.sip_addrs();
    axum::Json(serde_json::json!({
        "sip": {
            "udp_tcp": addrs.udp_tcp.map(|a| a.to_string()),
            "tls": addrs.tls.map(|a| a.to_string()),
        },
        "flows": s.flows,
        "bindings": s.bindings,
        "aors": s.aors,
        "transactions": s.transactions,
        "calls": s.calls,
    }))
}
