//! SIP trunks: Switchboard registering out to a provider (a SIPp registrar checking the
//! digest), the `r_state` the REST API reports, and the unregistration when a gateway goes.

mod common;

use common::sipp::{rest, Transport, Uas};
use common::Server;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

async fn gateway(s: &Server, id: &str) -> Value {
    rest(s, Method::GET, &format!("/sip/gateways/{id}"), None).await
}

/// Waits until the gateway's `r_state` is `want`.
async fn until_state(s: &Server, id: &str, want: i64, within: Duration) -> Value {
    let end = Instant::now() + within;
    loop {
        let g = gateway(s, id).await;
        let g = if g.get("gateway").is_some() {
            g["gateway"].clone()
        } else {
            g
        };
        if g["r_state"].as_i64() == Some(want) || Instant::now() > end {
            return g;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A register-mode gateway "Provider" for `user@provider.test` via `proxy`; its id.
async fn register_gateway(s: &Server, user: &str, password: &str, proxy: String) -> String {
    register_gateway_as(s, &format!("{user}@provider.test"), user, password, proxy).await
}

/// A register-mode gateway "Provider" with the address of record `account`; its id.
async fn register_gateway_as(
    s: &Server,
    account: &str,
    user: &str,
    password: &str,
    proxy: String,
) -> String {
    let created = rest(
        s,
        Method::POST,
        "/sip/gateways",
        Some(json!({
            "name": "Provider",
            "register": true,
            "account": account,
            "username": user,
            "password": password,
            "proxy": proxy,
            "expires": 60,
            "enable": true,
        })),
    )
    .await;
    created["id"].as_str().expect("gateway id").to_string()
}

/// The gateway's `proxy` for a provider listening on `port` over `transport`.
fn proxy_for(transport: Transport, port: u16) -> String {
    match transport {
        Transport::Udp => format!("sip:127.0.0.1:{port}"),
        Transport::Tcp => format!("sip:127.0.0.1:{port};transport=tcp"),
    }
}

/// Every request of `method` the provider received came over `token` (UDP, TCP).
fn assert_via(run: &common::sipp::Run, method: &str, token: &str) {
    let vias: Vec<&str> = run
        .messages
        .split(&format!("{method} sip:"))
        .skip(1)
        .filter_map(|m| m.lines().find(|l| l.starts_with("Via:")))
        .collect();
    assert!(!vias.is_empty(), "no {method} in the provider's trace");
    assert!(
        vias.iter()
            .all(|v| v.contains(&format!("SIP/2.0/{token} "))),
        "{vias:?}"
    );
}

/// A register-mode gateway registers to a SIPp registrar over `transport` with digest.
async fn registers_with_digest(transport: Transport, user: &str) {
    let s = Server::start();
    let port = common::free_udp_tcp_port();
    let provider = Uas::start(
        "provider_register.xml",
        transport,
        port,
        &[user, "s3cret-pass"],
    );
    let id = register_gateway(&s, user, "s3cret-pass", proxy_for(transport, port)).await;
    let g = until_state(&s, &id, 3, Duration::from_secs(15)).await;
    let run = tokio::task::spawn_blocking(move || provider.wait(Duration::from_secs(20)))
        .await
        .unwrap();
    assert!(run.ok, "the provider saw no valid REGISTER: {}", run.errors);
    assert_eq!(
        g["r_state"],
        3,
        "registered: {g}\nserver log:\n{}",
        s.logs()
    );
    assert!(g.get("password").is_none(), "{g}");
    match transport {
        Transport::Udp => assert_via(&run, "REGISTER", "UDP"),
        Transport::Tcp => {
            assert_via(&run, "REGISTER", "TCP");
            // The provider is gone with its connection: the binding is, too. Registering
            // again finds no one listening (INTERNAL_ERROR), where UDP would wait for the
            // refresh.
            let g = until_state(&s, &id, 5, Duration::from_secs(10)).await;
            assert_eq!(g["r_state"], 5, "{g}");
        }
    }
}

#[tokio::test]
async fn a_register_gateway_registers_to_its_provider_with_digest() {
    registers_with_digest(Transport::Udp, "trunk77").await;
}

#[tokio::test]
async fn a_register_gateway_registers_over_tcp() {
    registers_with_digest(Transport::Tcp, "trunk79").await;
}

#[tokio::test]
async fn a_wrong_password_shows_as_failed_credentials() {
    let s = Server::start();
    let port = common::free_udp_tcp_port();
    let _provider = Uas::start(
        "provider_register.xml",
        Transport::Udp,
        port,
        &["trunk78", "the-right-one"],
    );
    let id = register_gateway(&s, "trunk78", "a-wrong-one", format!("127.0.0.1:{port}")).await;
    // The provider answers the wrong digest with 403: a registrar error (7), not registered.
    let g = until_state(&s, &id, 7, Duration::from_secs(15)).await;
    assert_eq!(g["r_state"], 7, "{g}");
}

/// An outbound route for numbers matching `pattern` through the gateway "Provider", which
/// gets `dial_string` (with the pattern's groups).
async fn route_out(s: &Server, pattern: &str, dial_string: &str) {
    let schema = rest(
        s,
        Method::POST,
        "/routing/schema",
        Some(json!({
            "name": "Out via provider",
            "type": "default",
            "schema": [{"bridge": {"strategy": "failover", "endpoints": [
                {"type": "gateway", "name": "Provider", "dialString": dial_string}]}}],
        })),
    )
    .await;
    rest(
        s,
        Method::POST,
        "/routing/outbound/calls",
        Some(json!({
            "name": "Out",
            "pattern": pattern,
            "schema": {"id": schema["id"]},
        })),
    )
    .await;
}

/// A desk phone dials a number that is no extension: the outbound route's schema bridges it
/// to a register-mode gateway reached over `transport`; the provider registers us, challenges
/// the INVITE (401), checks the digest and From, answers with PCMU and echoes the audio back.
async fn dial_out(transport: Transport, user: &str, extension: &str) {
    let s = Server::start_with(&[("SWITCHBOARD_SIP_PING_INTERVAL", "0")]);
    let port = common::free_udp_tcp_port();
    let media = common::free_udp_tcp_port().to_string();
    let provider = Uas::start_with(
        "provider.xml",
        transport,
        port,
        &[user, "pr0vider-pass"],
        &["-m", "2", "-rtp_echo", "-mp", &media],
    );
    let gw_id = register_gateway(&s, user, "pr0vider-pass", proxy_for(transport, port)).await;
    let g = until_state(&s, &gw_id, 3, Duration::from_secs(20)).await;
    assert_eq!(
        g["r_state"],
        3,
        "not registered to the provider: {g}\nserver log:\n{}",
        s.logs()
    );
    route_out(&s, "^9(\\d{7})$", "+1$1").await;
    let phone = common::sipp::desk_phone(&s, extension).await;
    let sip = s.sip;
    let ext = extension.to_string();
    let dialled = tokio::task::spawn_blocking(move || {
        let mut p = common::baresip::Baresip::register(
            &ext,
            "my-company.lo",
            (&phone.account, &phone.password),
            sip,
            common::baresip::Transport::Udp,
        );
        p.command("dial", "sip:95551234@my-company.lo");
        assert!(
            p.wait_output("Call established", Duration::from_secs(15)),
            "{}",
            p.tail()
        );
        std::thread::sleep(Duration::from_secs(3));
        p.command("hangup", "");
        p
    })
    .await;
    let run = tokio::task::spawn_blocking(move || provider.wait(Duration::from_secs(15)))
        .await
        .unwrap();
    let caller = dialled.unwrap_or_else(|e| panic!("{e}\nprovider:\n{}", run.errors));
    assert!(run.ok, "the provider's side failed: {}", run.errors);
    let invites = run.received_sizes("INVITE");
    assert_eq!(invites.len(), 2, "challenged, then with credentials");
    match transport {
        // RFC 3261 §18.1.1: a request over UDP stays under 1300 bytes (lean SDP to trunks).
        Transport::Udp => {
            assert!(
                invites.iter().all(|&n| n < 1300),
                "INVITE sizes {invites:?}"
            );
            assert_via(&run, "INVITE", "UDP");
        }
        Transport::Tcp => assert_via(&run, "INVITE", "TCP"),
    }
    // The provider echoes: the phone hears its own 440 Hz through both legs.
    let heard = common::baresip::recorded_tone(&caller);
    assert!(heard.rms_db > -30.0, "silence from the provider: {heard:?}");
    assert!((heard.freq - 440.0).abs() < 25.0, "{heard:?}");
}

#[tokio::test]
async fn a_dialled_number_goes_out_through_the_route_schema_and_gateway() {
    dial_out(Transport::Udp, "trunk91", "2041").await;
}

#[tokio::test]
async fn a_dialled_number_goes_out_over_tcp() {
    dial_out(Transport::Tcp, "trunk92", "2042").await;
}

/// A provider reached over TLS with a certificate from a private CA (`--sip-trunk-ca`): a
/// second Switchboard, on which the gateway is a desk phone of its domain. The gateway
/// registers over TLS, and a number dialled on our side rings a phone on the provider's;
/// the two phones hear each other.
#[tokio::test]
async fn a_gateway_registers_and_calls_over_tls_with_a_private_ca() {
    let certs = common::tls::private_ca();
    let quiet = ("SWITCHBOARD_SIP_PING_INTERVAL", "0");
    let provider = Server::start_tls(&certs, &[quiet]);
    let ca = certs.ca.to_string_lossy().into_owned();
    let s = Server::start_with(&[quiet, ("SWITCHBOARD_SIP_TRUNK_CA", &ca)]);
    let line = common::sipp::desk_phone(&provider, "2077").await;
    let tls = provider.sip_tls.expect("the provider's TLS listener");
    let id = register_gateway_as(
        &s,
        "2077@my-company.lo",
        &line.account,
        &line.password,
        format!("sips:127.0.0.1:{}", tls.port()),
    )
    .await;
    let g = until_state(&s, &id, 3, Duration::from_secs(15)).await;
    assert_eq!(
        g["r_state"],
        3,
        "{g}\nserver log:\n{}\nprovider log:\n{}",
        s.logs(),
        provider.logs()
    );
    let regs = rest(
        &provider,
        Method::GET,
        &format!("/devices/{}/registered", line.device_id),
        None,
    )
    .await;
    assert_eq!(regs["items"][0]["socket"], format!("tls:{tls}"), "{regs}");

    route_out(&s, "^8(\\d{4})$", "$1").await;
    let (caller, callee) = (
        common::sipp::desk_phone(&s, "2043").await,
        common::sipp::desk_phone(&provider, "2078").await,
    );
    let (sip, far) = (s.sip, provider.sip);
    let (caller, callee) = tokio::task::spawn_blocking(move || {
        let mut b = common::baresip::Baresip::register(
            "2078",
            "my-company.lo",
            (&callee.account, &callee.password),
            far,
            common::baresip::Transport::Udp,
        );
        let mut a = common::baresip::Baresip::register(
            "2043",
            "my-company.lo",
            (&caller.account, &caller.password),
            sip,
            common::baresip::Transport::Udp,
        );
        a.command("dial", "sip:82078@my-company.lo");
        assert!(
            b.wait_output("Incoming call from", Duration::from_secs(15)),
            "{}",
            b.tail()
        );
        b.command("accept", "");
        assert!(
            a.wait_output("Call established", Duration::from_secs(10)),
            "{}",
            a.tail()
        );
        std::thread::sleep(Duration::from_secs(3));
        a.command("hangup", "");
        (a, b)
    })
    .await
    .unwrap_or_else(|e| {
        panic!(
            "{e}\nserver log:\n{}\nprovider log:\n{}",
            s.logs(),
            provider.logs()
        )
    });
    for (who, phone) in [("caller", &caller), ("callee", &callee)] {
        let heard = common::baresip::recorded_tone(phone);
        assert!(heard.rms_db > -30.0, "the {who} heard silence: {heard:?}");
        assert!((heard.freq - 440.0).abs() < 25.0, "{who}: {heard:?}");
    }
}

/// A provider calls in over an IP trunk: its source is in the gateway's access list, no
/// digest is asked, and the gateway's schema bridges the call to a desk phone, which hears
/// the provider (SIPp echoing the phone's own tone).
#[tokio::test]
async fn a_call_from_an_ip_trunk_follows_the_gateway_schema_to_a_phone() {
    let s = Server::start_with(&[("SWITCHBOARD_SIP_PING_INTERVAL", "0")]);
    let schema = rest(
        &s,
        Method::POST,
        "/routing/schema",
        Some(json!({
            "name": "Inbound to the desk",
            "type": "default",
            "schema": [{"bridge": {"endpoints": [{"type": "user", "extension": "2051"}]}}],
        })),
    )
    .await;
    let provider_port = common::free_udp_tcp_port();
    rest(
        &s,
        Method::POST,
        "/sip/gateways",
        Some(json!({
            "name": "Carrier",
            "register": false,
            "host": "provider.test",
            "proxy": format!("127.0.0.1:{provider_port}"),
            "ipacl": [{"ip": "127.0.0.1/32", "proto": "udp"}],
            "schema": {"id": schema["id"]},
            "enable": true,
        })),
    )
    .await;
    let phone = common::sipp::desk_phone(&s, "2051").await;
    let sip = s.sip;
    let mut callee = tokio::task::spawn_blocking(move || {
        common::baresip::Baresip::register(
            "2051",
            "my-company.lo",
            (&phone.account, &phone.password),
            sip,
            common::baresip::Transport::Udp,
        )
    })
    .await
    .unwrap();
    let media = common::free_udp_tcp_port().to_string();
    let provider = tokio::task::spawn_blocking(move || {
        common::sipp::run_fields(
            "trunk_call.xml",
            Transport::Udp,
            sip,
            &["+15550001", "4420001"],
            &["-rtp_echo", "-mp", &media],
            provider_port,
            20,
        )
    });
    let callee = tokio::task::spawn_blocking(move || {
        assert!(
            callee.wait_output("Incoming call from", Duration::from_secs(10)),
            "{}",
            callee.tail()
        );
        assert!(
            callee.output().contains("+15550001"),
            "caller id: {}",
            callee.tail()
        );
        callee.command("accept", "");
        callee
    })
    .await
    .unwrap();
    let run = provider.await.unwrap();
    assert!(run.ok, "the provider's call failed: {}", run.errors);
    let heard = common::baresip::recorded_tone(&callee);
    assert!(heard.rms_db > -30.0, "silence from the trunk: {heard:?}");
    assert!((heard.freq - 440.0).abs() < 25.0, "{heard:?}");
}

/// An INVITE from a host that is no trunk and names no domain of ours gets 403 and rings
/// nobody.
#[tokio::test]
async fn an_invite_from_an_unknown_host_is_forbidden() {
    let s = Server::start();
    let sip = s.sip;
    let run = tokio::task::spawn_blocking(move || {
        common::sipp::run_fields(
            "foreign_invite.xml",
            Transport::Udp,
            sip,
            &["+15550002", "2001"],
            &[],
            common::free_udp_tcp_port(),
            10,
        )
    })
    .await
    .unwrap();
    assert!(run.ok, "expected 403: {}", run.errors);
    let status = rest(&s, Method::GET, "/calls/active", None).await;
    assert!(
        status["items"].as_array().is_none_or(|a| a.is_empty()),
        "{status}"
    );
}
