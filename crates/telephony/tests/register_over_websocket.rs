//! REGISTER over a real WebSocket (RFC 7118) against a real store: digest challenge and
//! verification against the device HA1 (RFC 3261 §22), AOR ownership (403), refresh, several
//! bindings per user, unregister, OPTIONS, malformed input, and bindings dropped with the flow.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use switchboard_sip::digest::{authorize, ha1, ClientSecret};
use switchboard_sip::{parse, Message, Method, Response};
use switchboard_store::{DeviceInput, Store, UserInput};
use switchboard_telephony::{routes, Telephony, TelephonyConfig};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const DOMAIN: &str = "example.test";

struct Fixture {
    url: String,
    telephony: Telephony,
    domain_id: i64,
    user_id: i64,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open_sqlite(dir.path()).await.unwrap());
    let domain = store.create_domain(DOMAIN).await.unwrap();
    let mut ids = Vec::new();
    for (account, password) in [("dev-a", "secret-a"), ("dev-b", "secret-b")] {
        let d = store
            .create_device(
                domain.id,
                &DeviceInput {
                    name: account.into(),
                    account: account.into(),
                    ha1: ha1(account, DOMAIN, password),
                    ..Default::default()
                },
                None,
            )
            .await
            .unwrap();
        ids.push(d.id);
    }
    // User 2001 owns dev-a; user 2002 owns dev-b.
    let mut user_id = 0;
    for (ext, dev) in [("2001", ids[0]), ("2002", ids[1])] {
        let u = store
            .create_user(
                domain.id,
                &UserInput {
                    username: format!("u{ext}"),
                    extension: ext.into(),
                    device_id: Some(dev),
                    device_ids: vec![dev],
                    ..Default::default()
                },
                None,
            )
            .await
            .unwrap();
        if ext == "2001" {
            user_id = u.id;
        }
    }
    let hub = Arc::new(switchboard_api::ws::hub::LocalHub::new());
    let telephony = Telephony::start(store, hub, TelephonyConfig::default())
        .await
        .unwrap();
    let app = routes(telephony.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .unwrap();
    });
    Fixture {
        url: format!("ws://{addr}/sip"),
        telephony,
        domain_id: domain.id,
        user_id,
        _dir: dir,
    }
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn connect(url: &str) -> Ws {
    let mut req = url.into_client_request().unwrap();
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", "sip".parse().unwrap());
    let (ws, resp) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(
        resp.headers()
            .get("sec-websocket-protocol")
            .map(|v| v.to_str().unwrap()),
        Some("sip"),
        "RFC 7118 §4: the server must select the sip sub-protocol"
    );
    ws
}

async fn send(ws: &mut Ws, msg: &str) {
    ws.send(WsMessage::Text(msg.into())).await.unwrap();
}

async fn recv(ws: &mut Ws) -> Response {
    let bytes = recv_raw(ws).await;
    match parse(&bytes).unwrap() {
        Message::Response(r) => r,
        Message::Request(r) => panic!("unexpected request {}", r.method),
    }
}

async fn recv_raw(ws: &mut Ws) -> Vec<u8> {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a response in time")
            .expect("socket open")
            .unwrap();
        let bytes = match frame {
            WsMessage::Text(t) => t.as_bytes().to_vec(),
            WsMessage::Binary(b) => b.to_vec(),
            _ => continue,
        };
        return bytes;
    }
}

/// JsSIP's REGISTER, optionally with an Authorization header.
fn register(aor_user: &str, instance: &str, cseq: u32, expires: u32, auth: Option<&str>) -> String {
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    format!(
        "REGISTER sip:{DOMAIN} SIP/2.0\r\n\
         Via: SIP/2.0/WS abc{instance}.invalid;branch=z9hG4bK{instance}{cseq}\r\n\
         Max-Forwards: 69\r\n\
         To: <sip:{aor_user}@{DOMAIN}>\r\n\
         From: <sip:{aor_user}@{DOMAIN}>;tag=t{instance}\r\n\
         Call-ID: reg-{instance}\r\n\
         CSeq: {cseq} REGISTER\r\n\
         Contact: <sip:c{instance}@abc{instance}.invalid;transport=ws>;+sip.ice;reg-id=1;+sip.instance=\"<urn:uuid:{instance}>\";expires={expires}\r\n\
         Expires: {expires}\r\n\
         Supported: path,gruu,outbound\r\n\
         {auth}Content-Length: 0\r\n\r\n"
    )
}

/// Sends a REGISTER, answers the 401 with `account`'s credentials and returns the final response.
async fn register_with_auth(
    ws: &mut Ws,
    aor_user: &str,
    instance: &str,
    cseq: u32,
    expires: u32,
    account: &str,
    password: &str,
) -> Response {
    send(ws, &register(aor_user, instance, cseq, expires, None)).await;
    let challenge = recv(ws).await;
    assert_eq!(challenge.status, 401);
    let auths = challenge.headers.www_authenticate().unwrap();
    let www = &auths[0];
    assert_eq!(www.get("realm"), Some(DOMAIN));
    assert_eq!(www.get("algorithm"), Some("MD5"));
    let creds = authorize(
        www,
        &Method::Register,
        &format!("sip:{DOMAIN}"),
        account,
        ClientSecret::Ha1(&ha1(account, DOMAIN, password)),
        "cnonce1",
        1,
    )
    .unwrap();
    send(
        ws,
        &register(
            aor_user,
            instance,
            cseq + 1,
            expires,
            Some(&creds.to_string()),
        ),
    )
    .await;
    recv(ws).await
}

async fn bindings(t: &Telephony) -> usize {
    t.stats().await.unwrap().bindings
}

#[tokio::test]
async fn digest_register_refresh_unregister_and_flow_close() {
    let f = fixture().await;
    let mut ws = connect(&f.url).await;

    let ok = register_with_auth(&mut ws, "2001", "i1", 1, 600, "dev-a", "secret-a").await;
    assert_eq!(ok.status, 200);
    assert!(ok.headers.requires("outbound"));
    assert_eq!(f.telephony.registered(f.domain_id, f.user_id), 1);

    // A second tab (another connection and instance) of the same user.
    let mut tab2 = connect(&f.url).await;
    let ok = register_with_auth(&mut tab2, "2001", "i2", 1, 600, "dev-a", "secret-a").await;
    assert_eq!(ok.status, 200);
    assert_eq!(f.telephony.registered(f.domain_id, f.user_id), 2);
    assert_eq!(bindings(&f.telephony).await, 2);

    // Refresh keeps one binding per tab.
    let ok = register_with_auth(&mut ws, "2001", "i1", 3, 600, "dev-a", "secret-a").await;
    assert_eq!(ok.status, 200);
    assert_eq!(bindings(&f.telephony).await, 2);

    // Unregister the first tab.
    let ok = register_with_auth(&mut ws, "2001", "i1", 5, 0, "dev-a", "secret-a").await;
    assert_eq!(ok.status, 200);
    assert_eq!(f.telephony.registered(f.domain_id, f.user_id), 1);

    // Closing the second tab's WebSocket drops its binding.
    tab2.close(None).await.unwrap();
    drop(tab2);
    for _ in 0..50 {
        if f.telephony.registered(f.domain_id, f.user_id) == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(f.telephony.registered(f.domain_id, f.user_id), 0);
    assert_eq!(bindings(&f.telephony).await, 0);
}

#[tokio::test]
async fn wrong_password_is_challenged_again_and_foreign_aor_is_forbidden() {
    let f = fixture().await;
    let mut ws = connect(&f.url).await;

    let r = register_with_auth(&mut ws, "2001", "i1", 1, 600, "dev-a", "wrong").await;
    assert_eq!(
        r.status, 401,
        "§22.4: bad credentials get a fresh challenge"
    );

    // dev-b's credentials are right, but 2001 is not dev-b's user.
    let r = register_with_auth(&mut ws, "2001", "i2", 1, 600, "dev-b", "secret-b").await;
    assert_eq!(r.status, 403);

    // An unknown device is challenged like a wrong password (no user enumeration).
    let r = register_with_auth(&mut ws, "2001", "i3", 1, 600, "nobody", "x").await;
    assert_eq!(r.status, 401);
    assert_eq!(bindings(&f.telephony).await, 0);
}

#[tokio::test]
async fn options_malformed_and_unknown_methods() {
    let f = fixture().await;
    let mut ws = connect(&f.url).await;

    send(
        &mut ws,
        &format!(
            "OPTIONS sip:{DOMAIN} SIP/2.0\r\nVia: SIP/2.0/WS x.invalid;branch=z9hG4bKo1\r\n\
             To: <sip:{DOMAIN}>\r\nFrom: <sip:2001@{DOMAIN}>;tag=a\r\nCall-ID: o1\r\n\
             CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        ),
    )
    .await;
    let r = recv(&mut ws).await;
    assert_eq!(r.status, 200);
    assert!(r.headers.allows("INVITE"));

    // A broken CSeq still gets its 400 (RFC 3261 §8.2, sip::reject).
    send(
        &mut ws,
        "REGISTER sip:example.test SIP/2.0\r\nVia: SIP/2.0/WS x.invalid;branch=z9hG4bKm1\r\n\
         To: <sip:2001@example.test>\r\nFrom: <sip:2001@example.test>;tag=a\r\nCall-ID: m1\r\n\
         CSeq: one REGISTER\r\nContent-Length: 0\r\n\r\n",
    )
    .await;
    // The response echoes the broken CSeq, so only its status line is checked.
    let raw = recv_raw(&mut ws).await;
    assert!(
        raw.starts_with(b"SIP/2.0 400 "),
        "{}",
        String::from_utf8_lossy(&raw)
    );

    // Garbage is dropped and the connection stays usable.
    send(&mut ws, "\u{1}\u{2} not sip at all").await;
    send(
        &mut ws,
        &format!(
            "SUBSCRIBE sip:2001@{DOMAIN} SIP/2.0\r\nVia: SIP/2.0/WS x.invalid;branch=z9hG4bKs1\r\n\
             To: <sip:2001@{DOMAIN}>\r\nFrom: <sip:2001@{DOMAIN}>;tag=a\r\nCall-ID: s1\r\n\
             CSeq: 1 SUBSCRIBE\r\nMax-Forwards: 70\r\nEvent: presence\r\nContent-Length: 0\r\n\r\n"
        ),
    )
    .await;
    let r = recv(&mut ws).await;
    assert_eq!(r.status, 405);
    assert!(r.headers.allows("REGISTER"));
}
