//! `switchboard simulate dialer --scenario FILE`: seeded days of a dialer campaign on a
//! virtual clock, our predictive pacer beside progressive and a VICIdial ADAPT_TAPERED replica
//! on the same random draws; prints the table of per-day figures (mean, min–max over seeds).

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use switchboard_dialer::sim::{run_scenario_at, Scenario};

#[derive(Subcommand)]
pub enum SimulateCommand {
    /// Simulated dialer days (bench/dialer/scenario.json is the reference day).
    Dialer(DialerArgs),
}

#[derive(Args)]
pub struct DialerArgs {
    /// The scenario, a JSON file (`bench/dialer/scenario.json`).
    #[arg(long)]
    scenario: PathBuf,
    /// Seeds instead of the scenario's: a range (`1-20`) or a list (`1,5,9`).
    #[arg(long)]
    seeds: Option<String>,
    /// Agent counts instead of the scenario's one (`5,10,25,50,100`).
    #[arg(long, value_delimiter = ',')]
    agents: Option<Vec<u32>>,
}

fn parse_seeds(s: &str) -> anyhow::Result<Vec<u64>> {
    let num = |x: &str| {
        x.trim()
            .parse::<u64>()
            .with_context(|| format!("bad seed {x:?}"))
    };
    let seeds = match s.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (num(a)?, num(b)?);
            if a > b {
                bail!("empty seed range {s:?}");
            }
            (a..=b).collect()
        }
        None => s.split(',').map(num).collect::<anyhow::Result<Vec<_>>>()?,
    };
    Ok(seeds)
}

pub fn run(command: SimulateCommand) -> anyhow::Result<()> {
    match command {
        SimulateCommand::Dialer(args) => {
            let mut scenario = Scenario::from_file(&args.scenario)?;
            if let Some(s) = &args.seeds {
                scenario.seeds = parse_seeds(s)?;
            }
            let agents = args.agents.unwrap_or_else(|| vec![scenario.agents]);
            print!("{}", run_scenario_at(&scenario, &agents)?);
            Ok(())
        }
    }
}
