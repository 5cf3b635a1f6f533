//! Registration flows of RFC 3665 §2 and the JsSIP (webitel-sdk) REGISTER,
//! driven through parse → digest → registrar → serialise.

use std::time::{Duration, Instant};

use switchboard_sip::digest::{self, ClientSecret, DigestError, DigestServer};
use switchboard_sip::registrar::{Registrar, RegistrarConfig};
use switchboard_sip::{parse, FlowId, HeaderName, Message, Request, Response};

const REALM: &str = "example.com";
const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

fn jssip_register(
    cseq: u32,
    expires: u32,
    contact_user: &str,
    instance: &str,
    auth: Option<&str>,
) -> String {
    let mut s = format!(
        "REGISTER sip:example.com SIP/2.0\r\n\
Via: SIP/2.0/WSS abc123.invalid;branch=z9hG4bK{cseq}{contact_user}\r\n\
Max-Forwards: 69\r\n\
To: <sip:1001@example.com>\r\n\
From: \"Agent One\" <sip:1001@example.com>;tag=a1b2c3\r\n\
Call-ID: {contact_user}-call\r\n\
CSeq: {cseq} REGISTER\r\n\
Contact: <sip:{contact_user}@abc123.invalid;transport=ws>;+sip.ice;reg-id=1;+sip.instance=\"<urn:uuid:{instance}>\";expires={expires}\r\n\
Expires: {expires}\r\n\
Allow: INVITE,ACK,CANCEL,BYE,UPDATE,MESSAGE,OPTIONS,REFER,INFO,NOTIFY\r\n\
Supported: path,gruu,outbound\r\n\
User-Agent: Webitel-Phone/3.10.0\r\n"
    );
    if let Some(a) = auth {
        s.push_str(&format!("Authorization: {a}\r\n"));
    }
    s.push_str("Content-Length: 0\r\n\r\n");
    s
}

fn request(s: &str) -> Request {
    match parse(s.as_bytes()).expect("parses") {
        Message::Request(r) => r,
        Message::Response(_) => panic!("expected request"),
    }
}

fn response(bytes: &[u8]) -> Response {
    match parse(bytes).expect("parses") {
        Message::Response(r) => r,
        Message::Request(_) => panic!("expected response"),
    }
}

/// What the server side of a test does with one REGISTER.
struct Server {
    digest: DigestServer,
    registrar: Registrar,
    ha1: String,
}

impl Server {
    fn new() -> Self {
        Self {
            digest: DigestServer::new(SECRET, 300),
            registrar: Registrar::new(RegistrarConfig::default()),
            ha1: digest::ha1("dev-1001", REALM, "secret"),
        }
    }

    fn handle(&mut self, raw: &str, flow: FlowId, now: Instant, now_secs: u64) -> Response {
        let req = request(raw);
        let creds = req.headers.authorization().unwrap();
        let Some(c) = digest::find_credentials(&creds, REALM) else {
            return self
                .digest
                .challenge_response(&req, REALM, now_secs, false, false, "srv");
        };
        assert_eq!(c.get("username"), Some("dev-1001"));
        match self
            .digest
            .verify(c, &req.method, &req.uri, REALM, &self.ha1, now_secs)
        {
            Ok(()) => {
                self.registrar
                    .register(&req, flow, "127.0.0.1:50000", now, "srv")
                    .response
            }
            Err(DigestError::Stale) => self
                .digest
                .challenge_response(&req, REALM, now_secs, true, false, "srv"),
            Err(_) => self
                .digest
                .challenge_response(&req, REALM, now_secs, false, false, "srv"),
        }
    }
}

/// The client's half: answer a 401 with credentials computed from HA1 only.
fn answer_challenge(resp: &Response, secret: ClientSecret<'_>, nc: u32) -> String {
    let ch = resp.headers.www_authenticate().unwrap().remove(0);
    let creds = digest::authorize(
        &ch,
        &switchboard_sip::Method::Register,
        "sip:example.com",
        "dev-1001",
        secret,
        "0a4f113b",
        nc,
    )
    .unwrap();
    creds.to_string()
}

#[test]
fn jssip_register_challenge_then_authorized_then_200_with_contact_and_expires() {
    let mut srv = Server::new();
    let t0 = Instant::now();
    let flow = FlowId(7);
    let r1 = srv.handle(
        &jssip_register(1, 600, "xyz", "f81d4fae-7dec", None),
        flow,
        t0,
        1_000,
    );
    let wire = r1.to_bytes();
    let r1 = response(&wire);
    assert_eq!(r1.status, 401);
    let ch = r1.headers.www_authenticate().unwrap().remove(0);
    assert_eq!(ch.get("realm"), Some(REALM));
    assert_eq!(ch.get("algorithm"), Some("MD5"));
    assert_eq!(ch.get("qop"), Some("auth"));
    assert!(ch.get("opaque").is_some());
    assert!(r1.headers.to().unwrap().tag().is_some());

    let ha1 = digest::ha1("dev-1001", REALM, "secret");
    let auth = answer_challenge(&r1, ClientSecret::Ha1(&ha1), 1);
    let r2 = srv.handle(
        &jssip_register(2, 600, "xyz", "f81d4fae-7dec", Some(&auth)),
        flow,
        t0,
        1_001,
    );
    let r2 = response(&r2.to_bytes());
    assert_eq!(r2.status, 200);
    let contacts = r2.headers.contacts().unwrap();
    assert_eq!(contacts.len(), 1);
    assert_eq!(contacts[0].expires(), Ok(Some(600)));
    assert_eq!(
        contacts[0].instance().as_deref(),
        Some("<urn:uuid:f81d4fae-7dec>")
    );
    assert_eq!(r2.headers.expires(), Ok(Some(600)));
    assert!(r2.headers.requires("outbound"));
    assert_eq!(r2.headers.cseq().unwrap().seq, 2);

    let b: Vec<_> = srv.registrar.lookup("sip:1001@example.com", t0).collect();
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].flow, flow);
    assert_eq!(
        b[0].contact.uri.to_string(),
        "sip:xyz@abc123.invalid;transport=ws"
    );
}

#[test]
fn rfc3665_2_1_successful_new_registration() {
    let mut srv = Server::new();
    let t0 = Instant::now();
    let r1 = srv.handle(
        &jssip_register(1, 3600, "bob", "1", None),
        FlowId(1),
        t0,
        50,
    );
    assert_eq!(r1.status, 401);
    let auth = answer_challenge(&r1, ClientSecret::Password("secret"), 1);
    let r2 = srv.handle(
        &jssip_register(2, 3600, "bob", "1", Some(&auth)),
        FlowId(1),
        t0,
        51,
    );
    assert_eq!(r2.status, 200);
    assert_eq!(r2.headers.contacts().unwrap()[0].expires(), Ok(Some(3600)));
}

#[test]
fn rfc3665_2_2_update_of_contact_list_adds_second_tab() {
    let mut srv = Server::new();
    let t0 = Instant::now();
    for (i, user) in ["tab1", "tab2"].iter().enumerate() {
        let ch = srv.handle(
            &jssip_register(1, 600, user, user, None),
            FlowId(i as u64),
            t0,
            10,
        );
        let auth = answer_challenge(&ch, ClientSecret::Password("secret"), 1);
        let ok = srv.handle(
            &jssip_register(2, 600, user, user, Some(&auth)),
            FlowId(i as u64),
            t0,
            10,
        );
        assert_eq!(ok.status, 200);
        assert_eq!(ok.headers.contacts().unwrap().len(), i + 1);
    }
    let flows: Vec<_> = srv
        .registrar
        .lookup("sip:1001@example.com", t0)
        .map(|b| b.flow)
        .collect();
    assert_eq!(flows, vec![FlowId(0), FlowId(1)]);
}

#[test]
fn rfc3665_2_3_request_for_current_contact_list() {
    let mut srv = Server::new();
    let t0 = Instant::now();
    let ch = srv.handle(&jssip_register(1, 600, "a", "a", None), FlowId(1), t0, 10);
    let auth = answer_challenge(&ch, ClientSecret::Password("secret"), 1);
    srv.handle(
        &jssip_register(2, 600, "a", "a", Some(&auth)),
        FlowId(1),
        t0,
        10,
    );
    // A REGISTER without Contact only queries.
    let mut q = request(&jssip_register(3, 600, "a", "a", None));
    q.headers.remove(&HeaderName::Contact);
    q.headers.remove(&HeaderName::Expires);
    let out = srv
        .registrar
        .register(&q, FlowId(1), "x", t0 + Duration::from_secs(100), "t");
    assert_eq!(out.response.status, 200);
    assert!(!out.changed);
    let c = out.response.headers.contacts().unwrap();
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].expires(), Ok(Some(500)));
}

#[test]
fn rfc3665_2_4_cancellation_of_registration() {
    let mut reg = Registrar::new(RegistrarConfig::default());
    let t0 = Instant::now();
    reg.register(
        &request(&jssip_register(1, 600, "a", "a", None)),
        FlowId(1),
        "x",
        t0,
        "t",
    );
    reg.register(
        &request(&jssip_register(1, 600, "b", "b", None)),
        FlowId(2),
        "x",
        t0,
        "t",
    );
    // JsSIP's unregister: the same contact with expires=0.
    let out = reg.register(
        &request(&jssip_register(2, 0, "a", "a", None)),
        FlowId(1),
        "x",
        t0,
        "t",
    );
    assert_eq!(out.response.status, 200);
    assert_eq!(reg.lookup("sip:1001@example.com", t0).count(), 1);
    // Contact: * with Expires: 0 removes everything.
    let mut star = request(&jssip_register(2, 0, "b", "b", None));
    star.headers.set(HeaderName::Contact, "*");
    let out = reg.register(&star, FlowId(2), "x", t0, "t");
    assert_eq!(out.response.status, 200);
    assert!(out.response.headers.contacts().unwrap().is_empty());
    assert!(reg.is_empty());
}

#[test]
fn rfc3261_10_3_star_needs_expires_zero() {
    let mut reg = Registrar::new(RegistrarConfig::default());
    let mut star = request(&jssip_register(2, 600, "b", "b", None));
    star.headers.set(HeaderName::Contact, "*");
    assert_eq!(
        reg.register(&star, FlowId(2), "x", Instant::now(), "t")
            .response
            .status,
        400
    );
}

#[test]
fn rfc3665_2_5_unsuccessful_registration_wrong_password() {
    let mut srv = Server::new();
    let t0 = Instant::now();
    let ch = srv.handle(&jssip_register(1, 600, "a", "a", None), FlowId(1), t0, 10);
    let auth = answer_challenge(&ch, ClientSecret::Password("wrong"), 1);
    let r = srv.handle(
        &jssip_register(2, 600, "a", "a", Some(&auth)),
        FlowId(1),
        t0,
        10,
    );
    assert_eq!(r.status, 401);
    assert!(srv.registrar.is_empty());
}

#[test]
fn rfc3261_22_4_expired_nonce_is_rechallenged_with_stale_true() {
    let mut srv = Server::new();
    let t0 = Instant::now();
    let ch = srv.handle(&jssip_register(1, 600, "a", "a", None), FlowId(1), t0, 10);
    let auth = answer_challenge(&ch, ClientSecret::Password("secret"), 1);
    let r = srv.handle(
        &jssip_register(2, 600, "a", "a", Some(&auth)),
        FlowId(1),
        t0,
        10 + 301,
    );
    assert_eq!(r.status, 401);
    let c = r.headers.www_authenticate().unwrap().remove(0);
    assert_eq!(c.get("stale"), Some("true"));
}

#[test]
fn rfc3261_22_digest_without_qop_and_forged_nonce() {
    let server = DigestServer::new(SECRET, 300);
    let req = request(&jssip_register(1, 600, "a", "a", None));
    let ha1 = digest::ha1("dev-1001", REALM, "secret");
    let mut ch = server.challenge(REALM, 100, false);
    ch.params.retain(|p| p.name != "qop");
    let creds = digest::authorize(
        &ch,
        &req.method,
        "sip:example.com",
        "dev-1001",
        ClientSecret::Ha1(&ha1),
        "c",
        1,
    )
    .unwrap();
    assert!(creds.get("qop").is_none());
    assert_eq!(
        server.verify(&creds, &req.method, &req.uri, REALM, &ha1, 100),
        Ok(())
    );
    // Wrong uri.
    let bad_uri = digest::authorize(
        &ch,
        &req.method,
        "sip:other.com",
        "dev-1001",
        ClientSecret::Ha1(&ha1),
        "c",
        1,
    )
    .unwrap();
    assert_eq!(
        server.verify(&bad_uri, &req.method, &req.uri, REALM, &ha1, 100),
        Err(DigestError::UriMismatch)
    );
    // A nonce from another secret.
    let other = DigestServer::new(b"another secret", 300).challenge(REALM, 100, false);
    let forged = digest::authorize(
        &other,
        &req.method,
        "sip:example.com",
        "dev-1001",
        ClientSecret::Ha1(&ha1),
        "c",
        1,
    )
    .unwrap();
    assert_eq!(
        server.verify(&forged, &req.method, &req.uri, REALM, &ha1, 100),
        Err(DigestError::BadNonce)
    );
}

#[test]
fn rfc3261_10_3_interval_too_brief_gets_423_with_min_expires() {
    let mut reg = Registrar::new(RegistrarConfig {
        min_expires: 60,
        max_expires: 3600,
        default_expires: 600,
    });
    let out = reg.register(
        &request(&jssip_register(1, 30, "a", "a", None)),
        FlowId(1),
        "x",
        Instant::now(),
        "t",
    );
    assert_eq!(out.response.status, 423);
    assert_eq!(out.response.headers.min_expires(), Ok(Some(60)));
    assert!(reg.is_empty());
}

#[test]
fn rfc3261_10_3_long_expiry_is_shortened_to_max() {
    let mut reg = Registrar::new(RegistrarConfig {
        min_expires: 60,
        max_expires: 3600,
        default_expires: 600,
    });
    let out = reg.register(
        &request(&jssip_register(1, 99999, "a", "a", None)),
        FlowId(1),
        "x",
        Instant::now(),
        "t",
    );
    assert_eq!(out.response.headers.expires(), Ok(Some(3600)));
}

#[test]
fn rfc3261_10_3_out_of_order_cseq_is_rejected_with_500() {
    let mut reg = Registrar::new(RegistrarConfig::default());
    let t0 = Instant::now();
    reg.register(
        &request(&jssip_register(5, 600, "a", "a", None)),
        FlowId(1),
        "x",
        t0,
        "t",
    );
    let out = reg.register(
        &request(&jssip_register(4, 0, "a", "a", None)),
        FlowId(1),
        "x",
        t0,
        "t",
    );
    assert_eq!(out.response.status, 500);
    assert_eq!(reg.lookup("sip:1001@example.com", t0).count(), 1);
}

#[test]
fn rfc5626_reconnect_with_same_instance_and_reg_id_replaces_flow() {
    let mut reg = Registrar::new(RegistrarConfig::default());
    let t0 = Instant::now();
    reg.register(
        &request(&jssip_register(1, 600, "old", "same", None)),
        FlowId(1),
        "x",
        t0,
        "t",
    );
    // After a WebSocket reconnect JsSIP registers a new random contact with the same instance.
    let mut again = jssip_register(1, 600, "new", "same", None);
    again = again.replace("new-call", "new-call-2");
    reg.register(&request(&again), FlowId(2), "x", t0, "t");
    let b: Vec<_> = reg.lookup("sip:1001@example.com", t0).collect();
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].flow, FlowId(2));
}

#[test]
fn rfc5626_flow_close_removes_its_bindings() {
    let mut reg = Registrar::new(RegistrarConfig::default());
    let t0 = Instant::now();
    reg.register(
        &request(&jssip_register(1, 600, "a", "a", None)),
        FlowId(1),
        "x",
        t0,
        "t",
    );
    reg.register(
        &request(&jssip_register(1, 600, "b", "b", None)),
        FlowId(2),
        "x",
        t0,
        "t",
    );
    assert_eq!(
        reg.remove_flow(FlowId(1)),
        vec!["sip:1001@example.com".to_owned()]
    );
    let b: Vec<_> = reg
        .lookup("sip:1001@example.com", t0)
        .map(|b| b.flow)
        .collect();
    assert_eq!(b, vec![FlowId(2)]);
}

#[test]
fn rfc3261_10_2_1_bindings_expire_with_time_passed_in() {
    let mut reg = Registrar::new(RegistrarConfig::default());
    let t0 = Instant::now();
    reg.register(
        &request(&jssip_register(1, 90, "a", "a", None)),
        FlowId(1),
        "x",
        t0,
        "t",
    );
    reg.register(
        &request(&jssip_register(1, 600, "b", "b", None)),
        FlowId(2),
        "x",
        t0,
        "t",
    );
    assert_eq!(reg.poll_timeout(), Some(t0 + Duration::from_secs(90)));
    let later = t0 + Duration::from_secs(91);
    assert_eq!(reg.lookup("sip:1001@example.com", later).count(), 1);
    assert_eq!(reg.expire(later).len(), 1);
    assert_eq!(reg.poll_timeout(), Some(t0 + Duration::from_secs(600)));
}
