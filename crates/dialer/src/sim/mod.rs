//! The day simulation and its reports: [`simulate`] one day of a [`Scenario`] with one pacer,
//! [`run_scenario`] every pacer over the scenario's seeds and print the table.

mod scenario;
mod world;

pub use scenario::{
    Amd, AnswerJump, Break, Duration, HumanAnswer, Outcomes, Retry, Scenario, Zone,
};
pub use world::{simulate, simulate_traced, simulate_with, DayReport, Slot};

use crate::pacer::Pacer;
use crate::DialerError;
use std::fmt::Write as _;

/// FNV-1a 64 of the report's JSON: equal hashes mean byte-identical reports.
pub fn report_hash(r: &DayReport) -> u64 {
    let json = serde_json::to_string(r).expect("a report serialises");
    json.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Mean, min and max of one figure over seeds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    pub mean: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    pub fn of(xs: impl IntoIterator<Item = f64>) -> Spread {
        let (mut n, mut sum, mut min, mut max) = (0usize, 0.0, f64::INFINITY, f64::NEG_INFINITY);
        for x in xs {
            n += 1;
            sum += x;
            min = min.min(x);
            max = max.max(x);
        }
        if n == 0 {
            return Spread {
                mean: 0.0,
                min: 0.0,
                max: 0.0,
            };
        }
        Spread {
            mean: sum / n as f64,
            min,
            max,
        }
    }
}

/// One pacer at one agent count, over the seeds.
#[derive(Debug, Clone)]
pub struct Summary {
    pub agents: u32,
    pub pacer: String,
    pub days: usize,
    pub occupancy: Spread,
    pub talk_min_per_agent_hour: Spread,
    pub abandon_us: Spread,
    pub abandon_uk: Spread,
    pub worst_hour: Spread,
    pub connects_per_agent_hour: Spread,
    pub mean_wait_s: Spread,
    /// Compliance counters summed over the days (must be 0).
    pub violations: u64,
}

impl Summary {
    /// Summarises days of one pacer at one agent count.
    pub fn of(days: &[DayReport]) -> Summary {
        let s = |f: fn(&DayReport) -> f64| Spread::of(days.iter().map(f));
        Summary {
            agents: days.first().map_or(0, |d| d.agents),
            pacer: days.first().map_or_else(String::new, |d| d.pacer.clone()),
            days: days.len(),
            occupancy: s(|d| 100.0 * d.occupancy),
            talk_min_per_agent_hour: s(|d| d.talk_min_per_agent_hour),
            abandon_us: s(|d| d.abandon_us),
            abandon_uk: s(|d| d.abandon_uk),
            worst_hour: s(|d| d.worst_hour),
            connects_per_agent_hour: s(|d| d.connects_per_agent_hour),
            mean_wait_s: s(|d| d.mean_wait_s),
            violations: days
                .iter()
                .map(|d| d.calls_outside_hours + d.redials_within_lockout)
                .sum(),
        }
    }
}

/// The table header of [`table_row`].
pub fn table_header() -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| agents | pacer | occupancy % | talk min/agent-h | US abandon % | UK abandon % | worst hour % | connects/agent-h | wait s | viol. |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|");
    s
}

/// One row: each cell is `mean (min–max)` over the seeds.
pub fn table_row(x: &Summary) -> String {
    let c = |s: Spread, p: usize| format!("{:.p$} ({:.p$}–{:.p$})", s.mean, s.min, s.max);
    format!(
        "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
        x.agents,
        x.pacer,
        c(x.occupancy, 1),
        c(x.talk_min_per_agent_hour, 1),
        c(x.abandon_us, 2),
        c(x.abandon_uk, 2),
        c(x.worst_hour, 2),
        c(x.connects_per_agent_hour, 1),
        c(x.mean_wait_s, 0),
        x.violations
    )
}

/// Every pacer over the scenario's seeds, one day each: the days, grouped by pacer in
/// [`Pacer::ALL`] order.
pub fn run_days(scenario: &Scenario) -> Vec<Vec<DayReport>> {
    Pacer::ALL
        .iter()
        .map(|&p| {
            scenario
                .seeds
                .iter()
                .map(|&seed| simulate(scenario, p, seed))
                .collect()
        })
        .collect()
}

/// The printed report of a scenario at its own agent count: the table of every pacer over
/// its seeds, and the predictive pacer's gain over the others on the same seeds.
pub fn run_scenario(scenario: &Scenario) -> Result<String, DialerError> {
    run_scenario_at(scenario, &[scenario.agents])
}

/// [`run_scenario`] at each of these agent counts (one table, a block of rows per count).
pub fn run_scenario_at(scenario: &Scenario, agents: &[u32]) -> Result<String, DialerError> {
    scenario.validate()?;
    if agents.is_empty() || agents.contains(&0) {
        return Err(DialerError::Invalid(
            "agent counts must be one or more positive numbers".into(),
        ));
    }
    let counts = agents
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let mut out = format!(
        "{counts} agents, {} seeds ({}), one day each; mean (min–max) over the seeds\n\n",
        scenario.seeds.len(),
        seed_list(&scenario.seeds)
    );
    out.push_str(&table_header());
    let mut gains = String::new();
    for &n in agents {
        let at_n = Scenario {
            agents: n,
            ..scenario.clone()
        };
        let days = run_days(&at_n);
        for d in &days {
            out.push_str(&table_row(&Summary::of(d)));
        }
        if let [ours, progressive, vici] = &days[..] {
            let _ = writeln!(
                gains,
                "{n} agents: predictive − progressive {:+.1} occupancy points, predictive − vicidial_tapered {:+.1}",
                gain(ours, progressive),
                gain(ours, vici)
            );
        }
    }
    out.push_str("\nGain on the same seeds (mean of per-seed differences):\n");
    out.push_str(&gains);
    Ok(out)
}

/// Mean over seeds of the occupancy difference in points, `a − b` (same seeds, same order).
pub fn gain(a: &[DayReport], b: &[DayReport]) -> f64 {
    Spread::of(
        a.iter()
            .zip(b)
            .map(|(x, y)| 100.0 * (x.occupancy - y.occupancy)),
    )
    .mean
}

fn seed_list(seeds: &[u64]) -> String {
    match seeds {
        [] => "none".into(),
        [a] => a.to_string(),
        _ if seeds.windows(2).all(|w| w[1] == w[0] + 1) => {
            format!("{}–{}", seeds[0], seeds[seeds.len() - 1])
        }
        _ => seeds
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(","),
    }
}

/// Reads a JSON scenario file and returns the printed report of [`run_scenario`] — the hook
/// for `switchboard simulate dialer --scenario FILE`.
pub fn run_scenario_file(path: impl AsRef<std::path::Path>) -> Result<String, DialerError> {
    let scenario = Scenario::from_file(path.as_ref())?;
    run_scenario(&scenario)
}
