//! A short simulated day: the abandonment guard holds, replays are exact, the CLI hook runs.

use switchboard_dialer::sim::{report_hash, simulate, Break, Scenario};
use switchboard_dialer::{run_scenario_file, Pacer};

fn small_day() -> Scenario {
    Scenario {
        agents: 8,
        seeds: vec![3, 4],
        shift_start: "08:00".into(),
        shift_end: "11:00".into(),
        breaks: vec![Break {
            at: "09:30".into(),
            minutes: 15.0,
            jitter_minutes: 10.0,
        }],
        ..Scenario::default()
    }
}

#[test]
fn a_small_day_stays_under_the_abandonment_guard() {
    let sc = small_day();
    for seed in [1, 2] {
        let ours = simulate(&sc, Pacer::Predictive, seed);
        assert!(ours.human_answers > 100, "{ours:?}");
        assert!(
            ours.abandon_us <= sc.dialer.max_abandoned_rate
                && ours.abandon_uk <= sc.dialer.max_abandoned_rate,
            "seed {seed}: {ours:?}"
        );
        assert_eq!(ours.calls_outside_hours + ours.redials_within_lockout, 0);
        let progressive = simulate(&sc, Pacer::Progressive, seed);
        assert!(
            ours.occupancy > progressive.occupancy,
            "seed {seed}: predictive {:.3} vs progressive {:.3}",
            ours.occupancy,
            progressive.occupancy
        );
    }
}

#[test]
fn a_day_replays_byte_identically() {
    let sc = small_day();
    let a = simulate(&sc, Pacer::Predictive, 9);
    let b = simulate(&sc, Pacer::Predictive, 9);
    assert_eq!(report_hash(&a), report_hash(&b));
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
    assert_ne!(
        report_hash(&a),
        report_hash(&simulate(&sc, Pacer::Predictive, 10))
    );
}

#[test]
fn the_cli_hook_reads_a_scenario_file() {
    let path = std::env::temp_dir().join(format!("dialer-scenario-{}.json", std::process::id()));
    let sc = Scenario {
        seeds: vec![3],
        shift_end: "09:30".into(),
        breaks: vec![],
        ..small_day()
    };
    std::fs::write(&path, serde_json::to_string(&sc).unwrap()).unwrap();
    let out = run_scenario_file(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    for pacer in ["predictive", "progressive", "vicidial_tapered"] {
        assert!(out.contains(&format!("| 8 | {pacer} |")), "{out}");
    }
    assert!(run_scenario_file("/nonexistent/scenario.json").is_err());
    let bad = std::env::temp_dir().join(format!("dialer-bad-{}.json", std::process::id()));
    std::fs::write(&bad, r#"{"shift_start": "25:00"}"#).unwrap();
    let err = run_scenario_file(&bad).unwrap_err().to_string();
    std::fs::remove_file(&bad).unwrap();
    assert!(err.contains("25:00"), "{err}");
}
