//! SIPp (Debian `sip-tester`) as a real desk phone: scenarios in `tests/sipp/`, run against a
//! server's SIP listener. SIPp takes the digest credentials from its CSV file (it does not
//! expand fields inside `[authentication …]`).

use super::Server;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// `crates/switchboard/tests/sipp/<name>`.
pub fn scenario(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sipp")
        .join(name)
}

/// What a SIPp run left: whether every step passed, and its error log.
pub struct Run {
    pub ok: bool,
    pub errors: String,
    /// Every message SIPp sent and received (its `-trace_msg` log).
    pub messages: String,
    /// What the scenario's `<log>` actions wrote (run SIPp with `-trace_logs`).
    pub logs: String,
}

impl Run {
    fn of(ok: bool, dir: &std::path::Path) -> Self {
        Run {
            ok,
            errors: errors_in(dir),
            messages: messages_in(dir),
            logs: file_ending(dir, "_logs.log"),
        }
    }

    /// Sizes of the requests SIPp received with this method (e.g. the INVITEs we sent).
    pub fn received_sizes(&self, method: &str) -> Vec<usize> {
        let mut sizes = Vec::new();
        let mut rest = self.messages.as_str();
        while let Some(at) = rest.find("message received [") {
            rest = &rest[at + "message received [".len()..];
            let Some(end) = rest.find(']') else { break };
            let n = rest[..end].trim().parse().unwrap_or(0);
            let body = rest[end..]
                .trim_start_matches(|c: char| c != '\n')
                .trim_start();
            if body.starts_with(&format!("{method} ")) {
                sizes.push(n);
            }
        }
        sizes
    }
}

fn messages_in(dir: &std::path::Path) -> String {
    file_ending(dir, "_messages.log")
}

/// The text of the first file in `dir` whose name ends with `suffix`.
fn file_ending(dir: &std::path::Path, suffix: &str) -> String {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().ends_with(suffix))
        .and_then(|e| std::fs::read_to_string(e.path()).ok())
        .unwrap_or_default()
}

/// SIPp transport flags: `u1` (UDP, one socket) or `t1` (TCP, one connection).
#[derive(Clone, Copy)]
pub enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    fn flag(self) -> &'static str {
        match self {
            Transport::Udp => "u1",
            Transport::Tcp => "t1",
        }
    }
}

/// SIPp with `scenario`, one CSV line of `fields`, listening on `port` over `transport`,
/// giving up after `timeout_s`. Its files land in the returned folder.
fn command(
    scenario_file: &str,
    fields: &[&str],
    transport: Transport,
    port: u16,
    timeout_s: u32,
) -> (tempfile::TempDir, Command) {
    let dir = tempfile::tempdir().expect("sipp dir");
    let csv = dir.path().join("fields.csv");
    std::fs::write(&csv, format!("SEQUENTIAL\n{};\n", fields.join(";"))).expect("csv");
    let mut c = Command::new("sipp");
    c.current_dir(dir.path())
        .arg("-sf")
        .arg(scenario(scenario_file))
        .arg("-inf")
        .arg(&csv)
        .args(["-m", "1", "-t", transport.flag(), "-i", "127.0.0.1"])
        .args(["-p", &port.to_string()])
        .args(["-timeout", &format!("{timeout_s}s"), "-timeout_error"])
        .args(["-trace_err", "-trace_msg", "-nostdin"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    (dir, c)
}

/// SIPp's error log, then the end of its message trace.
fn errors_in(dir: &std::path::Path) -> String {
    let mut errors = String::new();
    let mut messages = String::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        if name.ends_with("_errors.log") {
            errors.push_str(&text);
        } else if name.ends_with("_messages.log") {
            messages = text;
        }
    }
    let cut = messages.len().saturating_sub(6000);
    let cut = (cut..messages.len())
        .find(|&i| messages.is_char_boundary(i))
        .unwrap_or(0);
    format!("{errors}\n--- messages (end) ---\n{}", &messages[cut..])
}

/// Runs one call of `scenario` as `extension` with `username`/`password`, from a fresh local
/// port, against `target`. Blocks until SIPp exits (at most `timeout_s` seconds).
pub fn run(
    scenario_file: &str,
    transport: Transport,
    target: SocketAddr,
    domain: &str,
    (extension, username, password): (&str, &str, &str),
    timeout_s: u32,
) -> Run {
    let auth = format!("[authentication username={username} password={password}]");
    // The digest uri is the Request-URI, as phones send it.
    run_fields(
        scenario_file,
        transport,
        target,
        &[extension, domain, &auth],
        &["-auth_uri", domain],
        super::free_udp_tcp_port(),
        timeout_s,
    )
}

/// Runs one call of `scenario` with the CSV `fields` and more SIPp arguments, from `port`,
/// against `target`.
pub fn run_fields(
    scenario_file: &str,
    transport: Transport,
    target: SocketAddr,
    fields: &[&str],
    extra: &[&str],
    port: u16,
    timeout_s: u32,
) -> Run {
    let (dir, mut c) = command(scenario_file, fields, transport, port, timeout_s);
    c.args(extra).arg(target.to_string());
    let status = c.status().expect("run sipp (apt-get install sip-tester)");
    Run::of(status.success(), dir.path())
}

/// SIPp as a server (a provider, a phone answering) on `port`, running `scenario` once with
/// `fields` in the background.
pub struct Uas {
    dir: tempfile::TempDir,
    child: std::process::Child,
}

impl Uas {
    pub fn start(scenario_file: &str, transport: Transport, port: u16, fields: &[&str]) -> Self {
        Self::start_with(scenario_file, transport, port, fields, &[])
    }

    /// As [`Uas::start`] with more SIPp arguments (e.g. `-m 2`, `-rtp_echo`).
    pub fn start_with(
        scenario_file: &str,
        transport: Transport,
        port: u16,
        fields: &[&str],
        extra: &[&str],
    ) -> Self {
        let (dir, mut c) = command(scenario_file, fields, transport, port, 60);
        c.args(extra);
        let child = c.spawn().expect("run sipp (apt-get install sip-tester)");
        // Listening before anyone sends: a request queued during its start-up and then
        // retransmitted would reach the scenario twice.
        let end = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let free = || match transport {
            Transport::Udp => std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok(),
            Transport::Tcp => std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(),
        };
        while free() && std::time::Instant::now() < end {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Uas { dir, child }
    }

    /// Waits for SIPp to finish (at most `within`).
    pub fn wait(mut self, within: std::time::Duration) -> Run {
        let end = std::time::Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Run::of(status.success(), self.dir.path());
            }
            if std::time::Instant::now() > end {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let mut run = Run::of(false, self.dir.path());
                run.errors = format!("still running after {within:?}\n{}", run.errors);
                return run;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

impl Drop for Uas {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A user with a desk phone, provisioned as the integration guide does (device, then a user
/// owning it with an extension and a licence).
pub struct DeskPhone {
    pub device_id: String,
    /// The user owning the device.
    pub user_id: String,
    pub extension: String,
    pub account: String,
    pub password: String,
}

pub async fn rest(s: &Server, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
    let mut req = s
        .http()
        .request(method.clone(), format!("{}{path}", s.api()))
        .header("X-Webitel-Access", &s.token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.expect("request");
    let status = res.status();
    let v: Value = res.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{method} {path}: {status} {v}");
    v
}

pub async fn desk_phone(s: &Server, extension: &str) -> DeskPhone {
    let account = format!("desk{extension}");
    let password = super::random(16);
    let dev = rest(
        s,
        reqwest::Method::POST,
        "/devices",
        Some(
            json!({"name": format!("Desk {extension}"), "account": account, "password": password}),
        ),
    )
    .await;
    let roles = rest(s, reqwest::Method::GET, "/roles?size=100", None).await;
    let role = roles["items"]
        .as_array()
        .and_then(|a| a.iter().find(|r| r["name"] == "user"))
        .map(|r| r["id"].clone())
        .expect("user role");
    let lic = rest(s, reqwest::Method::GET, "/license", None).await;
    let device_id = dev["id"].as_str().expect("device id").to_string();
    let user = rest(
        s,
        reqwest::Method::POST,
        "/users",
        Some(json!({
            "name": format!("Desk user {extension}"),
            "username": format!("desk{extension}"),
            "password": super::random(16),
            "extension": extension,
            "roles": [{"id": role}],
            "device": {"id": device_id},
            "devices": [{"id": device_id}],
            "license": [{"id": lic["items"][0]["id"]}],
        })),
    )
    .await;
    DeskPhone {
        device_id,
        user_id: match &user["id"] {
            Value::String(id) => id.clone(),
            Value::Number(id) => id.to_string(),
            other => panic!("user id: {other}"),
        },
        extension: extension.to_string(),
        account,
        password,
    }
}
