//! Trunk registration client (RFC 3261 §10.2): keeps one binding of ours at a
//! SIP provider for a "register mode" gateway, the way Webitel's OpenSIPS
//! `uac_registrant` does, as a sans-IO state machine.
//!
//! The runtime owns sockets, clocks and the transaction layer:
//!
//! * it builds the machine from the gateway row ([`GatewayAddr::parse`] reads
//!   `account` and `proxy`) plus the Contact it can be reached at;
//! * it calls [`Registrant::start`], then drains [`Registrant::poll_request`]
//!   with a fresh top [`Via`] for the flow it will send on, and hands each
//!   request to its client transaction layer, addressed to
//!   [`GatewayAddr::proxy`] (the outbound proxy, not the Request-URI);
//! * it feeds back the responses of those transactions
//!   ([`Registrant::handle_response`]), Timer F ([`Registrant::transaction_timeout`])
//!   and transport failures ([`Registrant::transport_error`]);
//! * it calls [`Registrant::handle_timeout`] at [`Registrant::poll_timeout`];
//! * it stores [`Registrant::state`] as the gateway's `r_state`.
//!
//! Retransmissions are the transaction layer's job; only one REGISTER is ever
//! outstanding (§10.2: no new registration before the previous one ends).

use std::fmt;
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::digest::{self, ClientSecret};
use crate::header::auth::Auth;
use crate::header::name_addr::NameAddr;
use crate::header::via::{Via, BRANCH_MAGIC};
use crate::header::HeaderName;
use crate::message::{Request, Response};
use crate::response::new_branch;
use crate::uri::{split_host_port, SipUri, Uri};
use crate::Method;

/// Webitel's default gateway `expires`.
pub const DEFAULT_EXPIRES: u32 = 600;
/// Smallest `expires` Webitel's gateway form accepts.
pub const MIN_EXPIRES: u32 = 32;
/// Largest `expires` Webitel's gateway form accepts.
pub const MAX_EXPIRES: u32 = 3600;
/// Refresh this long before the binding lapses: Webitel runs `sip_registrant`
/// with `timer_interval 32` and refreshes at `expires − 32 s`.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(32);
/// Never refresh sooner than this after a 200, whatever the registrar granted.
pub const MIN_REFRESH: Duration = Duration::from_secs(5);
/// Challenges answered within one attempt before we call the credentials wrong
/// (a proxy 407, a registrar 401 and one stale nonce fit comfortably).
const MAX_CHALLENGES: u32 = 4;

/// Registration state, numbered as OpenSIPS `uac_registrant` (and so Webitel's
/// `r_state`) numbers them. The Webitel UI shows 3 as Success and 4–7 as Failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RState {
    NotRegistered,
    Registering,
    Authenticating,
    Registered,
    Timeout,
    InternalError,
    WrongCredentials,
    RegistrarError,
    Unregistering,
    AuthUnregister,
}

impl RState {
    pub fn as_i32(self) -> i32 {
        match self {
            Self::NotRegistered => 0,
            Self::Registering => 1,
            Self::Authenticating => 2,
            Self::Registered => 3,
            Self::Timeout => 4,
            Self::InternalError => 5,
            Self::WrongCredentials => 6,
            Self::RegistrarError => 7,
            Self::Unregistering => 8,
            Self::AuthUnregister => 9,
        }
    }

    /// The OpenSIPS name, for logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::NotRegistered => "NOT_REGISTERED",
            Self::Registering => "REGISTERING",
            Self::Authenticating => "AUTHENTICATING",
            Self::Registered => "REGISTERED",
            Self::Timeout => "TIMEOUT",
            Self::InternalError => "INTERNAL_ERROR",
            Self::WrongCredentials => "WRONG_CREDENTIALS",
            Self::RegistrarError => "REGISTRAR_ERROR",
            Self::Unregistering => "UNREGISTERING",
            Self::AuthUnregister => "AUTH_UNREGISTER",
        }
    }

    /// States 4–7, which the Webitel UI shows as Failed.
    pub fn is_failure(self) -> bool {
        (4..=7).contains(&self.as_i32())
    }
}

impl fmt::Display for RState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

// ---------------------------------------------------------------------------
// Gateway strings
// ---------------------------------------------------------------------------

/// Why a gateway's `proxy` or `account` could not be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GatewayError {
    #[error("proxy is empty")]
    EmptyProxy,
    #[error("proxy {0:?} is not host[:port] with an optional sip:/sips: prefix")]
    InvalidProxy(String),
    #[error("proxy transport {0:?} is not udp, tcp, tls, ws or wss")]
    InvalidTransport(String),
    #[error("account is empty")]
    EmptyAccount,
    #[error("account {0:?} is not user[@host[:port]] with an optional sip:/sips: prefix")]
    InvalidAccount(String),
}

/// Transport towards the outbound proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProxyTransport {
    Udp,
    Tcp,
    Tls,
    Ws,
    Wss,
}

impl ProxyTransport {
    /// The Via transport token.
    pub fn token(self) -> &'static str {
        match self {
            Self::Udp => "UDP",
            Self::Tcp => "TCP",
            Self::Tls => "TLS",
            Self::Ws => "WS",
            Self::Wss => "WSS",
        }
    }

    /// RFC 3263 §4.2 / RFC 7118 defaults when the proxy names no port.
    pub fn default_port(self) -> u16 {
        match self {
            Self::Udp | Self::Tcp => 5060,
            Self::Tls => 5061,
            Self::Ws => 80,
            Self::Wss => 443,
        }
    }

    fn parse(s: &str, secure: bool) -> Option<Self> {
        let t = match s.to_ascii_lowercase().as_str() {
            "udp" | "tcp" | "tls" if secure => Self::Tls,
            "udp" => Self::Udp,
            "tcp" => Self::Tcp,
            "tls" => Self::Tls,
            "ws" | "wss" if secure => Self::Wss,
            "ws" => Self::Ws,
            "wss" => Self::Wss,
            _ => return None,
        };
        Some(t)
    }
}

/// Where the REGISTERs go (the gateway's `proxy`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyAddr {
    /// Host as written (IPv6 with brackets); resolving it is the runtime's job.
    pub host: String,
    pub port: Option<u16>,
    /// From `;transport=`; `sips:` means TLS; UDP otherwise.
    pub transport: ProxyTransport,
}

impl ProxyAddr {
    /// Parses `host[:port]` with an optional `sip:`/`sips:` prefix and URI
    /// parameters (only `transport` is read).
    pub fn parse(proxy: &str) -> Result<Self, GatewayError> {
        let s = proxy.trim();
        if s.is_empty() {
            return Err(GatewayError::EmptyProxy);
        }
        let bad = || GatewayError::InvalidProxy(proxy.to_owned());
        let (secure, rest) = strip_scheme(s);
        let (hostport, params) = match rest.split_once(';') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        };
        if hostport.contains('@') || hostport.contains('?') {
            return Err(bad());
        }
        let (host, port) = split_host_port(hostport).map_err(|_| bad())?;
        let mut transport = if secure {
            ProxyTransport::Tls
        } else {
            ProxyTransport::Udp
        };
        for p in params.into_iter().flat_map(|p| p.split(';')) {
            let (name, value) = p.split_once('=').unwrap_or((p, ""));
            if name.trim().eq_ignore_ascii_case("transport") {
                transport = ProxyTransport::parse(value.trim(), secure)
                    .ok_or_else(|| GatewayError::InvalidTransport(value.trim().to_owned()))?;
            }
        }
        Ok(Self {
            host: host.to_owned(),
            port,
            transport,
        })
    }

    /// The port to connect to: the written one or the transport's default.
    pub fn port_or_default(&self) -> u16 {
        self.port.unwrap_or(self.transport.default_port())
    }
}

/// A register-mode gateway's addresses, read from its `account` and `proxy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayAddr {
    /// The address-of-record: To and From of every REGISTER.
    pub aor: SipUri,
    /// The Request-URI: `sip:<registrar domain>` (§10.2: no user part).
    pub registrar: SipUri,
    /// The outbound proxy the requests are sent to.
    pub proxy: ProxyAddr,
}

impl GatewayAddr {
    /// `account` is `user`, `user@host[:port]`, either with `sip:`/`sips:`
    /// (Webitel: `^(sips?:)?[\w\-.!~*()&=+$,;?/]+(@host(:port)?)?$`). Without
    /// a host the AOR and registrar domain are the proxy's host (and the
    /// Request-URI keeps the proxy's port).
    pub fn parse(account: &str, proxy: &str) -> Result<Self, GatewayError> {
        let proxy = ProxyAddr::parse(proxy)?;
        let a = account.trim();
        if a.is_empty() {
            return Err(GatewayError::EmptyAccount);
        }
        let bad = || GatewayError::InvalidAccount(account.to_owned());
        let (secure, rest) = strip_scheme(a);
        let (user, domain) = match rest.split_once('@') {
            Some((u, h)) => (u, Some(h)),
            None => (rest, None),
        };
        if user.is_empty() || !user.bytes().all(is_account_user_char) {
            return Err(bad());
        }
        let (mut aor, mut registrar) = match domain {
            Some(d) => {
                let (host, port) = split_host_port(d).map_err(|_| bad())?;
                let mut reg = SipUri::new(None, host);
                reg.port = port;
                let mut aor = SipUri::new(Some(user), host);
                aor.port = port;
                (aor, reg)
            }
            None => {
                let mut reg = SipUri::new(None, &proxy.host);
                reg.port = proxy.port;
                (SipUri::new(Some(user), &proxy.host), reg)
            }
        };
        aor.secure = secure;
        registrar.secure = secure;
        Ok(Self {
            aor,
            registrar,
            proxy,
        })
    }

    /// The digest user: `username` when given, else the account's user part.
    pub fn auth_user<'a>(&'a self, username: &'a str) -> &'a str {
        let u = username.trim();
        if u.is_empty() {
            self.aor.user.as_deref().unwrap_or("")
        } else {
            u
        }
    }
}

fn strip_scheme(s: &str) -> (bool, &str) {
    let has = |scheme: &str| {
        s.get(..scheme.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(scheme))
    };
    if has("sips:") {
        (true, &s[5..])
    } else if has("sip:") {
        (false, &s[4..])
    } else {
        (false, s)
    }
}

/// The user characters Webitel's account pattern allows (`\w` is ASCII there).
fn is_account_user_char(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'_' | b'-'
                | b'.'
                | b'!'
                | b'~'
                | b'*'
                | b'('
                | b')'
                | b'&'
                | b'='
                | b'+'
                | b'$'
                | b','
                | b';'
                | b'?'
                | b'/'
        )
}

/// The gateway's `expires`: 0 (unset) means 600; others are clamped to 32–3600.
pub fn normalize_expires(expires: u32) -> u32 {
    if expires == 0 {
        DEFAULT_EXPIRES
    } else {
        expires.clamp(MIN_EXPIRES, MAX_EXPIRES)
    }
}

/// When to refresh a binding granted for `granted` seconds: `granted − 32 s`
/// (Webitel), half the interval when that leaves less than half, never sooner
/// than [`MIN_REFRESH`].
pub fn refresh_after(granted: u32) -> Duration {
    let granted = Duration::from_secs(u64::from(granted));
    let at = if granted > REFRESH_MARGIN * 2 {
        granted - REFRESH_MARGIN
    } else {
        granted / 2
    };
    at.max(MIN_REFRESH)
}

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

/// Retry delays after a failure: `initial` doubling per consecutive failure up
/// to `max`, each shortened by a random fraction of up to `jitter` (0.0–1.0) so
/// gateways of one provider do not retry in lockstep after an outage.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    pub jitter: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(30),
            max: Duration::from_secs(30 * 60),
            jitter: 0.25,
        }
    }
}

impl Backoff {
    /// The un-jittered delay after `failures` consecutive failures (≥ 1).
    pub fn base(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(30);
        self.initial.saturating_mul(1 << doublings).min(self.max)
    }
}

/// Everything one registrant needs. `Debug` leaves the password out.
#[derive(Clone)]
pub struct RegistrantConfig {
    /// To and From.
    pub aor: SipUri,
    /// The Request-URI (`sip:<registrar domain>`), also the digest `uri`.
    pub registrar: SipUri,
    /// Digest username (see [`GatewayAddr::auth_user`]).
    pub username: String,
    pub password: String,
    /// Our Contact, as the runtime can be reached from the provider.
    pub contact: NameAddr,
    /// Requested binding lifetime in seconds (see [`normalize_expires`]).
    pub expires: u32,
    pub backoff: Backoff,
    /// Seeds the generator of the Call-ID, From tag, cnonces and jitter. Give
    /// each registrant a random one in production; tests fix it.
    pub seed: u64,
    /// A `User-Agent` header value, if any.
    pub user_agent: Option<String>,
}

impl fmt::Debug for RegistrantConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistrantConfig")
            .field("aor", &self.aor.to_string())
            .field("registrar", &self.registrar.to_string())
            .field("username", &self.username)
            .field("contact", &self.contact.to_string())
            .field("expires", &self.expires)
            .field("backoff", &self.backoff)
            .field("user_agent", &self.user_agent)
            .finish_non_exhaustive()
    }
}

impl RegistrantConfig {
    /// The configuration of a gateway row: its parsed `account`/`proxy`, its
    /// `username`, `password` and `expires`, plus the runtime's Contact and a
    /// random seed. Default backoff, no User-Agent.
    pub fn new(
        gateway: &GatewayAddr,
        username: &str,
        password: &str,
        expires: u32,
        contact: NameAddr,
        seed: u64,
    ) -> Self {
        Self {
            aor: gateway.aor.clone(),
            registrar: gateway.registrar.clone(),
            username: gateway.auth_user(username).to_owned(),
            password: password.to_owned(),
            contact,
            expires: normalize_expires(expires),
            backoff: Backoff::default(),
            seed,
            user_agent: None,
        }
    }
}

// ---------------------------------------------------------------------------
// The machine
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Register,
    Unregister,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Stopped, nothing outstanding.
    Idle,
    /// A request is due; `poll_request` builds it.
    Queued(Kind),
    /// Sent with this CSeq; waiting for its final response.
    InFlight { kind: Kind, cseq: u32 },
    /// Running; the next REGISTER (refresh or retry) goes out at this instant.
    Waiting(Instant),
}

/// A challenge we answer on every request until the server replaces it.
#[derive(Debug, Clone)]
struct Credential {
    proxy: bool,
    realm: String,
    challenge: Auth,
    nc: u32,
    /// Received during the current attempt (not carried over from an earlier one).
    fresh: bool,
}

/// What the last request carried, to judge the next challenge by.
#[derive(Debug, Clone)]
struct Sent {
    proxy: bool,
    realm: String,
    nonce: String,
    fresh: bool,
}

/// SplitMix64: small, seedable, good enough for tags, cnonces and jitter.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn hex(&mut self) -> String {
        format!("{:016x}", self.next_u64())
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The registration client of one gateway. See the module docs for the loop
/// the runtime runs around it.
///
/// Requests from [`poll_request`](Self::poll_request) are complete except for
/// the top Via, which the runtime passes in (its sent-by and transport name the
/// flow it sends on; add `rport` on UDP). A Via without an RFC 3261 branch gets
/// a fresh one. The runtime sends them to [`GatewayAddr::proxy`] through its
/// client transaction layer (which owns retransmissions and Timer F).
#[derive(Debug, Clone)]
pub struct Registrant {
    cfg: RegistrantConfig,
    rng: Rng,
    call_id: String,
    from_tag: String,
    cseq: u32,
    /// Current requested expiry (raised by 423 Min-Expires).
    expires: u32,
    running: bool,
    phase: Phase,
    state: RState,
    /// The failure that ended the last attempt of this run, cleared by a 200.
    failure: Option<RState>,
    failures: u32,
    /// Until when the provider holds our binding, as far as we know.
    bound_until: Option<Instant>,
    creds: Vec<Credential>,
    sent: Vec<Sent>,
    challenges: u32,
    last_status: Option<u16>,
}

impl Registrant {
    pub fn new(cfg: RegistrantConfig) -> Self {
        let mut rng = Rng(cfg.seed);
        let call_id = format!("{}{}", rng.hex(), rng.hex());
        let from_tag = rng.hex();
        Self {
            expires: cfg.expires,
            cfg,
            rng,
            call_id,
            from_tag,
            cseq: 0,
            running: false,
            phase: Phase::Idle,
            state: RState::NotRegistered,
            failure: None,
            failures: 0,
            bound_until: None,
            creds: Vec::new(),
            sent: Vec::new(),
            challenges: 0,
            last_status: None,
        }
    }

    pub fn state(&self) -> RState {
        self.state
    }

    /// The Call-ID of every REGISTER this registrant sends (§10.2.4).
    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// The CSeq number of the latest request built.
    pub fn cseq(&self) -> u32 {
        self.cseq
    }

    /// When our binding lapses at the provider, if we hold one.
    pub fn bound_until(&self) -> Option<Instant> {
        self.bound_until
    }

    /// The status of the latest final response (for logs and the UI).
    pub fn last_status(&self) -> Option<u16> {
        self.last_status
    }

    /// The expiry the next REGISTER asks for (the configured one, or Min-Expires after a 423).
    pub fn requested_expires(&self) -> u32 {
        self.expires
    }

    pub fn config(&self) -> &RegistrantConfig {
        &self.cfg
    }

    /// A new Contact (e.g. the runtime's address changed); used from the next REGISTER on.
    pub fn set_contact(&mut self, contact: NameAddr) {
        self.cfg.contact = contact;
    }

    /// Begins registering. Idempotent while running.
    pub fn start(&mut self, now: Instant) {
        if self.running {
            return;
        }
        self.running = true;
        self.failure = None;
        self.failures = 0;
        match self.phase {
            Phase::Idle => self.begin_attempt(now),
            // Stopped before the unregister went out: refresh instead.
            Phase::Queued(Kind::Unregister) => self.begin_attempt(now),
            // The outstanding REGISTER decides; an unregister ends first.
            Phase::InFlight {
                kind: Kind::Register,
                ..
            } => self.state = self.progress_state(false, now),
            Phase::Queued(Kind::Register)
            | Phase::InFlight {
                kind: Kind::Unregister,
                ..
            }
            | Phase::Waiting(_) => {}
        }
    }

    /// Unregisters (Expires: 0) if a binding may exist, then idles in
    /// NOT_REGISTERED. An outstanding REGISTER is waited for first (§10.2).
    pub fn stop(&mut self, now: Instant) {
        if !self.running {
            return;
        }
        self.running = false;
        match self.phase {
            Phase::Idle
            | Phase::InFlight {
                kind: Kind::Unregister,
                ..
            }
            | Phase::Queued(Kind::Unregister) => {}
            Phase::InFlight {
                kind: Kind::Register,
                ..
            } => self.state = RState::Unregistering,
            Phase::Queued(Kind::Register) | Phase::Waiting(_) => self.wind_down(now),
        }
    }

    /// Whether [`poll_request`](Self::poll_request) has something to send.
    pub fn has_request(&self) -> bool {
        matches!(self.phase, Phase::Queued(_))
    }

    /// The next REGISTER to send, topped with `via` (see the type's docs).
    pub fn poll_request(&mut self, via: Via) -> Option<Request> {
        let Phase::Queued(kind) = self.phase else {
            return None;
        };
        self.cseq += 1;
        self.phase = Phase::InFlight {
            kind,
            cseq: self.cseq,
        };
        Some(self.build(kind, via))
    }

    /// The earliest instant [`handle_timeout`](Self::handle_timeout) has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let wait = match self.phase {
            Phase::Waiting(at) => Some(at),
            _ => None,
        };
        match (wait, self.bound_until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.bound_until.is_some_and(|t| t <= now) {
            // The binding lapsed (a refresh still outstanding, or failed).
            self.bound_until = None;
            if self.state == RState::Registered {
                self.state = RState::Registering;
            }
        }
        if let Phase::Waiting(at) = self.phase {
            if at <= now {
                self.begin_attempt(now);
            }
        }
    }

    /// Feeds a response to our outstanding REGISTER. Returns false (and changes
    /// nothing) when it is provisional or answers another request.
    pub fn handle_response(&mut self, resp: &Response, now: Instant) -> bool {
        let Phase::InFlight { kind, cseq } = self.phase else {
            return false;
        };
        let ours = resp
            .headers
            .cseq()
            .is_ok_and(|c| c.seq == cseq && c.method == Method::Register)
            && resp.headers.call_id().is_ok_and(|c| c == self.call_id);
        if !ours || resp.is_provisional() {
            return false;
        }
        self.last_status = Some(resp.status);
        match kind {
            Kind::Register => self.register_response(resp, now),
            Kind::Unregister => self.unregister_response(resp, now),
        }
        true
    }

    /// The transaction of our REGISTER timed out (Timer F): TIMEOUT, retry later.
    pub fn transaction_timeout(&mut self, now: Instant) {
        self.lost(RState::Timeout, now);
    }

    /// The transport could not deliver our REGISTER, or there is no transport to send the
    /// one due over: INTERNAL_ERROR, retry later.
    pub fn transport_error(&mut self, now: Instant) {
        self.lost(RState::InternalError, now);
    }

    /// The connection the binding was made over (TCP, TLS) is gone: the provider can no
    /// longer reach us through it, so the binding counts for nothing and a new REGISTER goes
    /// out now, over a new connection. An outstanding REGISTER fails on its own transaction.
    pub fn connection_lost(&mut self, now: Instant) {
        let was_bound = self.bound(now);
        self.bound_until = None;
        if !self.running {
            if matches!(self.phase, Phase::Queued(Kind::Unregister)) {
                self.idle();
            }
            return;
        }
        if !was_bound {
            // Retrying after a failure already: the backoff stands.
            return;
        }
        match self.phase {
            Phase::Waiting(_) => self.begin_attempt(now),
            _ => self.state = self.progress_state(false, now),
        }
    }

    // -- transitions --------------------------------------------------------

    fn lost(&mut self, failure: RState, now: Instant) {
        match self.phase {
            Phase::InFlight {
                kind: Kind::Register,
                ..
            }
            | Phase::Queued(Kind::Register) => self.fail(failure, None, now),
            Phase::InFlight {
                kind: Kind::Unregister,
                ..
            }
            | Phase::Queued(Kind::Unregister) => self.unregistered(now),
            Phase::Idle | Phase::Waiting(_) => {}
        }
    }

    fn bound(&self, now: Instant) -> bool {
        self.bound_until.is_some_and(|t| t > now)
    }

    /// What an attempt in progress shows: REGISTERED while the old binding
    /// lives, the last failure while retrying, else REGISTERING/AUTHENTICATING.
    fn progress_state(&self, authenticating: bool, now: Instant) -> RState {
        if self.bound(now) {
            RState::Registered
        } else if let Some(f) = self.failure {
            f
        } else if authenticating {
            RState::Authenticating
        } else {
            RState::Registering
        }
    }

    fn begin_attempt(&mut self, now: Instant) {
        self.challenges = 0;
        for c in &mut self.creds {
            c.fresh = false;
        }
        self.phase = Phase::Queued(Kind::Register);
        self.state = self.progress_state(false, now);
    }

    /// Not running any more: unregister a binding that may exist, else idle.
    fn wind_down(&mut self, now: Instant) {
        if self.bound(now) {
            self.challenges = 0;
            self.phase = Phase::Queued(Kind::Unregister);
            self.state = RState::Unregistering;
        } else {
            self.idle();
        }
    }

    fn idle(&mut self) {
        self.phase = Phase::Idle;
        self.state = RState::NotRegistered;
        self.bound_until = None;
        self.creds.clear();
        self.sent.clear();
    }

    fn unregistered(&mut self, now: Instant) {
        self.bound_until = None;
        if self.running {
            // start() came while the unregister was outstanding.
            self.creds.clear();
            self.begin_attempt(now);
        } else {
            self.idle();
        }
    }

    fn fail(&mut self, failure: RState, retry_after: Option<Duration>, now: Instant) {
        self.creds.clear();
        if !self.running {
            self.wind_down(now);
            return;
        }
        self.failures = self.failures.saturating_add(1);
        let delay = match retry_after {
            Some(d) => d.clamp(Duration::from_secs(1), self.cfg.backoff.max),
            None => {
                let base = self.cfg.backoff.base(self.failures);
                let jitter = self.cfg.backoff.jitter.clamp(0.0, 1.0);
                base.mul_f64(1.0 - jitter * self.rng.unit())
            }
        };
        self.failure = Some(failure);
        self.state = failure;
        self.phase = Phase::Waiting(now + delay);
    }

    fn register_response(&mut self, resp: &Response, now: Instant) {
        match resp.status {
            200..=299 => {
                let granted = self.granted(resp);
                if granted == 0 {
                    // A 200 that keeps no binding of ours.
                    self.bound_until = None;
                    return self.fail(RState::RegistrarError, retry_after(resp), now);
                }
                self.bound_until = Some(now + Duration::from_secs(u64::from(granted)));
                self.failures = 0;
                self.failure = None;
                for c in &mut self.creds {
                    c.fresh = false;
                }
                if self.running {
                    self.state = RState::Registered;
                    self.phase = Phase::Waiting(now + refresh_after(granted));
                } else {
                    self.wind_down(now);
                }
            }
            401 | 407 => match self.take_challenge(resp) {
                Ok(()) if self.running => {
                    self.phase = Phase::Queued(Kind::Register);
                    self.state = self.progress_state(true, now);
                }
                Ok(()) => self.wind_down(now),
                Err(f) => self.fail(f, None, now),
            },
            423 => {
                let min = resp.headers.min_expires().ok().flatten();
                match min {
                    Some(m) if m > self.expires => {
                        self.expires = m;
                        if self.running {
                            self.phase = Phase::Queued(Kind::Register);
                        } else {
                            self.wind_down(now);
                        }
                    }
                    _ => self.fail(RState::RegistrarError, None, now),
                }
            }
            408 => self.fail(RState::Timeout, retry_after(resp), now),
            _ => self.fail(RState::RegistrarError, retry_after(resp), now),
        }
    }

    fn unregister_response(&mut self, resp: &Response, now: Instant) {
        if matches!(resp.status, 401 | 407) && self.take_challenge(resp).is_ok() {
            self.phase = Phase::Queued(Kind::Unregister);
            self.state = RState::AuthUnregister;
            return;
        }
        // 2xx, or a failure we do not retry: the binding is gone or will lapse.
        self.unregistered(now);
    }

    /// Caches the challenges of a 401/407. `Err` says why the attempt ends.
    fn take_challenge(&mut self, resp: &Response) -> Result<(), RState> {
        let proxy = resp.status == 407;
        let list = if proxy {
            resp.headers.proxy_authenticate()
        } else {
            resp.headers.www_authenticate()
        };
        let list = list.map_err(|_| RState::RegistrarError)?;
        self.challenges += 1;
        if self.challenges > MAX_CHALLENGES {
            return Err(RState::WrongCredentials);
        }
        let mut usable: Vec<Auth> = Vec::new();
        for a in list {
            let Some(realm) = a.get("realm") else {
                continue;
            };
            if a.get("nonce").is_none()
                || !answerable(&a)
                || usable.iter().any(|u| u.get("realm") == Some(realm))
            {
                continue;
            }
            usable.push(a);
        }
        if usable.is_empty() {
            // No Digest MD5 challenge we can answer.
            return Err(RState::RegistrarError);
        }
        for ch in usable {
            let realm = ch.get("realm").unwrap_or_default().to_owned();
            let nonce = ch.get("nonce").unwrap_or_default();
            let stale = ch
                .get("stale")
                .is_some_and(|s| s.eq_ignore_ascii_case("true"));
            let sent = self
                .sent
                .iter()
                .find(|s| s.proxy == proxy && s.realm == realm);
            // Our credentials for this realm were refused. A stale nonce is
            // answered again; a repeated nonce means a wrong password; so does
            // a new nonce refusing credentials we computed in this very attempt
            // (servers like Asterisk mint a new nonce on every 401).
            if let Some(s) = sent {
                if !stale && (s.nonce == nonce || s.fresh) {
                    return Err(RState::WrongCredentials);
                }
            }
            self.creds
                .retain(|c| !(c.proxy == proxy && c.realm == realm));
            self.creds.push(Credential {
                proxy,
                realm,
                challenge: ch,
                nc: 0,
                fresh: true,
            });
        }
        Ok(())
    }

    /// The lifetime granted to our contact: its `expires` param in the 200,
    /// else the Expires header, else what we asked for.
    fn granted(&self, resp: &Response) -> u32 {
        let contacts = resp.headers.contacts().unwrap_or_default();
        let mine = contacts.iter().find_map(|c| {
            let a = c.addr()?;
            same_contact(&a.uri, &self.cfg.contact.uri)
                .then(|| c.expires().ok().flatten())
                .flatten()
        });
        mine.or_else(|| resp.headers.expires().ok().flatten())
            .unwrap_or(self.expires)
    }

    fn build(&mut self, kind: Kind, mut via: Via) -> Request {
        if !via.branch().is_some_and(|b| b.starts_with(BRANCH_MAGIC)) {
            via.params.set("branch", Some(&new_branch()));
        }
        let ruri = Uri::Sip(self.cfg.registrar.clone());
        let ruri_text = ruri.to_string();
        let mut req = Request::new(Method::Register, ruri);
        let h = &mut req.headers;
        h.push(HeaderName::Via, via.to_string());
        h.push(HeaderName::MaxForwards, "70");
        let mut from = NameAddr::new(self.cfg.aor.clone());
        from.set_tag(&self.from_tag);
        h.push(HeaderName::From, from.to_string());
        h.push(
            HeaderName::To,
            NameAddr::new(self.cfg.aor.clone()).to_string(),
        );
        h.push(HeaderName::CallId, self.call_id.clone());
        h.push(HeaderName::CSeq, format!("{} REGISTER", self.cseq));
        h.push(HeaderName::Contact, self.cfg.contact.to_string());
        let expires = match kind {
            Kind::Register => self.expires,
            Kind::Unregister => 0,
        };
        h.push(HeaderName::Expires, expires.to_string());
        self.sent.clear();
        for c in &mut self.creds {
            c.nc += 1;
            let cnonce = self.rng.hex();
            let answer = digest::authorize(
                &c.challenge,
                &Method::Register,
                &ruri_text,
                &self.cfg.username,
                ClientSecret::Password(&self.cfg.password),
                &cnonce,
                c.nc,
            );
            let Ok(answer) = answer else { continue };
            let name = if c.proxy {
                HeaderName::ProxyAuthorization
            } else {
                HeaderName::Authorization
            };
            h.push(name, answer.to_string());
            self.sent.push(Sent {
                proxy: c.proxy,
                realm: c.realm.clone(),
                nonce: c.challenge.get("nonce").unwrap_or_default().to_owned(),
                fresh: c.fresh,
            });
        }
        if let Some(ua) = &self.cfg.user_agent {
            h.push(HeaderName::UserAgent, ua.clone());
        }
        req
    }
}

/// A Digest challenge [`digest::authorize`] can answer: MD5, qop absent or offering `auth`.
fn answerable(a: &Auth) -> bool {
    a.is_digest()
        && a.get("algorithm")
            .is_none_or(|alg| alg.eq_ignore_ascii_case("MD5"))
        && a.get("qop")
            .is_none_or(|q| q.split(',').any(|t| t.trim().eq_ignore_ascii_case("auth")))
}

/// Whether a Contact of a 200 names ours: same scheme, user, host and port
/// (registrars add or reorder URI parameters, so those are not compared).
fn same_contact(theirs: &Uri, ours: &Uri) -> bool {
    match (theirs, ours) {
        (Uri::Sip(a), Uri::Sip(b)) => {
            let port = |u: &SipUri| u.port.unwrap_or(if u.secure { 5061 } else { 5060 });
            a.secure == b.secure
                && a.user == b.user
                && a.host.eq_ignore_ascii_case(&b.host)
                && port(a) == port(b)
        }
        (a, b) => a == b,
    }
}

/// `Retry-After: delta-seconds [comment] *(;param)` (RFC 3261 §20.33).
fn retry_after(resp: &Response) -> Option<Duration> {
    let v = resp.headers.get(&HeaderName::RetryAfter)?.trim_start();
    let digits = v.bytes().take_while(u8::is_ascii_digit).count();
    let secs: u64 = v.get(..digits)?.parse().ok()?;
    Some(Duration::from_secs(secs))
}
