//! Shared helpers of the binary-level tests: the real `switchboard` executable serving on a free
//! local port over a temporary data folder (SQLite), or over a fresh PostgreSQL database when
//! `SWITCHBOARD_TEST_PG` names a server (e.g. postgres://postgres@127.0.0.1:5432/test).

// Each test binary compiles this module and uses a different part of it.
#![allow(dead_code)]

pub mod baresip;
pub mod linphone;
pub mod sipp;
pub mod tls;

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tempfile::TempDir;

/// How long a server may take to print `listening on …`.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The `switchboard` executable under test: `SWITCHBOARD_TEST_BIN` when set (a copy taken
/// right after the build, safe from other builds sharing the target folder), else Cargo's.
pub fn bin() -> String {
    std::env::var("SWITCHBOARD_TEST_BIN")
        .ok()
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_switchboard").to_string())
}

/// A random lowercase alphanumeric string.
pub fn random(len: usize) -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| {
            const A: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
            A[rng.gen_range(0..A.len())] as char
        })
        .collect()
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// A port free for both UDP and TCP right now (SIP listens on both).
pub fn free_udp_tcp_port() -> u16 {
    loop {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind udp");
        let port = udp.local_addr().expect("udp addr").port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A running `switchboard serve`. Dropping it kills the process.
pub struct Server {
    /// `http://127.0.0.1:<port>`, without `/api`.
    pub base: String,
    /// The administrator's integration token (`SWITCHBOARD_BOOTSTRAP_TOKEN`).
    pub token: String,
    /// The data folder; it outlives restarts.
    pub data: TempDir,
    pub addr: SocketAddr,
    /// SIP over UDP and TCP (kept across restarts).
    pub sip: SocketAddr,
    /// SIP over TLS, for a server started with [`Server::start_tls`].
    pub sip_tls: Option<SocketAddr>,
    /// The CA that signed the server's certificate, when it serves HTTPS.
    pub ca: Option<std::path::PathBuf>,
    env: Vec<(String, String)>,
    child: Option<Child>,
    logs: Arc<Mutex<String>>,
}

impl Server {
    /// A fresh platform with the default domain and a random administrator token.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Like [`Server::start`], with extra environment variables for `serve` (e.g.
    /// `SWITCHBOARD_LICENSE_SEATS`); they also apply to every restart.
    pub fn start_with(env: &[(&str, &str)]) -> Self {
        Self::launch(env, None)
    }

    /// HTTPS, WSS and SIP over TLS with a certificate from `certs`.
    pub fn start_tls(certs: &tls::Certs, env: &[(&str, &str)]) -> Self {
        Self::launch(env, Some(certs))
    }

    fn launch(env: &[(&str, &str)], certs: Option<&tls::Certs>) -> Self {
        let data = tempfile::tempdir().expect("temp data dir");
        let token = format!("test-{}", random(32));
        let port = free_port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let sip: SocketAddr = ([127, 0, 0, 1], free_udp_tcp_port()).into();
        let mut all: Vec<(String, String)> = vec![
            ("SWITCHBOARD_DATA".into(), data.path().display().to_string()),
            ("SWITCHBOARD_LISTEN".into(), addr.to_string()),
            ("SWITCHBOARD_SIP_LISTEN".into(), sip.to_string()),
            ("SWITCHBOARD_BOOTSTRAP_TOKEN".into(), token.clone()),
            (
                "SWITCHBOARD_LOG".into(),
                std::env::var("SWITCHBOARD_LOG").unwrap_or_else(|_| "warn".into()),
            ),
        ];
        if let Some(url) = postgres_database() {
            all.push(("SWITCHBOARD_DATABASE_URL".into(), url));
        }
        let sip_tls: Option<SocketAddr> = certs.map(|c| {
            let tls: SocketAddr = ([127, 0, 0, 1], free_port()).into();
            all.push(("SWITCHBOARD_TLS_CERT".into(), c.cert.display().to_string()));
            all.push(("SWITCHBOARD_TLS_KEY".into(), c.key.display().to_string()));
            all.push(("SWITCHBOARD_SIP_TLS_LISTEN".into(), tls.to_string()));
            tls
        });
        let scheme = if certs.is_some() { "https" } else { "http" };
        all.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let mut s = Server {
            base: format!("{scheme}://{addr}"),
            token,
            data,
            addr,
            sip,
            sip_tls,
            ca: certs.map(|c| c.ca.clone()),
            env: all,
            child: None,
            logs: Arc::new(Mutex::new(String::new())),
        };
        s.spawn();
        s
    }

    /// The REST base as SPAs configure it: `http://127.0.0.1:<port>/api`.
    pub fn api(&self) -> String {
        format!("{}/api", self.base)
    }

    /// An HTTP client that trusts this server's certificate.
    pub fn http(&self) -> reqwest::Client {
        let mut b = reqwest::Client::builder();
        if let Some(ca) = &self.ca {
            let pem = std::fs::read(ca).expect("read CA");
            b = b.add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("CA pem"));
        }
        b.build().expect("http client")
    }

    /// A typed client with the administrator's token.
    pub fn client(&self) -> switchboard_client::Client {
        switchboard_client::Client::new(&self.api(), self.token.clone()).expect("client")
    }

    /// Everything the server printed so far (stdout and stderr).
    pub fn logs(&self) -> String {
        self.logs.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The `switchboard` executable with this server's environment (data folder, database),
    /// for other subcommands such as `domain add`.
    pub fn command(&self) -> Command {
        let mut c = clean_command();
        c.envs(self.env.iter().map(|(k, v)| (k, v)));
        c
    }

    /// Kills the server abruptly (SIGKILL), as a crash would.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Kills the server if it runs, then starts it again on the same address and data.
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    fn spawn(&mut self) {
        let mut cmd = self.command();
        cmd.arg("serve")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn switchboard serve");
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        let logs = self.logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("listening on ") {
                    let _ = tx.send(url.trim().to_string());
                }
                if let Ok(mut l) = logs.lock() {
                    l.push_str(&line);
                    l.push('\n');
                }
            }
        });
        let stderr = child.stderr.take().expect("stderr");
        let logs = self.logs.clone();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stderr);
            let mut buf = [0u8; 4096];
            while let Ok(n) = r.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut l) = logs.lock() {
                    l.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        });
        self.child = Some(child);
        match rx.recv_timeout(START_TIMEOUT) {
            Ok(url) => assert_eq!(
                url,
                self.base,
                "server listens elsewhere than asked; logs:\n{}",
                self.logs()
            ),
            Err(_) => {
                self.kill9();
                panic!(
                    "switchboard serve did not start within {START_TIMEOUT:?}; logs:\n{}",
                    self.logs()
                );
            }
        }
    }

    /// Runs `switchboard provision` against this server with the administrator's token.
    pub fn provision(&self, args: &[&str]) -> Output {
        clean_command()
            .arg("provision")
            .args(["--api", &self.api(), "--token", &self.token])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run switchboard provision")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// The executable without any `SWITCHBOARD_*` variable of the test's own environment.
fn clean_command() -> Command {
    let mut c = Command::new(bin());
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("SWITCHBOARD_") {
            c.env_remove(k);
        }
    }
    c
}

/// A fresh PostgreSQL database URL when `SWITCHBOARD_TEST_PG` is set.
fn postgres_database() -> Option<String> {
    let url = std::env::var("SWITCHBOARD_TEST_PG")
        .ok()
        .filter(|u| !u.is_empty())?;
    let name = format!("sb_test_{}", random(16));
    let (u, n) = (url.clone(), name.clone());
    // Its own thread and runtime: callers may already be inside a runtime.
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(switchboard_store::create_postgres_database(&u, &n))
    })
    .join()
    .expect("create database thread")
    .expect("create the test database");
    let base = url.rsplit_once('/').map(|(b, _)| b).unwrap_or(&url);
    Some(format!("{base}/{name}"))
}

/// Standard output of a command as text.
/// Everything a child prints on stdout and stderr, gathered line by line as it comes.
pub fn collect_output(child: &mut Child) -> Arc<Mutex<String>> {
    let output = Arc::new(Mutex::new(String::new()));
    let pipes = [
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    ];
    for pipe in pipes.into_iter().flatten() {
        let out = output.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if let Ok(mut o) = out.lock() {
                    o.push_str(&line);
                    o.push('\n');
                }
            }
        });
    }
    output
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Standard error of a command as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
