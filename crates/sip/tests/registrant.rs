//! The trunk registration client (RFC 3261 §10.2) against a simulated
//! provider built from this crate's own registrar and digest server. No
//! sockets: every request is serialised, parsed back and answered in memory.

use std::time::{Duration, Instant};

use switchboard_sip::digest::{self, DigestError, DigestServer};
use switchboard_sip::header::auth::Auth;
use switchboard_sip::header::name_addr::NameAddr;
use switchboard_sip::header::via::Via;
use switchboard_sip::registrant::{
    normalize_expires, refresh_after, Backoff, GatewayAddr, GatewayError, ProxyTransport, RState,
    Registrant, RegistrantConfig,
};
use switchboard_sip::registrar::{Registrar, RegistrarConfig};
use switchboard_sip::response::make_response;
use switchboard_sip::{parse, FlowId, HeaderName, Message, Method, Request, Response};

const REALM: &str = "provider.example";
const SECRET: &[u8] = b"provider-secret-0123456789abcdef";
const USER: &str = "4420123";
const PASSWORD: &str = "s3cret";
const CONTACT: &str = "<sip:4420123@203.0.113.5:5060;transport=udp>";

fn secs(d: u64) -> Duration {
    Duration::from_secs(d)
}

fn gateway() -> GatewayAddr {
    GatewayAddr::parse(
        "sip:4420123@provider.example",
        "sip:sbc.provider.example:5080",
    )
    .unwrap()
}

fn config(password: &str) -> RegistrantConfig {
    let contact = NameAddr::parse(CONTACT).unwrap();
    RegistrantConfig::new(&gateway(), "", password, 600, contact, 42)
}

/// No jitter, so retry instants are exact.
fn exact(mut cfg: RegistrantConfig) -> RegistrantConfig {
    cfg.backoff.jitter = 0.0;
    cfg
}

fn via() -> Via {
    let mut v = Via::new("UDP", "203.0.113.5", Some(5060), "");
    v.params.set("rport", None);
    v
}

/// The REGISTER the registrant wants sent, after a trip over the wire.
fn send(r: &mut Registrant) -> Request {
    let req = r.poll_request(via()).expect("a REGISTER is due");
    match parse(&req.to_bytes()).expect("our REGISTER parses") {
        Message::Request(q) => q,
        Message::Response(_) => panic!("expected a request"),
    }
}

fn wire(resp: Response) -> Response {
    match parse(&resp.to_bytes()).expect("the response parses") {
        Message::Response(r) => r,
        Message::Request(_) => panic!("expected a response"),
    }
}

fn header(req: &Request, name: HeaderName) -> Option<&str> {
    req.headers.get(&name)
}

fn expires_of(req: &Request) -> u32 {
    req.headers.expires().unwrap().expect("Expires header")
}

fn authorization(req: &Request) -> Option<Auth> {
    req.headers.authorization().unwrap().into_iter().next()
}

/// A provider: digest check with the known HA1, then this crate's registrar.
struct Provider {
    digest: DigestServer,
    registrar: Registrar,
    ha1: String,
    t0: Instant,
    /// Answers that passed `DigestServer::verify`.
    verified: u32,
}

impl Provider {
    fn new(t0: Instant) -> Self {
        Self::with(t0, 3600, RegistrarConfig::default())
    }

    fn with(t0: Instant, nonce_ttl: u64, cfg: RegistrarConfig) -> Self {
        Self {
            digest: DigestServer::new(SECRET, nonce_ttl),
            registrar: Registrar::new(cfg),
            ha1: digest::ha1(USER, REALM, PASSWORD),
            t0,
            verified: 0,
        }
    }

    fn clock(&self, now: Instant) -> u64 {
        1_000_000 + now.duration_since(self.t0).as_secs()
    }

    fn answer(&mut self, req: &Request, now: Instant) -> Response {
        let secs = self.clock(now);
        let creds = req.headers.authorization().unwrap();
        let Some(c) = digest::find_credentials(&creds, REALM) else {
            return self.challenge(req, now, false);
        };
        assert_eq!(c.get("username"), Some(USER));
        match self
            .digest
            .verify(c, &req.method, &req.uri, REALM, &self.ha1, secs)
        {
            Ok(()) => {
                self.verified += 1;
                let out = self
                    .registrar
                    .register(req, FlowId(1), "203.0.113.5:5060", now, "prov");
                wire(out.response)
            }
            Err(DigestError::Stale) => self.challenge(req, now, true),
            Err(_) => self.challenge(req, now, false),
        }
    }

    fn challenge(&self, req: &Request, now: Instant, stale: bool) -> Response {
        let secs = self.clock(now);
        wire(
            self.digest
                .challenge_response(req, REALM, secs, stale, false, "prov"),
        )
    }

    fn bindings(&self, now: Instant) -> usize {
        self.registrar
            .lookup("sip:4420123@provider.example", now)
            .count()
    }
}

/// Sends what is due and feeds the provider's answers back until nothing is due.
fn exchange(r: &mut Registrant, p: &mut Provider, now: Instant) -> Vec<(Request, Response)> {
    let mut log = Vec::new();
    while r.has_request() {
        let req = send(r);
        let resp = p.answer(&req, now);
        assert!(r.handle_response(&resp, now));
        log.push((req, resp));
        assert!(log.len() < 10, "registrant loops");
    }
    log
}

fn registered(r: &mut Registrant, p: &mut Provider, now: Instant) {
    r.start(now);
    exchange(r, p, now);
    assert_eq!(r.state(), RState::Registered);
}

#[test]
fn rstate_numbers_are_opensips_uac_registrant_states() {
    let all = [
        RState::NotRegistered,
        RState::Registering,
        RState::Authenticating,
        RState::Registered,
        RState::Timeout,
        RState::InternalError,
        RState::WrongCredentials,
        RState::RegistrarError,
        RState::Unregistering,
        RState::AuthUnregister,
    ];
    for (i, s) in all.iter().enumerate() {
        assert_eq!(s.as_i32(), i as i32);
        assert_eq!(s.is_failure(), (4..=7).contains(&i));
    }
    assert_eq!(RState::WrongCredentials.to_string(), "WRONG_CREDENTIALS");
}

#[test]
fn rfc3261_10_2_happy_path_with_401_challenge() {
    let t0 = Instant::now();
    let mut p = Provider::new(t0);
    let mut r = Registrant::new(config(PASSWORD));
    assert_eq!(r.state(), RState::NotRegistered);
    assert_eq!(r.poll_request(via()), None);

    r.start(t0);
    assert_eq!(r.state(), RState::Registering);
    let first = send(&mut r);
    assert_eq!(first.method, Method::Register);
    assert_eq!(first.uri.to_string(), "sip:provider.example");
    let top = first.headers.top_via().unwrap();
    assert!(top.branch().unwrap().starts_with("z9hG4bK"));
    assert_eq!(top.rport(), Some(None));
    assert_eq!(header(&first, HeaderName::MaxForwards), Some("70"));
    let from = first.headers.from().unwrap();
    let to = first.headers.to().unwrap();
    assert_eq!(from.uri.to_string(), "sip:4420123@provider.example");
    assert_eq!(to.uri.to_string(), "sip:4420123@provider.example");
    assert!(from.tag().is_some());
    assert_eq!(to.tag(), None);
    assert_eq!(first.headers.call_id().unwrap(), r.call_id());
    let cseq = first.headers.cseq().unwrap();
    assert_eq!((cseq.seq, cseq.method), (1, Method::Register));
    assert_eq!(header(&first, HeaderName::Contact), Some(CONTACT));
    assert_eq!(expires_of(&first), 600);
    assert!(authorization(&first).is_none());

    let challenge = p.answer(&first, t0);
    assert_eq!(challenge.status, 401);
    assert!(r.handle_response(&challenge, t0));
    assert_eq!(r.state(), RState::Authenticating);

    let second = send(&mut r);
    assert_eq!(second.headers.cseq().unwrap().seq, 2);
    assert_ne!(
        second.headers.top_via().unwrap().branch(),
        top.branch(),
        "a new transaction"
    );
    let auth = authorization(&second).expect("Authorization");
    let nonce = challenge.headers.www_authenticate().unwrap()[0]
        .get("nonce")
        .unwrap()
        .to_owned();
    assert_eq!(auth.get("username"), Some(USER));
    assert_eq!(auth.get("realm"), Some(REALM));
    assert_eq!(auth.get("nonce"), Some(nonce.as_str()));
    assert_eq!(auth.get("uri"), Some("sip:provider.example"));
    assert_eq!(auth.get("qop"), Some("auth"));
    assert_eq!(auth.get("nc"), Some("00000001"));
    assert!(auth.get("cnonce").is_some_and(|c| !c.is_empty()));
    assert!(auth.get("opaque").is_some());
    // The provider's own check, against the HA1 it stores.
    let ha1 = digest::ha1(USER, REALM, PASSWORD);
    assert_eq!(
        p.digest
            .verify(&auth, &second.method, &second.uri, REALM, &ha1, p.clock(t0)),
        Ok(())
    );
    let wrong = digest::ha1(USER, REALM, "other");
    assert_eq!(
        p.digest.verify(
            &auth,
            &second.method,
            &second.uri,
            REALM,
            &wrong,
            p.clock(t0)
        ),
        Err(DigestError::BadResponse)
    );

    let ok = p.answer(&second, t0);
    assert_eq!(ok.status, 200);
    assert!(r.handle_response(&ok, t0));
    assert_eq!(r.state(), RState::Registered);
    assert_eq!(r.last_status(), Some(200));
    assert_eq!(r.bound_until(), Some(t0 + secs(600)));
    assert_eq!(r.poll_timeout(), Some(t0 + secs(568)));
    assert_eq!(p.bindings(t0), 1);
    assert_eq!(r.poll_request(via()), None);
}

#[test]
fn provisional_and_foreign_responses_change_nothing() {
    let t0 = Instant::now();
    let mut r = Registrant::new(config(PASSWORD));
    r.start(t0);
    let req = send(&mut r);
    assert!(!r.handle_response(&make_response(&req, 100, None), t0));
    let mut other = make_response(&req, 200, Some("x"));
    other.headers.set(HeaderName::CSeq, "7 REGISTER");
    assert!(!r.handle_response(&other, t0));
    let mut other_call = make_response(&req, 200, Some("x"));
    other_call.headers.set(HeaderName::CallId, "someone-else");
    assert!(!r.handle_response(&other_call, t0));
    assert_eq!(r.state(), RState::Registering);
    assert!(!r.has_request());
}

#[test]
fn refresh_at_expires_minus_32_reuses_the_nonce_and_stays_registered() {
    let t0 = Instant::now();
    let mut p = Provider::new(t0);
    let mut r = Registrant::new(config(PASSWORD));
    registered(&mut r, &mut p, t0);
    let at = r.poll_timeout().unwrap();
    assert_eq!(at, t0 + secs(568));

    r.handle_timeout(at - Duration::from_millis(1));
    assert!(!r.has_request());
    r.handle_timeout(at);
    assert!(r.has_request());
    assert_eq!(r.state(), RState::Registered, "a refresh keeps the state");
    let log = exchange(&mut r, &mut p, at);
    assert_eq!(log.len(), 1, "credentials sent up front, no new challenge");
    let auth = authorization(&log[0].0).unwrap();
    assert_eq!(auth.get("nc"), Some("00000002"));
    assert_eq!(r.state(), RState::Registered);
    assert_eq!(r.bound_until(), Some(at + secs(600)));
    assert_eq!(r.poll_timeout(), Some(at + secs(568)));
    assert_eq!(p.verified, 2);
}

#[test]
fn a_lost_connection_registers_again_at_once() {
    let t0 = Instant::now();
    let mut p = Provider::new(t0);
    let mut r = Registrant::new(config(PASSWORD));
    registered(&mut r, &mut p, t0);
    let later = t0 + secs(100);
    r.connection_lost(later);
    assert!(r.has_request(), "no waiting for the refresh");
    assert_eq!(r.state(), RState::Registering, "the old binding is gone");
    exchange(&mut r, &mut p, later);
    assert_eq!(r.state(), RState::Registered);
    assert_eq!(r.bound_until(), Some(later + secs(600)));

    // Stopped and unregistered: a lost connection changes nothing.
    r.stop(later);
    exchange(&mut r, &mut p, later);
    assert_eq!(r.state(), RState::NotRegistered);
    r.connection_lost(later);
    assert!(!r.has_request());
    assert_eq!(r.state(), RState::NotRegistered);
}

#[test]
fn refresh_uses_the_expiry_the_registrar_granted() {
    let t0 = Instant::now();
    let cfg = RegistrarConfig {
        max_expires: 120,
        ..RegistrarConfig::default()
    };
    let mut p = Provider::with(t0, 3600, cfg);
    let mut r = Registrant::new(config(PASSWORD));
    registered(&mut r, &mut p, t0);
    assert_eq!(r.bound_until(), Some(t0 + secs(120)));
    assert_eq!(r.poll_timeout(), Some(t0 + secs(88)));
}

#[test]
fn contact_expires_param_wins_over_the_expires_header() {
    let t0 = Instant::now();
    let mut r = Registrant::new(config(PASSWORD));
    r.start(t0);
    let req = send(&mut r);
    let mut ok = make_response(&req, 200, Some("p"));
    ok.headers.push(
        HeaderName::Contact,
        "<sip:someone-else@198.51.100.1>;expires=3000",
    );
    // Registrars may reorder or add URI parameters to ours.
    ok.headers.push(
        HeaderName::Contact,
        "<sip:4420123@203.0.113.5;received=1.2.3.4;transport=UDP>;expires=90",
    );
    ok.headers.push(HeaderName::Expires, "600");
    assert!(r.handle_response(&wire(ok), t0));
    assert_eq!(r.bound_until(), Some(t0 + secs(90)));
    assert_eq!(r.poll_timeout(), Some(t0 + secs(58)));
}

#[test]
fn short_expiries_refresh_at_half_and_never_below_a_few_seconds() {
    assert_eq!(refresh_after(3600), secs(3568));
    assert_eq!(refresh_after(600), secs(568));
    assert_eq!(refresh_after(65), secs(33));
    assert_eq!(refresh_after(64), secs(32));
    assert_eq!(refresh_after(40), secs(20));
    assert_eq!(refresh_after(6), secs(5));
    assert_eq!(refresh_after(1), secs(5));
    assert_eq!(normalize_expires(0), 600);
    assert_eq!(normalize_expires(10), 32);
    assert_eq!(normalize_expires(900), 900);
    assert_eq!(normalize_expires(86_400), 3600);
}

#[test]
fn binding_lapsing_during_an_unanswered_refresh_drops_registered() {
    let t0 = Instant::now();
    let mut r = Registrant::new(config(PASSWORD));
    r.start(t0);
    let req = send(&mut r);
    let mut ok = make_response(&req, 200, Some("p"));
    ok.headers.push(HeaderName::Expires, "40");
    assert!(r.handle_response(&wire(ok), t0));
    assert_eq!(r.poll_timeout(), Some(t0 + secs(20)));
    r.handle_timeout(t0 + secs(20));
    send(&mut r);
    assert_eq!(r.state(), RState::Registered);
    assert_eq!(r.poll_timeout(), Some(t0 + secs(40)));
    r.handle_timeout(t0 + secs(40));
    assert_eq!(r.state(), RState::Registering);
    assert_eq!(r.bound_until(), None);
    r.transaction_timeout(t0 + secs(52));
    assert_eq!(r.state(), RState::Timeout);
}

#[test]
fn rfc3261_10_2_8_interval_too_brief_retries_with_min_expires() {
    let t0 = Instant::now();
    let cfg = RegistrarConfig {
        min_expires: 900,
        ..RegistrarConfig::default()
    };
    let mut p = Provider::with(t0, 3600, cfg);
    let mut r = Registrant::new(config(PASSWORD));
    r.start(t0);
    let log = exchange(&mut r, &mut p, t0);
    let statuses: Vec<u16> = log.iter().map(|(_, resp)| resp.status).collect();
    assert_eq!(statuses, [401, 423, 200]);
    assert_eq!(log[1].1.headers.min_expires(), Ok(Some(900)));
    assert_eq!(expires_of(&log[1].0), 600);
    let retry = &log[2].0;
    assert_eq!(expires_of(retry), 900);
    assert_eq!(
        authorization(retry).unwrap().get("nc"),
        Some("00000002"),
        "the 423 retry carries the credentials again"
    );
    assert_eq!(r.state(), RState::Registered);
    assert_eq!(r.requested_expires(), 900);
    assert_eq!(r.bound_until(), Some(t0 + secs(900)));
    assert_eq!(r.poll_timeout(), Some(t0 + secs(868)));
}

#[test]
fn interval_too_brief_without_a_larger_min_expires_is_a_registrar_error() {
    let t0 = Instant::now();
    let mut r = Registrant::new(exact(config(PASSWORD)));
    r.start(t0);
    let req = send(&mut r);
    let mut brief = make_response(&req, 423, Some("p"));
    brief.headers.push(HeaderName::MinExpires, "300");
    assert!(r.handle_response(&wire(brief), t0));
    assert_eq!(r.state(), RState::RegistrarError);
    assert!(!r.has_request());
    assert_eq!(r.poll_timeout(), Some(t0 + secs(30)));
}

#[test]
fn wrong_password_is_state_6_then_exponential_backoff() {
    let t0 = Instant::now();
    let mut p = Provider::new(t0);
    let mut r = Registrant::new(config("not-the-password"));
    r.start(t0);
    let log = exchange(&mut r, &mut p, t0);
    let statuses: Vec<u16> = log.iter().map(|(_, resp)| resp.status).collect();
    assert_eq!(statuses, [401, 401], "the same nonce is answered once");
    assert_eq!(r.state(), RState::WrongCredentials);
    assert_eq!(r.state().as_i32(), 6);
    assert!(!r.has_request());

    // Default backoff: 30 s, shortened by up to a quarter of jitter.
    let mut now = t0;
    let mut expected_base = 30;
    for _ in 0..8 {
        let at = r.poll_timeout().unwrap();
        let delay = at - now;
        let base = secs(expected_base);
        assert!(
            delay <= base && delay >= base.mul_f64(0.75),
            "{delay:?} vs {base:?}"
        );
        r.handle_timeout(at);
        now = at;
        assert_eq!(
            r.state(),
            RState::WrongCredentials,
            "a retry keeps the failure shown"
        );
        let log = exchange(&mut r, &mut p, now);
        assert_eq!(log.len(), 2);
        assert!(
            authorization(&log[0].0).is_none(),
            "each retry starts afresh"
        );
        assert_eq!(r.state(), RState::WrongCredentials);
        expected_base = (expected_base * 2).min(30 * 60);
    }
    assert_eq!(expected_base, 1800, "the cap was reached");
    assert_eq!(p.verified, 0);
}

#[test]
fn wrong_password_against_a_server_minting_a_nonce_per_401() {
    // Asterisk-style: every challenge carries a new nonce and no stale flag.
    let t0 = Instant::now();
    let mut p = Provider::new(t0);
    let mut r = Registrant::new(config("not-the-password"));
    r.start(t0);
    let first = send(&mut r);
    assert!(r.handle_response(&p.answer(&first, t0), t0));
    let second = send(&mut r);
    assert!(authorization(&second).is_some());
    let again = p.answer(&second, t0 + secs(1));
    assert_ne!(
        again.headers.www_authenticate().unwrap()[0].get("nonce"),
        authorization(&second).unwrap().get("nonce")
    );
    assert!(r.handle_response(&again, t0 + secs(1)));
    assert_eq!(r.state(), RState::WrongCredentials);
    assert!(!r.has_request());
}

#[test]
fn right_password_after_wrong_credentials_recovers() {
    let t0 = Instant::now();
    let mut p = Provider::new(t0);
    let mut r = Registrant::new(config("not-the-password"));
    r.start(t0);
    exchange(&mut r, &mut p, t0);
    assert_eq!(r.state(), RState::WrongCredentials);
    // The provider fixes the account to match what we send.
    p.ha1 = digest::ha1(USER, REALM, "not-the-password");
    let at = r.poll_timeout().unwrap();
    r.handle_timeout(at);
    exchange(&mut r, &mut p, at);
    assert_eq!(r.state(), RState::Registered);
    // Backoff resets: the next failure waits the initial interval again.
    let refresh = r.poll_timeout().unwrap();
    r.handle_timeout(refresh);
    send(&mut r);
    let fired = refresh + secs(32);
    r.transaction_timeout(fired);
    // The old binding lapses at that very instant; then only the retry is left.
    assert_eq!(r.poll_timeout(), r.bound_until());
    r.handle_timeout(fired);
    assert_eq!(r.bound_until(), None);
    let delay = r.poll_timeout().unwrap() - fired;
    assert!(delay <= secs(30) && delay >= secs(22));
}

#[test]
fn service_unavailable_honours_retry_after() {
    let t0 = Instant::now();
    let mut r = Registrant::new(exact(config(PASSWORD)));
    r.start(t0);
    let req = send(&mut r);
    let mut busy = make_response(&req, 503, Some("p"));
    busy.headers
        .push(HeaderName::RetryAfter, "120 (maintenance);duration=30");
    assert!(r.handle_response(&wire(busy), t0));
    assert_eq!(r.state(), RState::RegistrarError);
    assert_eq!(r.state().as_i32(), 7);
    assert_eq!(r.poll_timeout(), Some(t0 + secs(120)));
    r.handle_timeout(t0 + secs(119));
    assert!(!r.has_request());

    let t1 = t0 + secs(120);
    r.handle_timeout(t1);
    let req = send(&mut r);
    assert_eq!(req.headers.cseq().unwrap().seq, 2);
    // Without Retry-After the backoff counts this as the second failure.
    assert!(r.handle_response(&wire(make_response(&req, 503, Some("p"))), t1));
    assert_eq!(r.poll_timeout(), Some(t1 + secs(60)));
}

#[test]
fn forbidden_and_server_errors_back_off_as_registrar_errors() {
    for status in [403, 404, 480, 500, 502, 603] {
        let t0 = Instant::now();
        let mut r = Registrant::new(exact(config(PASSWORD)));
        r.start(t0);
        let req = send(&mut r);
        assert!(r.handle_response(&wire(make_response(&req, status, Some("p"))), t0));
        assert_eq!(r.state(), RState::RegistrarError, "{status}");
        assert_eq!(r.poll_timeout(), Some(t0 + secs(30)), "{status}");
    }
}

#[test]
fn transaction_timeout_is_state_4_then_a_retry_registers() {
    let t0 = Instant::now();
    let mut p = Provider::new(t0);
    let mut r = Registrant::new(config(PASSWORD));
    r.start(t0);
    send(&mut r);
    let fired = t0 + secs(32);
    r.transaction_timeout(fired);
    assert_eq!(r.state(), RState::Timeout);
    assert_eq!(r.state().as_i32(), 4);
    assert!(!r.has_request());
    let at = r.poll_timeout().unwrap();
    assert!(at - fired <= secs(30) && at - fired >= secs(22));

    r.handle_timeout(at);
    assert_eq!(r.state(), RState::Timeout);
    let log = exchange(&mut r, &mut p, at);
    assert_eq!(log[0].0.headers.cseq().unwrap().seq, 2);
    assert_eq!(r.state(), RState::Registered);
    // A 408 from the far end counts as a timeout too.
    let refresh = r.poll_timeout().unwrap();
    r.handle_timeout(refresh);
    let req = send(&mut r);
    assert!(r.handle_response(&wire(make_response(&req, 408, Some("p"))), refresh));
    assert_eq!(r.state(), RState::Timeout);
}

#[test]
fn transport_error_is_internal_error_then_retry() {
    let t0 = Instant::now();
    let mut r = Registrant::new(exact(config(PASSWORD)));
    r.start(t0);
    send(&mut r);
    r.transport_error(t0);
    assert_eq!(r.state(), RState::InternalError);
    assert_eq!(r.poll_timeout(), Some(t0 + secs(30)));
    // Stray inputs with nothing outstanding are ignored.
    r.transport_error(t0);
    r.transaction_timeout(t0);
    assert_eq!(r.poll_timeout(), Some(t0 + secs(30)));
}

#[test]
fn stop_unregisters_with_expires_0_then_idles() {
    let t0 = Instant::now();
    let mut p = Provider::new(t0);
    let mut r = Registrant::new(config(PASSWORD));
    registered(&mut r, &mut p, t0);
    assert_eq!(p.bindings(t0), 1);

    let t1 = t0 + secs(100);
    r.stop(t1);
    assert_eq!(r.state(), RState::Unregistering);
    assert_eq!(r.state().as_i32(), 8);
    let req = send(&mut r);
    assert_eq!(expires_of(&req), 0);
    assert_eq!(header(&req, HeaderName::Contact), Some(CONTACT));
    assert!(authorization(&req).is_some(), "credentials sent up front");
    let resp = p.answer(&req, t1);
    assert_eq!(resp.status, 200);
    assert!(r.handle_response(&resp, t1));
    assert_eq!(r.state(), RState::NotRegistered);
    assert_eq!(r.poll_timeout(), None);
    assert!(!r.has_request());
    assert_eq!(p.bindings(t1), 0);
    // Stopping twice does nothing; starting again registers anew.
    r.stop(t1);
    assert!(!r.has_request());
    r.start(t1);
    exchange(&mut r, &mut p, t1);
    assert_eq!(r.state(), RState::Registered);
}

#[test]
fn unregister_answers_a_challenge_as_auth_unregister() {
    let t0 = Instant::now();
    let mut p = Provider::new(t0);
    let mut r = Registrant::new(config(PASSWORD));
    registered(&mut r, &mut p, t0);
    // The provider restarted with a new secret: our nonce is unknown to it.
    p.digest = DigestServer::new(b"another-secret-after-a-restart!!", 3600);
    let t1 = t0 + secs(10);
    r.stop(t1);
    let req = send(&mut r);
    let challenge = p.answer(&req, t1);
    assert_eq!(challenge.status, 401);
    assert!(r.handle_response(&challenge, t1));
    assert_eq!(r.state(), RState::AuthUnregister);
    assert_eq!(r.state().as_i32(), 9);
    let req = send(&mut r);
    assert_eq!(expires_of(&req), 0);
    assert_eq!(authorization(&req).unwrap().get("nc"), Some("00000001"));
    assert!(r.handle_response(&p.answer(&req, t1), t1));
    assert_eq!(r.state(), RState::NotRegistered);
    assert_eq!(p.bindings(t1), 0);
}

#[test]
fn stop_without_a_binding_idles_at_once() {
    let t0 = Instant::now();
    let mut p = Provider::new(t0);
    let mut r = Registrant::new(config("not-the-password"));
    r.start(t0);
    exchange(&mut r, &mut p, t0);
    assert_eq!(r.state(), RState::WrongCredentials);
    r.stop(t0);
    assert_eq!(r.state(), RState::NotRegistered);
    assert!(!r.has_request());
    assert_eq!(r.poll_timeout(), None);
}

#[test]
fn stop_while_registering_waits_for_the_outstanding_request() {
    let t0 = Instant::now();
    let mut p = Provider::new(t0);
    let mut r = Registrant::new(config(PASSWORD));
    r.start(t0);
    let first = send(&mut r);
    r.stop(t0);
    assert_eq!(r.state(), RState::Unregistering);
    assert!(!r.has_request(), "no second REGISTER before the first ends");
    // The challenge means nothing was bound: nothing to undo.
    assert!(r.handle_response(&p.answer(&first, t0), t0));
    assert_eq!(r.state(), RState::NotRegistered);
    assert!(!r.has_request());

    // Here the outstanding REGISTER succeeds, so it is undone.
    r.start(t0);
    let log = {
        let req = send(&mut r);
        let resp = p.answer(&req, t0);
        r.handle_response(&resp, t0);
        let req = send(&mut r);
        r.stop(t0);
        let resp = p.answer(&req, t0);
        assert_eq!(resp.status, 200);
        r.handle_response(&resp, t0);
        assert_eq!(r.state(), RState::Unregistering);
        exchange(&mut r, &mut p, t0)
    };
    assert_eq!(log.len(), 1);
    assert_eq!(expires_of(&log[0].0), 0);
    assert_eq!(r.state(), RState::NotRegistered);
    assert_eq!(p.bindings(t0), 0);
}

#[test]
fn rfc3261_10_2_4_cseq_increments_and_call_id_stays() {
    let t0 = Instant::now();
    let mut p = Provider::with(t0, 300, RegistrarConfig::default());
    let mut r = Registrant::new(config(PASSWORD));
    let mut sent: Vec<Request> = Vec::new();
    let mut now = t0;
    r.start(now);
    // Registration, a few refreshes (some hitting stale nonces), a timeout
    // and its retry, then the unregistration.
    for round in 0..6 {
        sent.extend(exchange(&mut r, &mut p, now).into_iter().map(|(q, _)| q));
        if round == 3 {
            let at = r.poll_timeout().unwrap();
            r.handle_timeout(at);
            sent.push(send(&mut r));
            r.transaction_timeout(at + secs(32));
        }
        now = r.poll_timeout().unwrap();
        r.handle_timeout(now);
    }
    r.stop(now);
    sent.extend(exchange(&mut r, &mut p, now).into_iter().map(|(q, _)| q));
    assert_eq!(r.state(), RState::NotRegistered);
    assert!(sent.len() >= 10, "{}", sent.len());

    let call_id = sent[0].headers.call_id().unwrap().to_owned();
    let from_tag = sent[0].headers.from().unwrap().tag().unwrap().to_owned();
    let mut branches = std::collections::HashSet::new();
    for (i, req) in sent.iter().enumerate() {
        assert_eq!(req.headers.cseq().unwrap().seq, i as u32 + 1);
        assert_eq!(req.headers.call_id().unwrap(), call_id);
        assert_eq!(req.headers.from().unwrap().tag(), Some(from_tag.as_str()));
        assert!(branches.insert(req.headers.top_via().unwrap().branch().unwrap().to_owned()));
    }
    assert_eq!(expires_of(sent.last().unwrap()), 0);
    // Another registrant (another seed) gets another Call-ID.
    let mut other = config(PASSWORD);
    other.seed = 43;
    assert_ne!(Registrant::new(other).call_id(), call_id);
}

#[test]
fn stale_nonce_on_refresh_is_answered_with_the_new_nonce() {
    let t0 = Instant::now();
    // Nonces live five minutes; the refresh comes after 568 s.
    let mut p = Provider::with(t0, 300, RegistrarConfig::default());
    let mut r = Registrant::new(config(PASSWORD));
    registered(&mut r, &mut p, t0);
    let at = r.poll_timeout().unwrap();
    r.handle_timeout(at);
    let refresh = send(&mut r);
    let old = authorization(&refresh).unwrap();
    let stale = p.answer(&refresh, at);
    assert_eq!(stale.status, 401);
    let ch = stale.headers.www_authenticate().unwrap().remove(0);
    assert_eq!(ch.get("stale"), Some("true"));
    assert!(r.handle_response(&stale, at));
    assert_eq!(r.state(), RState::Registered, "the old binding still holds");

    let again = send(&mut r);
    let new = authorization(&again).unwrap();
    assert_ne!(new.get("nonce"), old.get("nonce"));
    assert_eq!(new.get("nonce"), ch.get("nonce"));
    assert_eq!(new.get("nc"), Some("00000001"));
    let ok = p.answer(&again, at);
    assert_eq!(ok.status, 200);
    assert!(r.handle_response(&ok, at));
    assert_eq!(r.state(), RState::Registered);
    assert_eq!(r.bound_until(), Some(at + secs(600)));
}

#[test]
fn repeated_stale_challenges_end_as_wrong_credentials() {
    let t0 = Instant::now();
    let p = Provider::new(t0);
    let mut r = Registrant::new(config(PASSWORD));
    r.start(t0);
    let mut n = 0;
    while r.has_request() {
        let req = send(&mut r);
        let resp = p.challenge(&req, t0 + secs(n), n > 0);
        r.handle_response(&resp, t0);
        n += 1;
        assert!(n < 10);
    }
    assert_eq!(r.state(), RState::WrongCredentials);
}

#[test]
fn proxy_authentication_407_is_answered_with_proxy_authorization() {
    let t0 = Instant::now();
    let p = Provider::new(t0);
    let mut r = Registrant::new(config(PASSWORD));
    r.start(t0);
    let first = send(&mut r);
    let secs_now = p.clock(t0);
    let challenge = wire(
        p.digest
            .challenge_response(&first, REALM, secs_now, false, true, "prov"),
    );
    assert_eq!(challenge.status, 407);
    assert!(r.handle_response(&challenge, t0));
    assert_eq!(r.state(), RState::Authenticating);
    let second = send(&mut r);
    assert!(second.headers.authorization().unwrap().is_empty());
    let creds = second.headers.proxy_authorization().unwrap();
    let c = digest::find_credentials(&creds, REALM).unwrap();
    assert_eq!(
        p.digest
            .verify(c, &second.method, &second.uri, REALM, &p.ha1, secs_now),
        Ok(())
    );
}

#[test]
fn challenge_without_qop_and_unsupported_algorithms() {
    let t0 = Instant::now();
    let mut r = Registrant::new(exact(config(PASSWORD)));
    r.start(t0);
    let req = send(&mut r);
    // RFC 2069 style: no qop, so no cnonce/nc either. A SHA-256 offer first is skipped.
    let mut ch = make_response(&req, 401, Some("p"));
    ch.headers.push(
        HeaderName::WwwAuthenticate,
        r#"Digest realm="provider.example", nonce="abc", algorithm=SHA-256"#,
    );
    ch.headers.push(
        HeaderName::WwwAuthenticate,
        r#"Digest realm="provider.example", nonce="abc""#,
    );
    assert!(r.handle_response(&wire(ch), t0));
    let req = send(&mut r);
    let a = authorization(&req).unwrap();
    assert_eq!(a.get("qop"), None);
    assert_eq!(a.get("cnonce"), None);
    // The response is right: the crate's check only objects that the nonce
    // was not minted by this (test) server.
    let server = DigestServer::new(SECRET, 3600);
    let ha1 = digest::ha1(USER, REALM, PASSWORD);
    assert_eq!(
        server.verify(&a, &req.method, &req.uri, REALM, &ha1, 0),
        Err(DigestError::BadNonce)
    );
    let wrong = digest::ha1(USER, REALM, "other");
    assert_eq!(
        server.verify(&a, &req.method, &req.uri, REALM, &wrong, 0),
        Err(DigestError::BadResponse)
    );

    // Only an algorithm we cannot compute: the registrar is unusable.
    let mut ch = make_response(&req, 401, Some("p"));
    ch.headers.push(
        HeaderName::WwwAuthenticate,
        r#"Digest realm="provider.example", nonce="def", algorithm=SHA-512-256"#,
    );
    assert!(r.handle_response(&wire(ch), t0));
    assert_eq!(r.state(), RState::RegistrarError);
    assert_eq!(r.poll_timeout(), Some(t0 + secs(30)));
}

#[test]
fn backoff_doubles_to_its_cap() {
    let b = Backoff::default();
    assert_eq!(b.base(1), secs(30));
    assert_eq!(b.base(2), secs(60));
    assert_eq!(b.base(6), secs(960));
    assert_eq!(b.base(7), secs(1800));
    assert_eq!(b.base(1000), secs(1800));
}

#[test]
fn gateway_account_and_proxy_strings() {
    let g = GatewayAddr::parse("4420123", "sip:sbc.provider.example:5080").unwrap();
    assert_eq!(g.aor.to_string(), "sip:4420123@sbc.provider.example");
    assert_eq!(g.registrar.to_string(), "sip:sbc.provider.example:5080");
    assert_eq!(g.proxy.host, "sbc.provider.example");
    assert_eq!(g.proxy.port, Some(5080));
    assert_eq!(g.proxy.transport, ProxyTransport::Udp);
    assert_eq!(g.auth_user(""), "4420123");
    assert_eq!(g.auth_user("auth-id"), "auth-id");

    let g = GatewayAddr::parse("sip:4420123@provider.example", "10.0.0.1").unwrap();
    assert_eq!(g.aor.to_string(), "sip:4420123@provider.example");
    assert_eq!(g.registrar.to_string(), "sip:provider.example");
    assert_eq!(g.proxy.host, "10.0.0.1");
    assert_eq!(g.proxy.port_or_default(), 5060);

    let g = GatewayAddr::parse("SIPS:alice@Provider.example:5071", "sips:10.0.0.1").unwrap();
    assert_eq!(g.aor.to_string(), "sips:alice@Provider.example:5071");
    assert_eq!(g.registrar.to_string(), "sips:Provider.example:5071");
    assert_eq!(g.proxy.transport, ProxyTransport::Tls);
    assert_eq!(g.proxy.port_or_default(), 5061);

    let g = GatewayAddr::parse("a.b-c_d", "proxy.example;transport=TCP;lr").unwrap();
    assert_eq!(g.proxy.transport, ProxyTransport::Tcp);
    let g = GatewayAddr::parse("a", "[2001:db8::1]:5062;transport=wss").unwrap();
    assert_eq!(g.proxy.host, "[2001:db8::1]");
    assert_eq!(g.proxy.port, Some(5062));
    assert_eq!(g.proxy.transport.token(), "WSS");

    let err = |account: &str, proxy: &str| GatewayAddr::parse(account, proxy).unwrap_err();
    assert_eq!(err("a", "  "), GatewayError::EmptyProxy);
    assert!(matches!(err("a", "sip:"), GatewayError::InvalidProxy(_)));
    assert!(matches!(
        err("a", "host:99999"),
        GatewayError::InvalidProxy(_)
    ));
    assert!(matches!(
        err("a", "user@host"),
        GatewayError::InvalidProxy(_)
    ));
    assert!(matches!(err("a", "ho st"), GatewayError::InvalidProxy(_)));
    assert_eq!(
        err("a", "host;transport=sctp"),
        GatewayError::InvalidTransport("sctp".into())
    );
    assert_eq!(err("", "host"), GatewayError::EmptyAccount);
    assert!(matches!(
        err("a b", "host"),
        GatewayError::InvalidAccount(_)
    ));
    assert!(matches!(
        err("@host", "host"),
        GatewayError::InvalidAccount(_)
    ));
    assert!(matches!(
        err("user@", "host"),
        GatewayError::InvalidAccount(_)
    ));
    assert!(matches!(
        err("user@ho:st", "host"),
        GatewayError::InvalidAccount(_)
    ));
    assert_eq!(
        err("a b", "host").to_string(),
        "account \"a b\" is not user[@host[:port]] with an optional sip:/sips: prefix"
    );
}

#[test]
fn config_from_a_gateway_row() {
    let contact = NameAddr::parse(CONTACT).unwrap();
    let cfg = RegistrantConfig::new(&gateway(), "  ", PASSWORD, 0, contact, 1);
    assert_eq!(cfg.username, USER);
    assert_eq!(cfg.expires, 600);
    assert_eq!(cfg.backoff, Backoff::default());
    assert!(!format!("{cfg:?}").contains(PASSWORD));
    let mut cfg = cfg;
    cfg.user_agent = Some("Switchboard".into());
    let mut r = Registrant::new(cfg);
    assert!(!format!("{r:?}").contains(PASSWORD));
    r.start(Instant::now());
    let req = r.poll_request(via()).unwrap();
    assert_eq!(header(&req, HeaderName::UserAgent), Some("Switchboard"));
}
