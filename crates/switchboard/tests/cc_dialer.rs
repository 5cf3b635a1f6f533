//! Live campaigns, progressive and predictive: ten members dialled through an IP-trunk gateway
//! to SIPp "customers" (some answer, some are busy, some do not answer), two auto-answering
//! baresip desk phones as agents who hang up after a moment. Every member ends in the right
//! state, attempts and history agree, no call is left over; a member whose number is on the
//! queue's do-not-call list is never dialled and stops with `block`. The predictive queue is
//! paced by our controller (`switchboard_dialer::LivePacer`): an answered customer nobody
//! takes within 2 s is abandoned, and its member stops as `abandoned` after one attempt.

mod common;

use common::baresip::Baresip;
use common::sipp::{desk_phone, rest, Transport, Uas};
use common::Server;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const DOMAIN: &str = "my-company.lo";

/// An agent's phone: answers at once, hangs up `talk` after the call is up, until `stop`.
fn agent_phone(
    mut p: Baresip,
    talk: Duration,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<u32> {
    std::thread::spawn(move || {
        let mut calls = 0;
        while !stop.load(Ordering::SeqCst) {
            if p.wait_event("CALL_ESTABLISHED", Duration::from_millis(500))
                .is_some()
            {
                calls += 1;
                std::thread::sleep(talk);
                p.command("hangup", "");
            }
        }
        calls
    })
}

fn items(v: &Value) -> Vec<Value> {
    v["items"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_progressive_campaign_calls_every_member_to_its_end() {
    campaign(4, ["2301", "2302"]).await;
}

#[tokio::test]
async fn a_predictive_campaign_calls_every_member_to_its_end() {
    campaign(5, ["2401", "2402"]).await;
}

/// One campaign of queue type `kind` (4 progressive, 5 predictive) with agents `exts`.
async fn campaign(kind: u8, exts: [&'static str; 2]) {
    let s = Server::start_with(&[("SWITCHBOARD_SIP_PING_INTERVAL", "0")]);
    let port = common::free_udp_tcp_port();
    let media = common::free_udp_tcp_port().to_string();
    let customers = Uas::start_with(
        "customers.xml",
        Transport::Udp,
        port,
        &[],
        &["-m", "100", "-mp", &media],
    );
    let gw = rest(
        &s,
        Method::POST,
        "/sip/gateways",
        Some(
            json!({"name": "Carrier", "register": false, "host": "carrier.test",
                    "proxy": format!("127.0.0.1:{port}"), "enable": true}),
        ),
    )
    .await;
    let team = rest(
        &s,
        Method::POST,
        "/call_center/teams",
        Some(
            json!({"name": "Outbound", "strategy": "round-robin", "call_timeout": 10,
                    "wrap_up_time": 0, "max_no_answer": 0}),
        ),
    )
    .await;
    let stop = Arc::new(AtomicBool::new(false));
    let mut phones = Vec::new();
    let mut agent_ids = Vec::new();
    for ext in exts {
        let phone = desk_phone(&s, ext).await;
        let users = rest(&s, Method::GET, &format!("/users?extension={ext}"), None).await;
        let uid = items(&users)[0]["id"].clone();
        let agent = rest(
            &s,
            Method::POST,
            "/call_center/agents",
            Some(json!({"user": {"id": uid}, "team": {"id": team["id"]}})),
        )
        .await;
        let sip = s.sip;
        let p = tokio::task::spawn_blocking(move || {
            Baresip::register_auto_answer(ext, DOMAIN, (&phone.account, &phone.password), sip)
        })
        .await
        .unwrap();
        phones.push(agent_phone(p, Duration::from_millis(1500), stop.clone()));
        agent_ids.push(agent["id"].as_str().unwrap().to_string());
    }
    // This number would answer; it is on the queue's do-not-call list.
    let barred = "+15550199";
    let dnc = rest(
        &s,
        Method::POST,
        "/call_center/list",
        Some(json!({"name": "Opt-outs"})),
    )
    .await;
    rest(
        &s,
        Method::POST,
        &format!(
            "/call_center/list/{}/communication",
            dnc["id"].as_str().unwrap()
        ),
        Some(json!({"number": barred})),
    )
    .await;
    let queue = rest(
        &s,
        Method::POST,
        "/call_center/queues",
        Some(
            json!({"name": "Renewals", "type": kind, "team": {"id": team["id"]},
                    "dnc_list": {"id": dnc["id"]},
                    "payload": {"gateway_id": gw["id"], "max_attempts": 2,
                                "wait_between_retries": 1, "originate_timeout": 15,
                                "display": "+15559990000"}}),
        ),
    )
    .await;
    let qid = queue["id"].as_str().unwrap().to_string();
    // Last digit: 1 busy, 2 no answer, others answer.
    let numbers = [
        "+15550100",
        "+15550103",
        "+15550104",
        "+15550105",
        "+15550106",
        "+15550111",
        "+15550121",
        "+15550131",
        "+15550142",
        "+15550152",
    ];
    let bulk: Vec<Value> = numbers
        .iter()
        .chain([&barred])
        .enumerate()
        .map(|(i, n)| json!({"name": format!("Lead {i}"), "communications": [{"destination": n}]}))
        .collect();
    let ids = rest(
        &s,
        Method::POST,
        &format!("/call_center/queues/{qid}/members/bulk"),
        Some(json!({"items": bulk})),
    )
    .await;
    assert_eq!(ids["ids"].as_array().unwrap().len(), 11);
    for a in &agent_ids {
        rest(
            &s,
            Method::PATCH,
            &format!("/call_center/agents/{a}/status"),
            Some(json!({"status": "online"})),
        )
        .await;
    }

    // Every member reaches its end.
    let base = format!("/call_center/queues/{qid}/members?size=100");
    let end = Instant::now() + Duration::from_secs(120);
    let members = loop {
        let m = items(&rest(&s, Method::GET, &base, None).await);
        if m.iter().all(|m| m.get("stop_cause").is_some()) || Instant::now() > end {
            break m;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    stop.store(true, Ordering::SeqCst);
    let mut talks = 0;
    for p in phones {
        talks += tokio::task::spawn_blocking(move || p.join().unwrap())
            .await
            .unwrap();
    }
    let by_number: HashMap<String, &Value> = members
        .iter()
        .map(|m| {
            (
                m["communications"][0]["destination"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                m,
            )
        })
        .collect();
    let mut successes = 0;
    for n in numbers {
        let m = by_number[n];
        let (cause, attempts, last) = match n.chars().last() {
            Some('1') => ("failed", 2, "USER_BUSY"),
            Some('2') => ("failed", 2, ""),
            // Predictive: answered, and taken by an agent or abandoned.
            _ if kind == 5 && m["stop_cause"] == "abandoned" => ("abandoned", 1, ""),
            _ => ("success", 1, ""),
        };
        successes += u32::from(cause == "success");
        assert_eq!(m["stop_cause"], cause, "{n}: {m}\n{}", s.logs());
        assert_eq!(m["attempts"], attempts, "{n}: {m}");
        assert_eq!(m["communications"][0]["attempts"], attempts, "{n}: {m}");
        if !last.is_empty() {
            assert_eq!(m["communications"][0]["last_cause"], last, "{n}: {m}");
        }
    }
    let blocked = by_number[barred];
    assert_eq!(blocked["stop_cause"], "block", "{blocked}");
    assert_eq!(blocked["attempts"], 0, "{blocked}");
    eprintln!("queue type {kind}: {successes} of 5 answered customers reached an agent");
    assert_eq!(
        talks, successes,
        "each answered customer an agent took talked to it once"
    );
    if kind == 4 {
        assert_eq!(successes, 5, "progressive: an agent for every answer");
    } else {
        assert!(successes >= 1, "predictive: no answer reached an agent");
    }

    // History: one attempt per call, all finished, results and members consistent.
    let hist = items(
        &rest(
            &s,
            Method::GET,
            &format!("/call_center/queues/attempts/history?queue_id={qid}&size=100"),
            None,
        )
        .await,
    );
    assert_eq!(hist.len(), 15, "{hist:?}");
    let abandoned = hist.iter().filter(|a| a["result"] == "abandoned").count();
    assert_eq!(abandoned as u32, 5 - successes, "{hist:?}");
    let mut per_member: HashMap<String, Vec<String>> = HashMap::new();
    for a in &hist {
        assert!(a.get("leaving_at").is_some(), "attempt left: {a}");
        let member = a["member"]["id"]
            .as_str()
            .expect("member of the attempt")
            .to_string();
        per_member
            .entry(member)
            .or_default()
            .push(a["result"].as_str().unwrap_or("").to_string());
        if a["result"] == "success" {
            assert!(
                a.get("bridged_at").is_some() && a.get("agent").is_some(),
                "{a}"
            );
        }
    }
    // Every call is an attempt: none for the barred member means no INVITE for its number.
    assert!(
        !per_member.contains_key(blocked["id"].as_str().unwrap()),
        "{hist:?}"
    );
    for m in members.iter().filter(|m| m["stop_cause"] != "block") {
        let results = &per_member[m["id"].as_str().unwrap()];
        assert_eq!(results.len() as i64, m["attempts"].as_i64().unwrap(), "{m}");
        if m["stop_cause"] == "success" {
            assert_eq!(results, &["success"]);
        } else if m["stop_cause"] == "abandoned" {
            assert_eq!(results, &["abandoned"]);
        } else {
            assert!(results.iter().all(|r| r == "failed"), "{results:?}");
        }
    }

    // Nothing left over: no call, agents free.
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let active = rest(&s, Method::GET, "/calls/active", None).await;
        if items(&active).is_empty() {
            break;
        }
        assert!(Instant::now() < end, "calls left: {active}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    for a in &agent_ids {
        let agent = rest(&s, Method::GET, &format!("/call_center/agents/{a}"), None).await;
        assert_eq!(agent["status"], "online", "{agent}");
    }
    drop(customers);
}
