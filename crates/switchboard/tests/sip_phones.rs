//! Desk phones over SIP/UDP and SIP/TCP, driven by a real SIPp: digest registration, what
//! `/devices/{id}/registered` and `reged` show, OPTIONS keep-alive pings to UDP phones, and the
//! bad input a SIP listener must shrug off.

mod common;

use common::baresip::{Baresip, Transport as BaresipTransport};
use common::linphone::Linphone;
use common::sipp::{self, desk_phone, rest, Transport};
use common::Server;
use reqwest::Method;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const DOMAIN: &str = "my-company.lo";

async fn registrations(s: &Server, device: &str) -> Vec<Value> {
    let v = rest(
        s,
        Method::GET,
        &format!("/devices/{device}/registered"),
        None,
    )
    .await;
    v["items"].as_array().cloned().unwrap_or_default()
}

async fn reged(s: &Server, device: &str) -> bool {
    let v = rest(s, Method::GET, &format!("/devices/{device}"), None).await;
    v["device"]["reged"] == Value::Bool(true)
}

/// Waits until the device's registration count is `n`.
async fn until_registered(s: &Server, device: &str, n: usize, within: Duration) -> Vec<Value> {
    let end = Instant::now() + within;
    loop {
        let regs = registrations(s, device).await;
        if regs.len() == n || Instant::now() > end {
            return regs;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn wait_until(within: Duration, mut done: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + within;
    while !done() {
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    true
}

/// The history rows created since `since_ms` once at least `n` of them have ended.
async fn wait_history(s: &Server, since_ms: i64, n: usize) -> Vec<Value> {
    let end = Instant::now() + Duration::from_secs(15);
    loop {
        let path = format!(
            "/calls/history?size=50&created_at.from={}&created_at.to={}",
            since_ms - 1000,
            now_ms() + 1000
        );
        let items = rest(s, Method::GET, &path, None).await["items"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let ended = |i: &Value| {
            i["hangup_at"]
                .as_str()
                .is_some_and(|h| h != "0" && !h.is_empty())
        };
        if (items.len() >= n && items.iter().all(ended)) || Instant::now() > end {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// SIPp blocks: run it off the test's runtime.
async fn sipp_run(
    scenario: &'static str,
    t: Transport,
    s: &Server,
    phone: &sipp::DeskPhone,
    password: &str,
    timeout_s: u32,
) -> sipp::Run {
    let (target, ext, acc, pw) = (
        s.sip,
        phone.extension.clone(),
        phone.account.clone(),
        password.to_string(),
    );
    tokio::task::spawn_blocking(move || {
        sipp::run(scenario, t, target, DOMAIN, (&ext, &acc, &pw), timeout_s)
    })
    .await
    .expect("sipp thread")
}

#[tokio::test]
async fn a_desk_phone_registers_over_udp_with_digest_and_shows_as_registered() {
    // Pings off: SIPp exits after registering and must not lose the binding to silence.
    let s = Server::start_with(&[("SWITCHBOARD_SIP_PING_INTERVAL", "0")]);
    let phone = desk_phone(&s, "2001").await;
    assert!(!reged(&s, &phone.device_id).await);
    let run = sipp_run(
        "register.xml",
        Transport::Udp,
        &s,
        &phone,
        &phone.password,
        15,
    )
    .await;
    assert!(run.ok, "REGISTER over UDP failed: {}", run.errors);
    let regs = registrations(&s, &phone.device_id).await;
    assert_eq!(regs.len(), 1, "{regs:?}");
    let r = &regs[0];
    assert_eq!(r["device"]["id"], phone.device_id.as_str());
    assert_eq!(r["user"]["name"], "Desk user 2001");
    assert_eq!(r["user_agent"], "SIPp desk phone");
    assert_eq!(r["socket"], format!("udp:{}", s.sip));
    assert!(
        r["received"]
            .as_str()
            .unwrap()
            .starts_with("udp:127.0.0.1:"),
        "{r}"
    );
    assert!(
        r["contact"]
            .as_str()
            .unwrap()
            .contains("sip:2001@127.0.0.1"),
        "{r}"
    );
    let expires: i64 = r["expires_at"].as_str().unwrap().parse().unwrap();
    let at: i64 = r["register_at"].as_str().unwrap().parse().unwrap();
    assert!(
        (110_000..=121_000).contains(&(expires - at)),
        "granted about 120 s: {r}"
    );
    assert!(reged(&s, &phone.device_id).await);
}

#[tokio::test]
async fn a_tcp_registration_lives_as_long_as_its_connection() {
    let s = Server::start();
    let phone = desk_phone(&s, "2002").await;
    let run = sipp_run(
        "register.xml",
        Transport::Tcp,
        &s,
        &phone,
        &phone.password,
        15,
    )
    .await;
    assert!(run.ok, "REGISTER over TCP failed: {}", run.errors);
    // SIPp closed its connection on exit: requests to the phone could only travel over it
    // (RFC 5626), so the binding went with it.
    let regs = until_registered(&s, &phone.device_id, 0, Duration::from_secs(5)).await;
    assert!(regs.is_empty(), "{regs:?}");
    assert!(!reged(&s, &phone.device_id).await);
}

#[tokio::test]
async fn a_wrong_password_is_challenged_again_and_binds_nothing() {
    let s = Server::start();
    let phone = desk_phone(&s, "2003").await;
    for t in [Transport::Udp, Transport::Tcp] {
        let run = sipp_run("refused.xml", t, &s, &phone, "not-the-password", 15).await;
        assert!(run.ok, "expected a second 401: {}", run.errors);
    }
    assert!(registrations(&s, &phone.device_id).await.is_empty());
}

#[tokio::test]
async fn a_udp_phone_is_pinged_and_dropped_once_it_falls_silent() {
    let s = Server::start_with(&[("SWITCHBOARD_SIP_PING_INTERVAL", "1")]);
    let phone = desk_phone(&s, "2004").await;
    let (sip, acc, pw) = (s.sip, phone.account.clone(), phone.password.clone());
    let mut baresip = tokio::task::spawn_blocking(move || {
        Baresip::register("2004", DOMAIN, (&acc, &pw), sip, BaresipTransport::Udp)
    })
    .await
    .unwrap();
    // A phone that answers stays registered through several rounds of pings.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_eq!(registrations(&s, &phone.device_id).await.len(), 1);
    let pings = baresip.output().matches("\nOPTIONS sip:2004").count();
    assert!(pings >= 2, "expected pings every second, saw {pings}");
    // Power cut: no unregistration. Three unanswered pings later the binding is gone, long
    // before it would expire (120 s).
    baresip.kill9();
    let regs = until_registered(&s, &phone.device_id, 0, Duration::from_secs(10)).await;
    assert!(regs.is_empty(), "silent phone still registered: {regs:?}");
    assert!(!reged(&s, &phone.device_id).await);
}

#[tokio::test]
async fn garbage_datagrams_and_unframeable_streams_change_nothing() {
    let s = Server::start();
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for junk in [
        &b"\x00\x01\x02garbage"[..],
        b"INVITE sip:x SIP/2.0\r\nVia: nonsense\r\n\r\n",
        b"SIP/2.0 200 OK\r\n\r\n",
        &[0xffu8; 3000][..],
    ] {
        udp.send_to(junk, s.sip).unwrap();
    }
    // A TCP peer announcing a body larger than any SIP message is cut off.
    let mut tcp = std::net::TcpStream::connect(s.sip).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    tcp.write_all(
        b"INVITE sip:2001@my-company.lo SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5;branch=z9hG4bKx\r\n\
          From: <sip:a@b>;tag=1\r\nTo: <sip:2001@my-company.lo>\r\nCall-ID: big\r\n\
          CSeq: 1 INVITE\r\nContent-Length: 99999999\r\n\r\n",
    )
    .unwrap();
    let mut buf = [0u8; 64];
    assert!(
        matches!(tcp.read(&mut buf), Ok(0)),
        "the connection must be closed"
    );
    // A CRLF CRLF ping on a healthy connection gets its CRLF pong (RFC 5626 §3.5.1).
    let mut tcp = std::net::TcpStream::connect(s.sip).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    tcp.write_all(b"\r\n\r\n").unwrap();
    let n = tcp.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"\r\n");
    // Still serving both transports.
    let phone = desk_phone(&s, "2005").await;
    for t in [Transport::Udp, Transport::Tcp] {
        let run = sipp_run("options.xml", t, &s, &phone, &phone.password, 10).await;
        assert!(run.ok, "OPTIONS after junk: {}", run.errors);
    }
}

/// A desk phone's baresip, registered over `transport`, its microphone playing `hz`.
fn toned(p: &sipp::DeskPhone, sip: SocketAddr, transport: BaresipTransport, hz: u32) -> Baresip {
    Baresip::register_with_tone(
        &p.extension,
        DOMAIN,
        (&p.account, &p.password),
        sip,
        transport,
        hz,
    )
}

#[tokio::test]
async fn two_desk_phones_call_each_other_with_g711_through_the_server() {
    let s = Server::start();
    let (a, b) = (desk_phone(&s, "2011").await, desk_phone(&s, "2012").await);
    let sip = s.sip;
    let (mut pa, mut pb) = tokio::task::spawn_blocking(move || {
        (
            toned(&a, sip, BaresipTransport::Udp, 440),
            toned(&b, sip, BaresipTransport::Tcp, 660),
        )
    })
    .await
    .unwrap();
    let (pa, pb) = tokio::task::spawn_blocking(move || {
        pa.command("dial", &format!("sip:2012@{DOMAIN}"));
        assert!(
            pb.wait_output("Incoming call from", Duration::from_secs(10)),
            "callee:\n{}\ncaller:\n{}",
            pb.tail(),
            pa.tail()
        );
        pb.command("accept", "");
        assert!(
            pa.wait_output("Call established", Duration::from_secs(10)),
            "caller:\n{}\ncallee:\n{}",
            pa.tail(),
            pb.tail()
        );
        std::thread::sleep(Duration::from_secs(3));
        pa.command("hangup", "");
        assert!(
            pb.wait_output("terminated (duration", Duration::from_secs(10)),
            "{}",
            pb.tail()
        );
        (pa, pb)
    })
    .await
    .unwrap();
    // Each phone sends its own sine and must hear the other's: G.711 passes through the
    // server, over UDP on one side and TCP signalling on the other.
    for (who, p, far_hz) in [("caller", &pa, 660.0), ("callee", &pb, 440.0)] {
        let heard = common::baresip::recorded_tone(p);
        println!("{who} heard {heard:?}");
        assert!(heard.rms_db > -30.0, "{who} heard silence: {heard:?}");
        assert!((heard.freq - far_hz).abs() < 25.0, "{who} heard {heard:?}");
        assert!(heard.seconds > 2.0, "{who} heard too little: {heard:?}");
    }
}

#[tokio::test]
async fn a_desk_phone_registers_over_tls_with_a_private_ca() {
    let certs = common::tls::private_ca();
    let s = Server::start_tls(&certs, &[]);
    let phone = desk_phone(&s, "2006").await;
    let (tls, acc, pw, ca) = (
        s.sip_tls.expect("sip tls listener"),
        phone.account.clone(),
        phone.password.clone(),
        certs.ca.clone(),
    );
    let baresip = tokio::task::spawn_blocking(move || {
        Baresip::register("2006", DOMAIN, (&acc, &pw), tls, BaresipTransport::Tls(ca))
    })
    .await
    .unwrap();
    let regs = registrations(&s, &phone.device_id).await;
    assert_eq!(regs.len(), 1, "{regs:?}");
    assert_eq!(regs[0]["socket"], format!("tls:{tls}"));
    assert!(regs[0]["received"]
        .as_str()
        .unwrap()
        .starts_with("tls:127.0.0.1:"));
    drop(baresip);
    let regs = until_registered(&s, &phone.device_id, 0, Duration::from_secs(5)).await;
    assert!(
        regs.is_empty(),
        "the binding goes with its TLS connection: {regs:?}"
    );
}

#[tokio::test]
async fn a_desk_phone_transfers_its_call_blind_with_refer() {
    let s = Server::start();
    let (a, b, c) = (
        desk_phone(&s, "2021").await,
        desk_phone(&s, "2022").await,
        desk_phone(&s, "2023").await,
    );
    let sip = s.sip;
    let (pa, pb, pc) = tokio::task::spawn_blocking(move || {
        (
            toned(&a, sip, BaresipTransport::Udp, 440),
            toned(&b, sip, BaresipTransport::Udp, 660),
            toned(&c, sip, BaresipTransport::Udp, 880),
        )
    })
    .await
    .unwrap();
    let (pa, pb, pc) = tokio::task::spawn_blocking(move || {
        let (mut pa, mut pb, mut pc) = (pa, pb, pc);
        pa.command("dial", &format!("sip:2022@{DOMAIN}"));
        assert!(
            pb.wait_output("Incoming call from", Duration::from_secs(10)),
            "{}",
            pb.tail()
        );
        pb.command("accept", "");
        assert!(
            pa.wait_output("Call established", Duration::from_secs(10)),
            "{}",
            pa.tail()
        );
        // A hands B over to C (RFC 3515): 202, NOTIFYs, and A's call ends.
        pa.command("transfer", &format!("sip:2023@{DOMAIN}"));
        assert!(
            pc.wait_output("Incoming call from", Duration::from_secs(10)),
            "callee of the transfer:\n{}\ntransferor:\n{}",
            pc.tail(),
            pa.tail()
        );
        pc.command("accept", "");
        // The transferor's leg ends: the server hangs it up once the transfer is under way.
        assert!(
            pa.wait_output("\nBYE sip:2021", Duration::from_secs(10)),
            "{}",
            pa.tail()
        );
        std::thread::sleep(Duration::from_secs(3));
        pb.command("hangup", "");
        assert!(
            pc.wait_output("terminated (duration", Duration::from_secs(10)),
            "{}",
            pc.tail()
        );
        (pa, pb, pc)
    })
    .await
    .unwrap();
    assert!(
        pa.output().contains("SIP/2.0 202 Accepted"),
        "{}",
        pa.tail()
    );
    let out = pa.output();
    assert!(
        out.contains("SIP/2.0 100 Trying") && out.contains("Subscription-State: terminated"),
        "the transferor hears how it went (NOTIFY sipfrag): {}",
        pa.tail()
    );
    // C talks with B, whom A transferred: C hears B's 660 Hz.
    let heard = common::baresip::recorded_tone(&pc);
    assert!(heard.rms_db > -30.0, "C heard silence: {heard:?}");
    assert!((heard.freq - 660.0).abs() < 25.0, "C heard {heard:?}");
    drop(pb);
}

/// Attended transfer from a desk phone (RFC 5589 §7): linphonec (A) calls B, puts B on hold,
/// calls C, then transfers call 1 to call 2 with a REFER whose Refer-To carries `Replaces`
/// naming A's dialog with us for the call to C. The server resolves that against its own
/// dialogs, answers 202, reports in `message/sipfrag` NOTIFYs, hangs up both of A's legs and
/// leaves B and C talking; history links the legs as for a browser's `call_bridge`.
#[tokio::test]
async fn a_desk_phone_transfers_attended_with_refer_replaces() {
    let s = Server::start();
    let (a, b, c) = (
        desk_phone(&s, "2031").await,
        desk_phone(&s, "2032").await,
        desk_phone(&s, "2033").await,
    );
    let since = now_ms();
    let sip = s.sip;
    let (pa, pb, pc) = tokio::task::spawn_blocking(move || {
        let pa = Linphone::register("2031", DOMAIN, (&a.account, &a.password), sip);
        (
            pa,
            toned(&b, sip, BaresipTransport::Udp, 660),
            toned(&c, sip, BaresipTransport::Udp, 880),
        )
    })
    .await
    .unwrap();
    let (pa, pb, pc) = tokio::task::spawn_blocking(move || {
        let (mut pa, mut pb, mut pc) = (pa, pb, pc);
        let wait = Duration::from_secs(15);
        pa.command(&format!("call sip:2032@{DOMAIN}"));
        assert!(
            pb.wait_output("Incoming call from", wait),
            "B:\n{}\nA:\n{}",
            pb.tail(),
            pa.tail()
        );
        pb.command("accept", "");
        assert!(
            pa.wait_console("Call 1 with", wait) && pa.wait_console("connected.", wait),
            "{}",
            pa.tail()
        );
        // A holds B (re-INVITE a=sendonly), then calls C.
        pa.command("pause 1");
        assert!(pa.wait_console("is now paused.", wait), "{}", pa.tail());
        pa.command(&format!("call sip:2033@{DOMAIN}"));
        assert!(
            pc.wait_output("Incoming call from", wait),
            "C:\n{}\nA:\n{}",
            pc.tail(),
            pa.tail()
        );
        pc.command("accept", "");
        assert!(
            pa.wait_console("Call 2 with", wait)
                && wait_until(wait, || pa.console().matches("connected.").count() >= 2),
            "{}",
            pa.tail()
        );
        // A hands B over to C: REFER on call 1, Refer-To C with Replaces naming call 2.
        pa.command("transfer 1 --to-call 2");
        assert!(
            wait_until(wait, || pa.console().matches(" ended (").count() >= 2),
            "both of A's calls end:\n{}\nB:\n{}\nC:\n{}",
            pa.tail(),
            pb.tail(),
            pc.tail()
        );
        // B and C talk, each on the call it already had with the server.
        std::thread::sleep(Duration::from_secs(4));
        pb.command("hangup", "");
        assert!(
            pc.wait_output("terminated (duration", wait),
            "{}",
            pc.tail()
        );
        (pa, pb, pc)
    })
    .await
    .unwrap();
    let sip = pa.sip_messages();
    let header = |m: &str, name: &str| -> String {
        m.lines()
            .find(|l| {
                l.split_once(':')
                    .is_some_and(|(n, _)| n.trim().eq_ignore_ascii_case(name))
            })
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    let call_to_c = sip
        .iter()
        .find(|m| m.starts_with("INVITE sip:2033@"))
        .map(|m| header(m, "Call-ID"))
        .unwrap_or_else(|| panic!("A never called C:\n{}", pa.tail()));
    let refer = sip
        .iter()
        .find(|m| m.starts_with("REFER "))
        .unwrap_or_else(|| panic!("A sent no REFER:\n{}", pa.tail()));
    let refer_to = header(refer, "Refer-To");
    println!("Refer-To: {refer_to}");
    assert!(
        refer_to.starts_with("<sip:2033@")
            && refer_to.to_ascii_lowercase().contains("?replaces=")
            && refer_to.contains(&call_to_c),
        "an attended REFER names C and A's dialog with us for the call to C ({call_to_c}): \
         {refer_to}"
    );
    let cseq = header(refer, "CSeq");
    assert!(
        sip.iter()
            .any(|m| m.starts_with("SIP/2.0 202 ") && header(m, "CSeq") == cseq),
        "REFER accepted:\n{}",
        pa.tail()
    );
    // The implicit subscription (RFC 3515 §2.4.4): 100 Trying, then the outcome.
    let notifies: Vec<&String> = sip
        .iter()
        .filter(|m| m.starts_with("NOTIFY ") && header(m, "Event") == "refer")
        .collect();
    assert!(notifies.len() >= 2, "NOTIFYs: {notifies:?}");
    let (first, last) = (notifies[0], notifies[notifies.len() - 1]);
    for n in [first, last] {
        assert_eq!(header(n, "Content-Type"), "message/sipfrag;version=2.0");
        assert_eq!(header(n, "Call-ID"), header(refer, "Call-ID"));
    }
    assert!(
        first.contains("\n\nSIP/2.0 100 Trying")
            && header(first, "Subscription-State").starts_with("active"),
        "{first}"
    );
    assert!(
        last.contains("\n\nSIP/2.0 200 OK")
            && header(last, "Subscription-State").starts_with("terminated"),
        "{last}"
    );
    // Each hears the other's tone over the last seconds of its call: B's 660 Hz at C, C's
    // 880 Hz at B (B hung up, so its recording ends right there).
    for (who, p, far_hz) in [("B", &pb, 880.0), ("C", &pc, 660.0)] {
        let heard = common::baresip::recorded_tone_at_end(p, 2.5, 0.5);
        println!("{who} heard at the end {heard:?}");
        assert!(heard.rms_db > -30.0, "{who} heard silence: {heard:?}");
        assert!((heard.freq - far_hz).abs() < 25.0, "{who} heard {heard:?}");
    }
    // History, as for a browser's attended transfer: A's two legs end with
    // ATTENDED_TRANSFER, each pointing at the party the other one talked to; B's and C's legs
    // name the leg of A's they came through, and end bridged to each other.
    let items = wait_history(&s, since, 4).await;
    let leg = |direction: &str, destination: &str| {
        items
            .iter()
            .find(|i| i["destination"] == destination && i["direction"] == direction)
            .unwrap_or_else(|| panic!("no {direction} leg to {destination}: {items:#?}"))
    };
    let (a1, to_b) = (leg("outbound", "2032"), leg("inbound", "2032"));
    let (a2, to_c) = (leg("outbound", "2033"), leg("inbound", "2033"));
    let all = serde_json::to_string_pretty(&items).unwrap();
    assert_eq!(items.len(), 4, "{all}");
    for a in [a1, a2] {
        assert_eq!(a["cause"], "ATTENDED_TRANSFER", "{all}");
        assert_eq!(a["user"]["name"], "Desk user 2031", "{all}");
    }
    assert_eq!(to_b["parent_id"], a1["id"], "{all}");
    assert_eq!(to_c["parent_id"], a2["id"], "{all}");
    assert_eq!(a1["transfer_to"], to_c["id"], "{all}");
    assert_eq!(a2["transfer_to"], to_b["id"], "{all}");
    assert_eq!(to_b["transfer_from"], a1["id"], "{all}");
    assert_eq!(to_c["transfer_from"], a2["id"], "{all}");
    assert_eq!(to_b["bridged_id"], to_c["id"], "{all}");
    assert_eq!(to_c["bridged_id"], to_b["id"], "{all}");
    for p in [to_b, to_c] {
        assert_eq!(p["cause"], "NORMAL_CLEARING", "{all}");
        assert!(p["bill_sec"].as_i64().unwrap_or(0) >= 3, "{all}");
    }
    // Both calls' recordings are closed: the one B and C moved on in, and the one A's second
    // leg left empty.
    let end = Instant::now() + Duration::from_secs(15);
    loop {
        let items = wait_history(&s, since, 4).await;
        let files: Vec<Value> = items
            .iter()
            .flat_map(|i| i["files"].as_array().cloned().unwrap_or_default())
            .collect();
        let closed = |f: &Value| f["stop_at"].as_str().is_some_and(|t| !t.is_empty());
        // Each leg lists its call's file.
        if files.len() == 4 && files.iter().all(closed) {
            break;
        }
        assert!(
            Instant::now() < end,
            "recordings left open: {}",
            serde_json::to_string_pretty(&items).unwrap()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    drop(pa);
}

/// Click-to-call (`POST /api/calls`) for a user whose phone is a desk phone: the phone is asked
/// to answer at once (`Call-Info: …;answer-after=0`) and gets a plain RTP offer; once it has,
/// the destination rings and the two talk.
#[tokio::test]
async fn click_to_call_rings_the_desk_phone_with_auto_answer_then_the_destination() {
    let s = Server::start_with(&[("SWITCHBOARD_SIP_PING_INTERVAL", "0")]);
    let desk = desk_phone(&s, "2061").await;
    let far = desk_phone(&s, "2062").await;
    // The desk phone is SIPp: it registers from the port its answering scenario then uses.
    let port = common::free_udp_tcp_port();
    let (sip, ext, auth) = (
        s.sip,
        desk.extension.clone(),
        format!(
            "[authentication username={} password={}]",
            desk.account, desk.password
        ),
    );
    let run = tokio::task::spawn_blocking(move || {
        sipp::run_fields(
            "register.xml",
            Transport::Udp,
            sip,
            &[&ext, DOMAIN, &auth],
            &["-auth_uri", DOMAIN],
            port,
            10,
        )
    })
    .await
    .unwrap();
    assert!(run.ok, "{}", run.errors);
    let media = common::free_udp_tcp_port().to_string();
    let phone = sipp::Uas::start_with(
        "auto_answer.xml",
        Transport::Udp,
        port,
        &[],
        &["-rtp_echo", "-mp", &media],
    );
    let mut callee = tokio::task::spawn_blocking(move || {
        Baresip::register(
            "2062",
            DOMAIN,
            (&far.account, &far.password),
            sip,
            BaresipTransport::Udp,
        )
    })
    .await
    .unwrap();
    let reply = rest(
        &s,
        Method::POST,
        "/calls",
        Some(serde_json::json!({
            "from": {"extension": "2061"},
            "destination": "2062",
            "params": {"timeout": 30},
        })),
    )
    .await;
    assert!(
        reply["id"].as_str().is_some_and(|id| !id.is_empty()),
        "{reply}"
    );
    let callee = tokio::task::spawn_blocking(move || {
        assert!(
            callee.wait_output("Incoming call from", Duration::from_secs(10)),
            "{}",
            callee.tail()
        );
        callee.command("accept", "");
        std::thread::sleep(Duration::from_secs(3));
        callee.command("hangup", "");
        callee
    })
    .await
    .unwrap();
    let run = tokio::task::spawn_blocking(move || phone.wait(Duration::from_secs(10)))
        .await
        .unwrap();
    assert!(run.ok, "the desk phone's side: {}", run.errors);
    // The desk phone (SIPp) echoes: the destination hears its own tone through both legs.
    let heard = common::baresip::recorded_tone(&callee);
    assert!(heard.rms_db > -30.0, "silence: {heard:?}");
    assert!((heard.freq - 440.0).abs() < 25.0, "{heard:?}");
}

/// A desk phone's re-INVITE without SDP (RFC 3261 §14.2) gets the server's offer in the 2xx
/// and the call goes on (its ACK carries the answer).
#[tokio::test]
async fn a_reinvite_without_sdp_gets_an_offer_in_the_2xx() {
    let s = Server::start_with(&[("SWITCHBOARD_SIP_PING_INTERVAL", "0")]);
    let caller = desk_phone(&s, "2071").await;
    let callee = desk_phone(&s, "2072").await;
    let sip = s.sip;
    let mut pb = tokio::task::spawn_blocking(move || {
        Baresip::register(
            "2072",
            DOMAIN,
            (&callee.account, &callee.password),
            sip,
            BaresipTransport::Udp,
        )
    })
    .await
    .unwrap();
    let auth = format!(
        "[authentication username={} password={}]",
        caller.account, caller.password
    );
    let sipp_side = tokio::task::spawn_blocking(move || {
        sipp::run_fields(
            "reinvite_no_sdp.xml",
            Transport::Udp,
            sip,
            &["2071", DOMAIN, &auth, "2072"],
            // The digest uri of an INVITE is its Request-URI (SIPp adds the `sip:`).
            &[
                "-auth_uri",
                &format!("2072@{DOMAIN}"),
                "-mp",
                &common::free_udp_tcp_port().to_string(),
            ],
            common::free_udp_tcp_port(),
            20,
        )
    });
    let pb = tokio::task::spawn_blocking(move || {
        let rang = pb.wait_output("Incoming call from", Duration::from_secs(10));
        if rang {
            pb.command("accept", "");
        }
        (rang, pb)
    })
    .await
    .unwrap();
    let run = sipp_side.await.unwrap();
    let (rang, pb) = pb;
    assert!(rang, "the callee never rang; SIPp: {}", run.errors);
    assert!(run.ok, "{}", run.errors);
    assert!(
        pb.wait_output("terminated (duration", Duration::from_secs(10)),
        "{}",
        pb.tail()
    );
}
