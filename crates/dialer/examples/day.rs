//! Simulated dialer days: every pacer on the same seeds at several team sizes, the table of
//! mean (min–max) per cell, the targets, and a timed byte-identical replay.
//!
//! ```text
//! cargo run --release -p switchboard-dialer --example day -- \
//!     [--scenario FILE.json] [--agents 5,10,25,50,100] [--seeds 1-20] [--threads 2] \
//!     [--replay AGENTS] [--pacer predictive|progressive|vicidial_tapered] [--trace SEED]
//! cargo run --release -p switchboard-dialer --example day -- --print-scenario
//! ```
//!
//! `--trace SEED` prints one day per pacer in half hours (at the first agent count) instead
//! of the table; `--print-scenario` prints the default scenario as JSON.
//!
//! Without `--scenario` the defaults of `Scenario::default()` apply (DIALER-NOTES 4.1/4.4).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;
use switchboard_dialer::sim::{
    gain, report_hash, simulate_traced, table_header, table_row, DayReport, Scenario, Summary,
};
use switchboard_dialer::{simulate, Pacer};

struct Args {
    scenario: Scenario,
    agents: Vec<u32>,
    seeds: Vec<u64>,
    threads: usize,
    replay: Option<u32>,
    trace: Option<u64>,
    pacers: Vec<Pacer>,
}

fn parse_list<T: std::str::FromStr>(s: &str) -> Vec<T> {
    s.split(',')
        .map(|x| {
            x.trim()
                .parse()
                .unwrap_or_else(|_| panic!("bad number {x:?}"))
        })
        .collect()
}

fn parse_seeds(s: &str) -> Vec<u64> {
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b): (u64, u64) = (a.parse().expect("seed"), b.parse().expect("seed"));
            (a..=b).collect()
        }
        None => parse_list(s),
    }
}

fn args() -> Args {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut scenario = Scenario::default();
    let mut agents = None;
    let mut seeds = None;
    let mut threads = 2;
    let mut replay = None;
    let mut trace = None;
    let mut pacers = Pacer::ALL.to_vec();
    for pair in argv.chunks(2) {
        let v = pair
            .get(1)
            .unwrap_or_else(|| panic!("{} needs a value", pair[0]));
        match pair[0].as_str() {
            "--scenario" => {
                scenario = Scenario::from_file(v.as_ref()).unwrap_or_else(|e| panic!("{e}"))
            }
            "--agents" => agents = Some(parse_list(v)),
            "--seeds" => seeds = Some(parse_seeds(v)),
            "--threads" => threads = v.parse().expect("--threads N"),
            "--replay" => replay = Some(v.parse().expect("--replay AGENTS")),
            "--trace" => trace = Some(v.parse().expect("--trace SEED")),
            "--pacer" => {
                pacers = vec![*Pacer::ALL
                    .iter()
                    .find(|p| p.name() == v)
                    .unwrap_or_else(|| panic!("unknown pacer {v}"))]
            }
            other => panic!("unknown argument {other}"),
        }
    }
    Args {
        agents: agents.unwrap_or_else(|| vec![scenario.agents]),
        seeds: seeds.unwrap_or_else(|| scenario.seeds.clone()),
        scenario,
        threads: threads.max(1),
        replay,
        trace,
        pacers,
    }
}

/// Half-hour rows of one day per pacer.
fn trace(sc: &Scenario, pacers: &[Pacer], seed: u64) {
    for &p in pacers {
        let (r, slots) = simulate_traced(sc, p.build(&sc.vicidial), seed);
        println!(
            "\n{} agents, {}, seed {seed}: occupancy {:.1} %, US {:.2} %, UK {:.2} %",
            sc.agents,
            p.name(),
            100.0 * r.occupancy,
            r.abandon_us,
            r.abandon_uk
        );
        println!("  time   ready  occ %  dials  answers  drops  drop %  level  fallback ticks");
        for s in slots {
            println!(
                "  {:02}:{:02} {:6.1} {:6.1} {:6} {:8} {:6} {:7.2} {:6.2} {:6}",
                s.minute / 60,
                s.minute % 60,
                s.agents_ready,
                100.0 * s.occupancy,
                s.dials,
                s.human_answers,
                s.drops,
                if s.human_answers > 0 {
                    100.0 * s.drops as f64 / s.human_answers as f64
                } else {
                    0.0
                },
                s.level,
                s.fallback_ticks
            );
        }
    }
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("--print-scenario") {
        let json = serde_json::to_string_pretty(&Scenario::default()).expect("serialises");
        println!("{json}");
        return;
    }
    let a = args();
    if let Some(seed) = a.trace {
        let sc = Scenario {
            agents: a.agents[0],
            ..a.scenario.clone()
        };
        trace(&sc, &a.pacers, seed);
        return;
    }
    let mut jobs: Vec<(u32, Pacer, u64)> = Vec::new();
    for &n in &a.agents {
        for &p in &a.pacers {
            for &s in &a.seeds {
                jobs.push((n, p, s));
            }
        }
    }
    let next = AtomicUsize::new(0);
    let done: Mutex<BTreeMap<usize, DayReport>> = Mutex::new(BTreeMap::new());
    let t0 = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..a.threads {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(n, p, seed)) = jobs.get(i) else {
                    break;
                };
                let sc = Scenario {
                    agents: n,
                    ..a.scenario.clone()
                };
                let r = simulate(&sc, p, seed);
                done.lock().expect("no panics").insert(i, r);
            });
        }
    });
    let wall = t0.elapsed();
    let done = done.into_inner().expect("no panics");
    let mut by: BTreeMap<(u32, Pacer), Vec<DayReport>> = BTreeMap::new();
    for (i, r) in done {
        let (n, p, _) = jobs[i];
        by.entry((n, p)).or_default().push(r);
    }

    println!(
        "{} days ({} agent counts × {} pacers × {} seeds {}–{}) in {:.1} s on {} threads\n",
        jobs.len(),
        a.agents.len(),
        a.pacers.len(),
        a.seeds.len(),
        a.seeds.first().copied().unwrap_or(0),
        a.seeds.last().copied().unwrap_or(0),
        wall.as_secs_f64(),
        a.threads
    );
    print!("{}", table_header());
    for &n in &a.agents {
        for &p in &a.pacers {
            if let Some(days) = by.get(&(n, p)) {
                print!("{}", table_row(&Summary::of(days)));
            }
        }
    }

    println!("\nGain on the same seeds (mean of per-seed occupancy differences, points):");
    for &n in &a.agents {
        let get = |p| by.get(&(n, p)).map(Vec::as_slice);
        if let (Some(ours), Some(prog), Some(vici)) = (
            get(Pacer::Predictive),
            get(Pacer::Progressive),
            get(Pacer::VicidialTapered),
        ) {
            println!(
                "  {n:>3} agents: predictive − progressive {:+.1}, predictive − vicidial_tapered {:+.1}",
                gain(ours, prog),
                gain(ours, vici)
            );
        }
    }

    targets(&by, &a.agents);

    if let Some(n) = a.replay {
        let sc = Scenario {
            agents: n,
            ..a.scenario.clone()
        };
        let seed = a.seeds.first().copied().unwrap_or(1);
        println!("\nReplay: {n} agents, predictive, seed {seed}, one thread:");
        let mut hashes = Vec::new();
        for run in 1..=2 {
            let (t, cpu0) = (Instant::now(), thread_cpu_s());
            let r = simulate(&sc, Pacer::Predictive, seed);
            let wall = t.elapsed().as_secs_f64();
            let cpu = thread_cpu_s().zip(cpu0).map(|(b, a)| b - a);
            let h = report_hash(&r);
            let cpu_text = cpu.map_or_else(String::new, |c| format!(", {c:.3} s on the CPU"));
            println!(
                "  run {run}: {wall:.3} s wall{cpu_text}, report hash {h:016x} ({} dials)",
                r.dials
            );
            hashes.push((h, cpu.unwrap_or(wall)));
        }
        let same = hashes[0].0 == hashes[1].0;
        let fast = hashes.iter().all(|(_, s)| *s <= 2.0);
        println!(
            "  byte-identical: {}; ≤ 2 s on one core: {}",
            if same { "yes" } else { "NO" },
            if fast { "yes" } else { "NO" }
        );
    }
}

/// CPU time of this thread so far, seconds (Linux; None elsewhere). On a shared machine the
/// wall clock also counts the time other processes had the core.
fn thread_cpu_s() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = text.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}

fn targets(by: &BTreeMap<(u32, Pacer), Vec<DayReport>>, agents: &[u32]) {
    let get = |n: u32, p: Pacer| by.get(&(n, p)).map(|d| (Summary::of(d), d));
    println!("\nTargets:");
    let line = |ok: bool, what: String| {
        println!("  [{}] {what}", if ok { "met" } else { "NOT met" });
    };
    if let (Some((s, days)), true) = (get(25, Pacer::Predictive), agents.contains(&25)) {
        line(
            s.occupancy.mean >= 85.0,
            format!(
                "25 agents: occupancy ≥ 85 % (mean {:.1} %)",
                s.occupancy.mean
            ),
        );
        line(
            s.talk_min_per_agent_hour.mean >= 47.0,
            format!(
                "25 agents: ≥ 47 talk min per agent-hour (mean {:.1})",
                s.talk_min_per_agent_hour.mean
            ),
        );
        let worst = s.abandon_us.max.max(s.abandon_uk.max);
        line(
            worst <= 3.0,
            format!("25 agents: every day ≤ 3.0 % in both formulas (worst day {worst:.2} %)"),
        );
        let mean = s.abandon_us.mean.max(s.abandon_uk.mean);
        line(
            mean <= 2.5,
            format!(
                "25 agents: mean ≤ 2.5 % (US {:.2} %, UK {:.2} %)",
                s.abandon_us.mean, s.abandon_uk.mean
            ),
        );
        if let Some((_, vici)) = get(25, Pacer::VicidialTapered) {
            let g = gain(days, vici);
            line(
                g >= 15.0,
                format!("25 agents: ≥ 15 points over the VICIdial replica ({g:+.1})"),
            );
        }
    }
    for (n, min) in [(10, 77.0), (100, 90.0)] {
        if let Some((s, _)) = get(n, Pacer::Predictive) {
            line(
                s.occupancy.mean >= min,
                format!(
                    "{n} agents: occupancy ≥ {min:.0} % (mean {:.1} %)",
                    s.occupancy.mean
                ),
            );
        }
    }
    for n in agents {
        if let Some((s, _)) = get(*n, Pacer::Predictive) {
            let worst = s.abandon_us.max.max(s.abandon_uk.max);
            if *n == 5 || worst > 3.0 {
                line(
                    worst <= 3.0,
                    format!("{n} agents: never above 3 % (worst day {worst:.2} %)"),
                );
            }
        }
    }
}
