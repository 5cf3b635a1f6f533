//! Configuration: flags, each with a `SWITCHBOARD_*` environment variable. Every default works
//! on a laptop.

use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Where the store lives; shared by every subcommand that opens it.
#[derive(Args, Clone, Debug)]
pub struct StoreArgs {
    /// Data folder: the embedded database, the admin token, the key sealing stored secrets
    /// (secret.key), recordings.
    #[arg(long, env = "SWITCHBOARD_DATA", default_value = "data")]
    pub data: PathBuf,
    /// PostgreSQL URL (postgres://…); the embedded SQLite database in the data folder when unset.
    #[arg(long, env = "SWITCHBOARD_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Seats of the licence product created for a new domain.
    #[arg(long, env = "SWITCHBOARD_LICENSE_SEATS", default_value_t = 100)]
    pub license_seats: i64,
}

impl StoreArgs {
    pub async fn open(&self) -> anyhow::Result<switchboard_store::Store> {
        Ok(match &self.database_url {
            Some(url) if !url.is_empty() => switchboard_store::Store::connect(url).await?,
            _ => switchboard_store::Store::open_sqlite(&self.data).await?,
        })
    }
}

#[derive(Args, Clone, Debug)]
pub struct ServeArgs {
    /// Record bridged calls to `<data>/recordings` (Ogg Opus, caller left, callee right).
    #[arg(long, env = "SWITCHBOARD_RECORD", default_value_t = true, action = clap::ArgAction::Set)]
    pub record: bool,
    /// Address of the HTTP(S) listener serving REST, WebSocket and SIP over WebSocket.
    #[arg(long, env = "SWITCHBOARD_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The users' domain created on first start.
    #[arg(long, env = "SWITCHBOARD_DOMAIN", default_value = "my-company.lo")]
    pub domain: String,
    /// Public base URL (e.g. https://pbx.example.com) when behind a proxy; derived from requests
    /// otherwise.
    #[arg(long, env = "SWITCHBOARD_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// SIP-over-WebSocket URL handed to browsers (JsSIP); `<public URL as ws/wss>/sip` or
    /// derived from each request when unset.
    #[arg(long, env = "SWITCHBOARD_SIP_WS_URL")]
    pub sip_ws_url: Option<String>,
    /// SIP proxy handed to hardware phones (e.g. sip:pbx.example.com:5060); `sip:<host>` of the
    /// request when unset.
    #[arg(long, env = "SWITCHBOARD_SIP_PROXY")]
    pub sip_proxy: Option<String>,
    /// SIP over UDP and TCP (desk phones, trunks), both on this address; `off` disables it.
    #[arg(long, env = "SWITCHBOARD_SIP_LISTEN", default_value = "127.0.0.1:5060")]
    pub sip_listen: Listen,
    /// SIP over TLS on this address with the HTTPS certificate (--tls-cert, --tls-key); off
    /// unless set.
    #[arg(long, env = "SWITCHBOARD_SIP_TLS_LISTEN", requires = "tls_cert")]
    pub sip_tls_listen: Option<SocketAddr>,
    /// Seconds between OPTIONS pings to desk phones registered over UDP; a binding that misses
    /// three in a row is dropped (0: no pings).
    #[arg(long, env = "SWITCHBOARD_SIP_PING_INTERVAL", default_value_t = 30)]
    pub sip_ping_interval: u64,
    /// PEM file of certificate authorities trusted for TLS to trunks (`sips:` proxies),
    /// besides the public web roots: a provider's private CA.
    #[arg(long, env = "SWITCHBOARD_SIP_TRUNK_CA")]
    pub sip_trunk_ca: Option<PathBuf>,
    /// PEM certificate chain; with --tls-key the listener serves HTTPS and WSS.
    #[arg(long, env = "SWITCHBOARD_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, env = "SWITCHBOARD_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Address the media endpoints advertise to browsers (ICE host candidate); the listen
    /// address when unset.
    #[arg(long, env = "SWITCHBOARD_MEDIA_ADDRESS")]
    pub media_address: Option<std::net::IpAddr>,
    /// First UDP port for media: media thread i listens on this port + i (0: any free ports).
    #[arg(long, env = "SWITCHBOARD_MEDIA_PORT", default_value_t = 0)]
    pub media_port: u16,
    /// Media threads, each with its own UDP socket and share of the calls (0: one per core).
    #[arg(long, env = "SWITCHBOARD_MEDIA_THREADS", default_value_t = 0)]
    pub media_threads: usize,
    /// Seconds a call may ring unanswered before it ends with 480.
    #[arg(long, env = "SWITCHBOARD_NO_ANSWER_TIMEOUT", default_value_t = 60)]
    pub no_answer_timeout: u64,
    /// Seconds an answered call outlives its browser's closed SIP WebSocket (a page reload
    /// reconnects within it).
    #[arg(long, env = "SWITCHBOARD_FLOW_LOSS_GRACE", default_value_t = 30)]
    pub flow_loss_grace: u64,
    /// Lifetime of sign-in sessions (POST /api/login), in seconds.
    #[arg(long, env = "SWITCHBOARD_SESSION_TTL", default_value_t = 43200)]
    pub session_ttl: i64,
    /// Serve the demo SPA at `/` (`--demo false`, `--no-demo` or SWITCHBOARD_DEMO=false: off).
    #[arg(long, env = "SWITCHBOARD_DEMO", default_value_t = true, action = clap::ArgAction::Set)]
    pub demo: bool,
    /// Do not serve the demo SPA.
    #[arg(long)]
    pub no_demo: bool,
    /// The demo SPA's administrator password; generated and printed on first start when unset.
    #[arg(long, env = "SWITCHBOARD_DEMO_ADMIN_PASSWORD", hide_env_values = true)]
    pub demo_admin_password: Option<String>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// A listener address, or `off`.
#[derive(Clone, Copy, Debug)]
pub struct Listen(pub Option<SocketAddr>);

impl std::str::FromStr for Listen {
    type Err = std::net::AddrParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "off" | "" => Ok(Self(None)),
            s => s.parse().map(|a| Self(Some(a))),
        }
    }
}
