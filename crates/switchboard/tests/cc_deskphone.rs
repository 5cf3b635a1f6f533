//! A contact-center agent whose device is a desk phone (SIPp, digest-registered, answering
//! after a second's ringing and echoing the audio) takes a queue call from another desk phone
//! (SIPp, digest on the INVITE): the queue answers the caller and plays the waiting tone before
//! the agent rings, the media then runs through the server both ways, the caller's BYE ends
//! both legs, the attempt is stored with the agent and its times, and the agent goes through
//! processing back to waiting. Runs on SQLite, and on PostgreSQL with `SWITCHBOARD_TEST_PG`.

mod common;

use common::sipp::{self, desk_phone, rest, Transport};
use common::Server;
use reqwest::Method;
use serde_json::{json, Value};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const DOMAIN: &str = "my-company.lo";
/// What the test's RTP socket puts at the start of every payload it sends, to tell its own
/// audio (echoed back by the agent's phone) from the server's waiting tone.
const MARK: &[u8; 4] = b"SBcc";

fn wall() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64()
}

/// One RTP packet the caller's side received.
#[derive(Debug, Clone)]
struct Rx {
    at: f64,
    from: SocketAddr,
    ours: bool,
}

/// The caller's media, played by the test itself: a UDP socket the caller's SDP names. It
/// records every RTP packet that arrives, and once the server has sent one it answers with a
/// 20 ms PCMU stream of its own (payloads marked with `MARK`) to where that packet came from.
struct CallerMedia {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(Vec<Rx>, u32)>,
}

impl CallerMedia {
    fn start() -> Self {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind rtp");
        let port = sock.local_addr().expect("rtp addr").port();
        sock.set_read_timeout(Some(Duration::from_millis(5)))
            .expect("timeout");
        let stop = Arc::new(AtomicBool::new(false));
        let halt = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut got = Vec::new();
            let mut peer: Option<SocketAddr> = None;
            let mut next = Instant::now();
            let (mut seq, mut sent) = (0u16, 0u32);
            let mut buf = [0u8; 2048];
            while !halt.load(Ordering::Relaxed) {
                if let Ok((n, from)) = sock.recv_from(&mut buf) {
                    if n >= 12 && buf[0] >> 6 == 2 {
                        got.push(Rx {
                            at: wall(),
                            from,
                            ours: n >= 16 && &buf[12..16] == MARK,
                        });
                        peer.get_or_insert(from);
                    }
                }
                if let Some(to) = peer {
                    if Instant::now() >= next {
                        let mut pkt = vec![0u8; 12 + 160];
                        pkt[0] = 0x80;
                        pkt[1] = if seq == 0 { 0x80 } else { 0 };
                        pkt[2..4].copy_from_slice(&seq.to_be_bytes());
                        pkt[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
                        pkt[8..12].copy_from_slice(&0x5bcc_0001u32.to_be_bytes());
                        pkt[12..16].copy_from_slice(MARK);
                        pkt[16..].fill(0x55);
                        if sock.send_to(&pkt, to).is_ok() {
                            sent += 1;
                        }
                        seq = seq.wrapping_add(1);
                        next += Duration::from_millis(20);
                    }
                }
            }
            (got, sent)
        });
        CallerMedia { port, stop, thread }
    }

    fn finish(self) -> (Vec<Rx>, u32) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("rtp thread")
    }
}

/// The first `<log>` line of a SIPp run starting with `word`: its wall-clock time (the
/// scenario logs `gettimeofday` as "<word> <s> <us> …") and the words after it.
fn logged(run: &sipp::Run, word: &str) -> (f64, Vec<String>) {
    let line = run
        .logs
        .lines()
        .find(|l| l.split_whitespace().next() == Some(word))
        .unwrap_or_else(|| panic!("no {word:?} in SIPp's log:\n{}", run.logs));
    let parts: Vec<&str> = line.split_whitespace().collect();
    let num = |i: usize| -> f64 {
        parts
            .get(i)
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("bad log line {line:?}"))
    };
    (
        num(1) + num(2) / 1e6,
        parts[3..].iter().map(|s| s.to_string()).collect(),
    )
}

fn id_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => panic!("not an id: {other}"),
    }
}

fn ms(v: &Value) -> Option<i64> {
    match v {
        Value::String(s) => s.parse().ok().filter(|m| *m > 0),
        Value::Number(n) => n.as_i64().filter(|m| *m > 0),
        _ => None,
    }
}

/// The agent's status and its call channel's state, as REST shows them.
async fn agent_state(s: &Server, agent: &str) -> (String, String) {
    let a = rest(
        s,
        Method::GET,
        &format!("/call_center/agents/{agent}"),
        None,
    )
    .await;
    let a = if a.get("agent").is_some() {
        a["agent"].clone()
    } else {
        a
    };
    let channel = a["channel"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["channel"] == "call").or(c.first()))
        .map(|c| c["state"].as_str().unwrap_or_default().to_string())
        .unwrap_or_default();
    (
        a["status"].as_str().unwrap_or_default().to_string(),
        channel,
    )
}

#[tokio::test]
async fn a_desk_phone_agent_takes_a_queue_call_from_a_desk_phone() {
    queue_call(false).await;
}

/// The same call, also asserting that REST shows the agent's call channel going offering →
/// bridged → processing → waiting.
#[tokio::test]
async fn rest_shows_the_desk_phone_agent_channel_through_the_call() {
    queue_call(true).await;
}

async fn queue_call(check_channel: bool) {
    let s = Server::start_with(&[("SWITCHBOARD_SIP_PING_INTERVAL", "0")]);
    let agent_phone = desk_phone(&s, "2101").await;
    let caller = desk_phone(&s, "2102").await;

    // The queue: a team (longest idle, 1 s wrap-up), an inbound queue with processing, and the
    // number 700 reaching it through an outbound route's schema.
    let team = rest(
        &s,
        Method::POST,
        "/call_center/teams",
        Some(json!({
            "name": "Desk team",
            "strategy": "longest-idle-agent",
            "call_timeout": 15,
            "max_no_answer": 3,
            "no_answer_delay_time": 1,
            "wrap_up_time": 1,
        })),
    )
    .await;
    let queue = rest(
        &s,
        Method::POST,
        "/call_center/queues",
        Some(json!({
            "name": "Desk queue",
            "type": 1,
            "strategy": "fifo",
            "enabled": true,
            "priority": 0,
            "team": {"id": team["id"]},
            "processing": true,
            "processing_sec": 2,
            "payload": {"max_wait_time": 60},
        })),
    )
    .await;
    let schema = rest(
        &s,
        Method::POST,
        "/routing/schema",
        Some(json!({
            "name": "Queue line 700",
            "type": "default",
            "schema": [
                {"joinQueue": {"queue": {"id": id_of(&queue["id"]).parse::<i64>().unwrap(), "name": "Desk queue"}}},
                {"hangup": "NO_ANSWER"},
            ],
        })),
    )
    .await;
    rest(
        &s,
        Method::POST,
        "/routing/outbound/calls",
        Some(json!({"name": "Queue 700", "pattern": "^700$", "schema": {"id": schema["id"]}})),
    )
    .await;
    let agent = rest(
        &s,
        Method::POST,
        "/call_center/agents",
        Some(json!({"user": {"id": agent_phone.user_id}, "team": {"id": team["id"]}})),
    )
    .await;
    let agent_id = id_of(&agent["id"]);

    // The agent's phone registers (digest) from the port its answering scenario then uses.
    let phone_port = common::free_udp_tcp_port();
    let (sip, ext, auth) = (
        s.sip,
        agent_phone.extension.clone(),
        format!(
            "[authentication username={} password={}]",
            agent_phone.account, agent_phone.password
        ),
    );
    let reg = tokio::task::spawn_blocking(move || {
        sipp::run_fields(
            "register.xml",
            Transport::Udp,
            sip,
            &[&ext, DOMAIN, &auth],
            &["-auth_uri", DOMAIN],
            phone_port,
            10,
        )
    })
    .await
    .unwrap();
    assert!(reg.ok, "the agent's phone did not register: {}", reg.errors);
    let echo_port = common::free_udp_tcp_port().to_string();
    let phone = sipp::Uas::start_with(
        "cc_agent.xml",
        Transport::Udp,
        phone_port,
        &[],
        &["-rtp_echo", "-mp", &echo_port, "-trace_logs"],
    );

    rest(
        &s,
        Method::PATCH,
        &format!("/call_center/agents/{agent_id}/status"),
        Some(json!({"status": "online"})),
    )
    .await;
    let end = Instant::now() + Duration::from_secs(5);
    while agent_state(&s, &agent_id).await != ("online".into(), "waiting".into()) {
        assert!(
            Instant::now() < end,
            "agent not online and waiting: {:?}",
            agent_state(&s, &agent_id).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The caller dials 700 and stays on the line 5 s after the queue answered.
    let joined_from = (wall() * 1000.0) as i64 - 1000;
    let media = CallerMedia::start();
    let (ext, auth, rtp) = (
        caller.extension.clone(),
        format!(
            "[authentication username={} password={}]",
            caller.account, caller.password
        ),
        media.port.to_string(),
    );
    let caller_run = tokio::task::spawn_blocking(move || {
        sipp::run_fields(
            "cc_caller.xml",
            Transport::Udp,
            sip,
            &[&ext, DOMAIN, &auth, "700", &rtp],
            &[
                "-auth_uri",
                &format!("700@{DOMAIN}"),
                "-d",
                "5000",
                "-trace_logs",
                "-mp",
                &common::free_udp_tcp_port().to_string(),
            ],
            common::free_udp_tcp_port(),
            30,
        )
    });

    // Meanwhile the agent's channel as REST shows it, each change once.
    // Until processing (2 s after the hangup) is surely over.
    let mut states: Vec<(String, String)> = Vec::new();
    let end = Instant::now() + Duration::from_secs(30);
    let mut hung_up: Option<Instant> = None;
    loop {
        let st = agent_state(&s, &agent_id).await;
        if states.last() != Some(&st) {
            states.push(st.clone());
        }
        let seen_processing = states.iter().any(|(_, c)| c == "processing");
        if caller_run.is_finished() {
            hung_up.get_or_insert_with(Instant::now);
        }
        let settled = hung_up.is_some_and(|t| t.elapsed() > Duration::from_secs(4));
        if (seen_processing && st.1 == "waiting") || settled || Instant::now() > end {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let caller_run = caller_run.await.unwrap();
    let (rx, sent) = media.finish();
    let agent_run = tokio::task::spawn_blocking(move || phone.wait(Duration::from_secs(10)))
        .await
        .unwrap();
    assert!(caller_run.ok, "the caller's side: {}", caller_run.errors);
    assert!(agent_run.ok, "the agent's phone: {}", agent_run.errors);

    // Signalling order: the queue answered the caller, then the agent's phone rang.
    let (answered, _) = logged(&caller_run, "answered");
    let (invited, invite_words) = logged(&agent_run, "invite");
    let (picked_up, _) = logged(&agent_run, "answer");
    println!(
        "caller answered at {answered:.3}; agent INVITE +{:.1} ms, agent answered +{:.1} ms",
        (invited - answered) * 1000.0,
        (picked_up - answered) * 1000.0
    );
    // The server sends both in the same step; two SIPp processes on a busy machine stamp them
    // in different scheduling slots, so a fraction of a millisecond either way is the same
    // moment. An agent ringing before the queue answers shows as a whole round trip or more.
    assert!(
        invited > answered - 0.005,
        "the agent rang before the queue answered the caller"
    );

    // Media: the waiting tone reached the caller while the agent's phone rang,
    // and after the answer the caller's own audio came back (caller → server → agent's phone,
    // echoed → server → caller).
    let tone: Vec<&Rx> = rx.iter().filter(|r| !r.ours).collect();
    let echo: Vec<&Rx> = rx.iter().filter(|r| r.ours).collect();
    let tone_before = tone.iter().filter(|r| r.at < picked_up).count();
    println!(
        "caller: sent {sent} RTP packets, got {} of the waiting tone ({tone_before} before the agent answered) and {} of its own back",
        tone.len(),
        echo.len()
    );
    assert!(
        tone.first().is_some_and(|r| r.at < picked_up),
        "no waiting tone before the agent answered: first at {:?}",
        tone.first().map(|r| r.at - answered)
    );
    assert!(
        tone_before >= 25,
        "only {tone_before} packets of waiting tone during the second the agent rang"
    );
    assert!(
        echo.first().is_some_and(|r| r.at > picked_up),
        "the caller's audio came back before the agent answered"
    );
    assert!(
        echo.len() >= 100,
        "only {} of {sent} packets made the round trip through the server",
        echo.len()
    );
    let server_media: std::collections::HashSet<SocketAddr> = rx.iter().map(|r| r.from).collect();
    assert_eq!(
        server_media.len(),
        1,
        "the caller's media came from one server port: {server_media:?}"
    );

    // The agent's channel: rang (offering), talked (bridged), post-call work, free again.
    println!("agent states: {states:?}");
    assert!(
        states.iter().all(|(st, _)| st == "online"),
        "agent stayed online: {states:?}"
    );
    assert_eq!(
        states.last().map(|(_, c)| c.as_str()),
        Some("waiting"),
        "agent free again: {states:?}"
    );
    if check_channel {
        let order = ["offering", "bridged", "processing", "waiting"];
        let mut want = order.iter().peekable();
        for (_, c) in &states {
            if want.peek().is_some_and(|w| *w == c) {
                want.next();
            }
        }
        assert!(want.peek().is_none(), "agent channel went {states:?}");
    }

    // The attempt: this agent, offered after joining, bridged after the offer, ended.
    let end = Instant::now() + Duration::from_secs(10);
    let attempt = loop {
        let h = rest(
            &s,
            Method::GET,
            &format!("/call_center/queues/attempts/history?joined_at.from={joined_from}&size=10"),
            None,
        )
        .await;
        let items = h["items"].as_array().cloned().unwrap_or_default();
        if items.len() == 1 && ms(&items[0]["leaving_at"]).is_some() {
            break items[0].clone();
        }
        assert!(Instant::now() < end, "attempt not finished: {h}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    println!("attempt: {attempt}");
    assert_eq!(id_of(&attempt["agent"]["id"]), agent_id, "{attempt}");
    assert_eq!(id_of(&attempt["queue"]["id"]), id_of(&queue["id"]));
    let joined = ms(&attempt["joined_at"]).expect("joined_at");
    let offering = ms(&attempt["offering_at"]).expect("offering_at");
    let bridged = ms(&attempt["bridged_at"]).expect("bridged_at");
    let leaving = ms(&attempt["leaving_at"]).expect("leaving_at");
    assert!(
        joined <= offering && offering <= bridged && bridged <= leaving,
        "{attempt}"
    );
    // The stored times agree with what the phones saw (same clock, ms stamps).
    assert!(
        (offering as f64 / 1000.0) <= invited + 0.01,
        "offering_at after the INVITE reached the phone: {attempt}"
    );
    assert!(
        (bridged as f64 / 1000.0) >= picked_up - 0.01,
        "bridged before the phone answered: {attempt}"
    );
    assert!(
        bridged - offering >= 900,
        "the phone rang a second: {attempt}"
    );
    // No report came (a desk phone has no wrap-up form): processing ran to its deadline.
    assert_eq!(attempt["result"], "timeout", "{attempt}");
    assert!(
        attempt.get("reporting_at").is_none_or(Value::is_null),
        "{attempt}"
    );
    // The agent's leg is the call its phone saw.
    assert_eq!(
        attempt["agent_call_id"].as_str(),
        invite_words.first().map(String::as_str),
        "{attempt}"
    );
}
