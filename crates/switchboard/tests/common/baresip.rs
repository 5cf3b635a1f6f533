//! baresip (Debian `baresip-core`) as a real desk phone: its own config folder, registered to
//! a server over UDP or TCP, driven over its `ctrl_tcp` module (netstring JSON commands and
//! events). Audio: a sine source and the `sndfile` filter recording what it hears.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub struct Baresip {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    /// Where the phone listens for SIP.
    pub sip: SocketAddr,
    ctrl: TcpStream,
    events: mpsc::Receiver<Value>,
    responses: mpsc::Receiver<Value>,
    /// Everything baresip printed (SIP trace included).
    output: Arc<Mutex<String>>,
}

/// The account line's transport.
#[derive(Clone, Debug)]
pub enum Transport {
    Udp,
    Tcp,
    /// TLS, trusting this CA file.
    Tls(std::path::PathBuf),
}

impl Baresip {
    /// Starts a phone for `extension@domain` authenticating as `account`/`password` through
    /// the server at `proxy`, and waits until it has registered.
    pub fn register(
        extension: &str,
        domain: &str,
        creds: (&str, &str),
        proxy: SocketAddr,
        transport: Transport,
    ) -> Self {
        Self::register_with_tone(extension, domain, creds, proxy, transport, 440)
    }

    /// As [`Baresip::register`], the phone's microphone playing a `tone_hz` sine.
    pub fn register_with_tone(
        extension: &str,
        domain: &str,
        creds: (&str, &str),
        proxy: SocketAddr,
        transport: Transport,
        tone_hz: u32,
    ) -> Self {
        Self::launch(extension, domain, creds, proxy, transport, tone_hz, false)
    }

    /// As [`Baresip::register`], a phone that answers every call at once.
    pub fn register_auto_answer(
        extension: &str,
        domain: &str,
        creds: (&str, &str),
        proxy: SocketAddr,
    ) -> Self {
        Self::launch(extension, domain, creds, proxy, Transport::Udp, 440, true)
    }

    fn launch(
        extension: &str,
        domain: &str,
        creds: (&str, &str),
        proxy: SocketAddr,
        transport: Transport,
        tone_hz: u32,
        auto_answer: bool,
    ) -> Self {
        // baresip also listens for TLS on the next port: a port another test takes between our
        // check and baresip's bind fails its start, so a start that lost that race is retried.
        for _ in 0..5 {
            match Self::start(
                extension,
                domain,
                creds,
                proxy,
                &transport,
                tone_hz,
                auto_answer,
            ) {
                Ok(phone) => {
                    // The registration may finish before ctrl_tcp has a client: watch the
                    // console instead.
                    if !phone.wait_output("200 OK () [1 binding]", Duration::from_secs(15)) {
                        panic!("baresip did not register:\n{}", phone.tail());
                    }
                    return phone;
                }
                Err(out) if out.contains("Address already in use") => continue,
                Err(out) => panic!("baresip did not start:\n{out}"),
            }
        }
        panic!("baresip found no free ports in 5 tries");
    }

    fn start(
        extension: &str,
        domain: &str,
        (account, password): (&str, &str),
        proxy: SocketAddr,
        transport: &Transport,
        tone_hz: u32,
        auto_answer: bool,
    ) -> Result<Self, String> {
        let answermode = if auto_answer { "auto" } else { "manual" };
        let dir = tempfile::tempdir().expect("baresip dir");
        let port = loop {
            let p = super::free_udp_tcp_port();
            if p < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
                break p;
            }
        };
        let sip: SocketAddr = ([127, 0, 0, 1], port).into();
        let ctrl_port = super::free_port();
        let config = format!(
            "poll_method epoll\n\
             net_interface 127.0.0.1\n\
             sip_listen {sip}\n\
             audio_player aubridge,none\n\
             audio_alert aubridge,none\n\
             audio_source ausine,{tone_hz}\n\
             ausrc_srate 48000\n\
             ausrc_channels 2\n\
             module_path /usr/lib/baresip/modules\n\
             module g711.so\n\
             module ausine.so\n\
             module aubridge.so\n\
             module sndfile.so\n\
             module ctrl_tcp.so\n\
             module_app account.so\n\
             module_app menu.so\n\
             ctrl_tcp_listen 127.0.0.1:{ctrl_port}\n\
             snd_path {}\n",
            dir.path().display()
        );
        let config = match transport {
            Transport::Tls(ca) => format!("{config}sip_cafile {}\n", ca.display()),
            _ => config,
        };
        std::fs::write(dir.path().join("config"), config).expect("config");
        let t = match transport {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls(_) => "tls",
        };
        std::fs::write(
            dir.path().join("accounts"),
            format!(
                "<sip:{extension}@{domain};transport={t}>;auth_user={account};\
                 auth_pass={password};outbound=\"sip:{proxy};transport={t}\";regint=120;\
                 answermode={answermode};audio_codecs=PCMU/8000/1,PCMA/8000/1\n"
            ),
        )
        .expect("accounts");
        let mut child = Command::new("baresip")
            .arg("-f")
            .arg(dir.path())
            .arg("-s")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run baresip (apt-get install baresip-core)");
        let output = super::collect_output(&mut child);
        let ctrl = match connect_retrying(ctrl_port, &output) {
            Ok(c) => c,
            Err(out) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(out);
            }
        };
        let (ev_tx, events) = mpsc::channel();
        let (resp_tx, responses) = mpsc::channel();
        let reader = ctrl.try_clone().expect("ctrl clone");
        std::thread::spawn(move || read_netstrings(reader, ev_tx, resp_tx));
        Ok(Baresip {
            child: Some(child),
            dir,
            sip,
            ctrl,
            events,
            responses,
            output,
        })
    }

    pub fn output(&self) -> String {
        self.output.lock().map(|o| o.clone()).unwrap_or_default()
    }

    /// The end of the output, for failure messages.
    pub fn tail(&self) -> String {
        let o = self.output();
        let cut = o.len().saturating_sub(4000);
        let cut = (cut..o.len()).find(|&i| o.is_char_boundary(i)).unwrap_or(0);
        o[cut..].to_string()
    }

    /// Waits until baresip has printed `text`.
    pub fn wait_output(&self, text: &str, within: Duration) -> bool {
        let end = Instant::now() + within;
        while Instant::now() < end {
            if self.output().contains(text) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// Sends a ctrl_tcp command (`dial`, `accept`, `hangup`, `hold`, `resume`, `sndcode`…)
    /// and returns its reply.
    pub fn command(&mut self, command: &str, params: &str) -> Value {
        let body = json!({"command": command, "params": params, "token": command}).to_string();
        let frame = format!("{}:{},", body.len(), body);
        self.ctrl.write_all(frame.as_bytes()).expect("ctrl write");
        self.responses
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("no reply to {command}:\n{}", self.tail()))
    }

    /// Waits for an event of `kind` (e.g. `CALL_INCOMING`, `CALL_ESTABLISHED`, `CALL_CLOSED`).
    pub fn wait_event(&mut self, kind: &str, within: Duration) -> Option<Value> {
        let end = Instant::now() + within;
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match self.events.recv_timeout(left) {
                Ok(ev) if ev["type"] == kind => return Some(ev),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
        None
    }

    /// Kills the phone without unregistering, as a power cut would.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Connects to baresip's ctrl_tcp; `Err` is why not, with baresip's output so far.
fn connect_retrying(port: u16, output: &Arc<Mutex<String>>) -> Result<TcpStream, String> {
    let end = Instant::now() + Duration::from_secs(10);
    let out = || output.lock().map(|o| o.clone()).unwrap_or_default();
    loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => return Ok(s),
            // A failed start says so at once; no need to wait out the deadline.
            Err(_) if out().contains("init failed") => return Err(out()),
            Err(_) if Instant::now() < end => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(format!("baresip ctrl_tcp: {e}\n{}", out())),
        }
    }
}

/// Splits the ctrl_tcp stream (`<len>:<json>,`) into events and command replies.
fn read_netstrings(mut s: TcpStream, events: mpsc::Sender<Value>, replies: mpsc::Sender<Value>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        while let Some(colon) = buf.iter().position(|&b| b == b':') {
            let Some(len) = std::str::from_utf8(&buf[..colon])
                .ok()
                .and_then(|l| l.parse::<usize>().ok())
            else {
                return;
            };
            if buf.len() < colon + 1 + len + 1 {
                break;
            }
            let v: Value =
                serde_json::from_slice(&buf[colon + 1..colon + 1 + len]).unwrap_or(Value::Null);
            buf.drain(..colon + 1 + len + 1);
            let to = if v["event"] == true {
                &events
            } else {
                &replies
            };
            let _ = to.send(v);
        }
    }
}

/// What a phone heard, from the `sndfile` recording of its decoded audio.
#[derive(Debug, Clone, Copy)]
pub struct Heard {
    /// RMS level in dBFS (silence is below about -60).
    pub rms_db: f64,
    /// SoX's rough frequency estimate in Hz.
    pub freq: f64,
    pub seconds: f64,
}

/// Analyses the largest `*-dec.wav` baresip wrote (the far end's audio) with SoX, once the
/// call has ended: baresip fills in the WAV header's length only when it closes the file,
/// which can come a moment after the far end's BYE was answered.
pub fn recorded_tone(phone: &Baresip) -> Heard {
    recorded(phone, &[])
}

/// As [`recorded_tone`], only the `seconds` that came `before_end` seconds before the
/// recording ends: what the phone heard last, when the call changed parties on the way.
pub fn recorded_tone_at_end(phone: &Baresip, seconds: f64, before_end: f64) -> Heard {
    let trim = [
        "trim".to_string(),
        format!("-{:.2}", seconds + before_end),
        format!("{seconds:.2}"),
    ];
    recorded(phone, &trim)
}

fn recorded(phone: &Baresip, effects: &[String]) -> Heard {
    phone.wait_output("terminated (duration", Duration::from_secs(10));
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        let heard = analyse_recording(phone, effects);
        if heard.seconds > 0.0 || Instant::now() > end {
            return heard;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn analyse_recording(phone: &Baresip, effects: &[String]) -> Heard {
    let wav = std::fs::read_dir(phone.dir.path())
        .expect("baresip dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with("-dec.wav"))
        .max_by_key(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
        .unwrap_or_else(|| panic!("no recording of what the phone heard:\n{}", phone.tail()))
        .path();
    let out = Command::new("sox")
        .arg(&wav)
        .arg("-n")
        .args(effects)
        .arg("stat")
        .output()
        .expect("run sox");
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    let field = |name: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(':').next())
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("sox stat lacks {name}:\n{text}"))
    };
    let rms = field("RMS     amplitude");
    Heard {
        rms_db: if rms > 0.0 {
            20.0 * rms.log10()
        } else {
            -200.0
        },
        freq: field("Rough   frequency"),
        seconds: field("Length (seconds)"),
    }
}
