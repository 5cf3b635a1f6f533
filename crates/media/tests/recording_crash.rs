//! The recorder writes pages as it goes, so a process killed with SIGKILL mid-call leaves a
//! file that players accept: the issue's "survives `kill -9`: the file written so far is
//! playable".
//!
//! The test re-runs its own binary as a child (selected by an environment variable) that
//! records the hold-tone packets as a two-party call in real time, kills it with SIGKILL after
//! 2.5 s, and checks the file with ffprobe and ffmpeg (scripts/install-test-deps.sh).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard_media::{LegId, PayloadKind, RecordControl, Recorder, TapPacket, ToneLoop};

/// In the child: the file to record into.
const CHILD_ENV: &str = "SWITCHBOARD_RECORDING_CRASH_CHILD";
const TEST_NAME: &str = "recording_cut_by_a_crash_is_playable";

#[test]
fn recording_cut_by_a_crash_is_playable() {
    if let Some(path) = std::env::var_os(CHILD_ENV) {
        record_until_killed(PathBuf::from(path));
    }
    let dir = temp_dir();
    let file = dir.join("call.ogg");
    let mut child = Command::new(std::env::current_exe().expect("test binary path"))
        .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the recording child");

    // The recorder creates the file on attach; the recording's clock starts then.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !file.exists() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the child never started recording into {}", file.display());
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the child exited before recording: {status}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(2500));
    let running = child.try_wait().expect("child status").is_none();
    // Child::kill is SIGKILL on Unix: no destructor, no flush, no end-of-stream page.
    child.kill().expect("SIGKILL the child");
    child.wait().expect("reap the child");
    assert!(
        running,
        "the child must still be recording when it is killed"
    );

    let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    assert!(size > 0, "nothing on disk after the crash");

    let duration = ffprobe_duration(&file);
    assert!(
        duration >= 1.0,
        "ffprobe reports {duration} s for a recording killed after 2.5 s ({size} bytes)"
    );
    let out = tool("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&file)
        .args(["-f", "null", "-"])
        .output()
        .unwrap_or_else(|e| missing("ffmpeg", e));
    let errors = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && errors.trim().is_empty(),
        "ffmpeg could not decode the crashed recording ({}): {errors}",
        out.status
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The child: a call whose parties both send the hold tone at 50 packets/s, for far longer
/// than the parent waits, so only SIGKILL ends it.
fn record_until_killed(path: PathBuf) -> ! {
    let (recorder, _done) = Recorder::start(1000).expect("start the recorder");
    let (a, b) = (LegId(1), LegId(2));
    for (leg, channel) in [(a, 0), (b, 1)] {
        recorder.control(RecordControl::Attach {
            key: "call".into(),
            path: path.clone(),
            leg,
            channel,
        });
    }
    let mut tap = recorder.tap();
    let tone = ToneLoop::hold();
    let start = Instant::now();
    for i in 0..3000u32 {
        let payload: Arc<[u8]> = tone.packet(i as usize).clone();
        for (from, to) in [(a, b), (b, a)] {
            tap(&TapPacket {
                from,
                to,
                kind: PayloadKind::Opus,
                rtp_time: i.wrapping_mul(960),
                payload: payload.clone(),
            });
        }
        let next = start + Duration::from_millis(20 * (i as u64 + 1));
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    panic!("the parent should have killed this process within 60 s");
}

fn ffprobe_duration(file: &Path) -> f64 {
    let out = tool("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
        ])
        .arg(file)
        .output()
        .unwrap_or_else(|e| missing("ffprobe", e));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "ffprobe rejected the crashed recording ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("ffprobe printed no duration: {text:?}"))
}

fn tool(name: &str) -> Command {
    let mut c = Command::new(name);
    c.stdin(Stdio::null());
    c
}

fn missing(name: &str, e: std::io::Error) -> ! {
    panic!("{name} is needed to check recordings and could not be run ({e}); install it with scripts/install-test-deps.sh")
}

fn temp_dir() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "switchboard-recording-crash-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
