//! linphonec (Debian `linphone-cli`) as a real desk phone: its own HOME and configuration in a
//! temporary folder, registered over UDP, driven by typing commands on its standard input.
//! No sound device: `soundcard use files` makes it play silence and record nothing. Its console
//! says what happens to calls (`Call 1 with … connected.`); the SIP messages it sends and
//! receives are in its log file (`-d 6 -l`).

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Linphone {
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    pub dir: tempfile::TempDir,
    /// Where the phone listens for SIP (UDP).
    pub sip: SocketAddr,
    /// What linphonec printed on its console.
    console: Arc<Mutex<String>>,
    log: PathBuf,
}

impl Linphone {
    /// Starts a phone for `extension@domain` authenticating as `account`/`password` through
    /// the server at `proxy` (UDP), and waits until it has registered.
    pub fn register(
        extension: &str,
        domain: &str,
        (account, password): (&str, &str),
        proxy: SocketAddr,
    ) -> Self {
        let dir = tempfile::tempdir().expect("linphone dir");
        // liblinphone keeps its call log in a database under HOME and refuses to bring its
        // SIP stack up when it cannot open it.
        std::fs::create_dir_all(dir.path().join(".local/share/linphone")).expect("db dir");
        let port = super::free_udp_tcp_port();
        let sip: SocketAddr = ([127, 0, 0, 1], port).into();
        // RTP and RTCP on two neighbouring ports; a second call takes other ones.
        let rtp = loop {
            let p = super::free_udp_tcp_port();
            if p < u16::MAX && std::net::UdpSocket::bind(("127.0.0.1", p + 1)).is_ok() {
                break p;
            }
        };
        // Every request goes to the server by address (the route): the domain is never looked
        // up, so no packet leaves loopback.
        let config = format!(
            "[sip]\n\
             sip_port={port}\n\
             sip_tcp_port=0\n\
             sip_tls_port=0\n\
             bind_address=127.0.0.1\n\
             default_proxy=0\n\
             inc_timeout=60\n\
             [rtp]\n\
             audio_rtp_port={rtp}\n\
             [net]\n\
             dns_srv_enabled=0\n\
             [sound]\n\
             echocancellation=0\n\
             [video]\n\
             display=0\n\
             capture=0\n\
             [proxy_0]\n\
             reg_proxy=<sip:{proxy};transport=udp>\n\
             reg_route=<sip:{proxy};transport=udp;lr>\n\
             reg_identity=sip:{extension}@{domain}\n\
             reg_expires=120\n\
             reg_sendregister=1\n\
             publish=0\n\
             [auth_info_0]\n\
             username={extension}\n\
             userid={account}\n\
             passwd={password}\n\
             realm={domain}\n\
             domain={domain}\n\
             [audio_codec_0]\n\
             mime=PCMU\n\
             rate=8000\n\
             channels=1\n\
             enabled=1\n\
             [audio_codec_1]\n\
             mime=PCMA\n\
             rate=8000\n\
             channels=1\n\
             enabled=1\n"
        );
        let rc = dir.path().join("linphonerc");
        std::fs::write(&rc, config).expect("linphonerc");
        let log = dir.path().join("linphone.log");
        let mut child = Command::new("linphonec")
            .arg("-c")
            .arg(&rc)
            .args(["-d", "6", "-l"])
            .arg(&log)
            .env("HOME", dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run linphonec (apt-get install linphone-cli)");
        let console = super::collect_output(&mut child);
        let stdin = child.stdin.take();
        let mut phone = Linphone {
            child: Some(child),
            stdin,
            dir,
            sip,
            console,
            log,
        };
        phone.command("soundcard use files");
        if !phone.wait_log("to [LinphoneRegistrationOk]", Duration::from_secs(20)) {
            panic!("linphonec did not register:\n{}", phone.tail());
        }
        phone
    }

    /// Types one command line (`call sip:…`, `pause 1`, `transfer 1 --to-call 2`, `calls`…).
    pub fn command(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("linphonec stdin");
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .and_then(|_| stdin.flush())
            .expect("write to linphonec");
    }

    /// Everything linphonec printed on its console.
    pub fn console(&self) -> String {
        self.console.lock().map(|o| o.clone()).unwrap_or_default()
    }

    /// Its log so far: liblinphone's messages, SIP traffic included.
    pub fn log(&self) -> String {
        std::fs::read(&self.log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// The SIP messages it sent and received so far, in order, as the log shows them.
    pub fn sip_messages(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut current: Option<String> = None;
        for line in self.log().lines() {
            if is_log_line(line) {
                out.extend(current.take().filter(|m| !m.trim().is_empty()));
                if line.contains("]: received [") || line.contains("]: message sent to [") {
                    current = Some(String::new());
                }
            } else if let Some(m) = current.as_mut() {
                m.push_str(line.trim_end_matches('\r'));
                m.push('\n');
            }
        }
        out.extend(current.filter(|m| !m.trim().is_empty()));
        out
    }

    /// The console, then the end of the log, for failure messages.
    pub fn tail(&self) -> String {
        let log = self.log();
        let cut = log.len().saturating_sub(6000);
        let cut = (cut..log.len())
            .find(|&i| log.is_char_boundary(i))
            .unwrap_or(0);
        format!(
            "--- linphonec console:\n{}\n--- end of its log:\n{}",
            self.console(),
            &log[cut..]
        )
    }

    /// Waits until the console shows `text`.
    pub fn wait_console(&self, text: &str, within: Duration) -> bool {
        wait_for(|| self.console().contains(text), within)
    }

    /// Waits until the log shows `text`.
    pub fn wait_log(&self, text: &str, within: Duration) -> bool {
        wait_for(|| self.log().contains(text), within)
    }

    /// Kills the phone without unregistering.
    pub fn kill9(&mut self) {
        self.stdin = None;
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Linphone {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Whether a log line is one of liblinphone's own (`2026-12-04 15:21:35:829 belle-sip-…`),
/// not a line of a SIP message it printed.
fn is_log_line(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() > 24
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b' '
        && b[13] == b':'
}

fn wait_for(mut done: impl FnMut() -> bool, within: Duration) -> bool {
    let end = Instant::now() + within;
    while Instant::now() < end {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    done()
}
