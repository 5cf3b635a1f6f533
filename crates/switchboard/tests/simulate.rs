//! `switchboard simulate dialer`: the reference scenario on two seeds at two team sizes
//! prints a row per pacer and team size, and bad input is refused with a clear message.

use std::process::Command;

fn switchboard(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(args)
        .output()
        .expect("run switchboard")
}

const SCENARIO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../bench/dialer/scenario.json"
);

#[test]
fn the_reference_day_prints_a_row_per_pacer_and_team_size() {
    let out = switchboard(&[
        "simulate",
        "dialer",
        "--scenario",
        SCENARIO,
        "--seeds",
        "1-2",
        "--agents",
        "5,10",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("2 seeds (1–2)"), "{stdout}");
    assert!(
        stdout.contains("| agents | pacer | occupancy % | talk min/agent-h | US abandon % | UK abandon % | worst hour %"),
        "{stdout}"
    );
    for agents in [5, 10] {
        for pacer in ["predictive", "progressive", "vicidial_tapered"] {
            let row = format!("| {agents} | {pacer} | ");
            let line = stdout
                .lines()
                .find(|l| l.starts_with(&row))
                .unwrap_or_else(|| panic!("no row {row:?} in\n{stdout}"));
            // Ten cells, the figures as `mean (min–max)`.
            assert_eq!(line.matches('|').count(), 11, "{line}");
            assert!(line.contains('(') && line.contains('–'), "{line}");
        }
        assert!(
            stdout.contains(&format!("{agents} agents: predictive − progressive")),
            "{stdout}"
        );
    }
}

#[test]
fn bad_input_is_refused_with_the_reason() {
    let out = switchboard(&["simulate", "dialer", "--scenario", "/nonexistent.json"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent.json"));
    let out = switchboard(&[
        "simulate",
        "dialer",
        "--scenario",
        SCENARIO,
        "--seeds",
        "9-3",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("empty seed range"));
    let out = switchboard(&[
        "simulate",
        "dialer",
        "--scenario",
        SCENARIO,
        "--agents",
        "0",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("agent counts"));
}
