//! A replica of VICIdial's ADAPT_TAPERED pacing as DIALER-NOTES 2.2 reads it from
//! `AST_VDauto_dial.pl` and `AST_VDadapt.pl`, at the defaults (intensity 0, no
//! `dl_diff_target`, no `dial_level_threshold`, `available_only_ratio_tally` off):
//!
//! - every 2.5 s: `agents = READY + INCALL`, `goal = round(level × agents)`,
//!   `make = goal − calls in progress (ringing, waiting, talking)`;
//! - every 15 s, on fifteen one-second samples: `m = (avg READY − avg waiting) / avg agents`,
//!   `level = clamp(level × (1 + m), 1.0, 3.0)`; more than 20 calls and over 50 % drops in the
//!   last minute halve it; more than 50 calls today and a day's drop rate over 3 % of answers
//!   multiply it by `(latest_server_time − HHMM) / 1000` (at most 1; 1.0 after the latest
//!   time) — TAPERED. Never below 1.0.
//!
//! It is a peer to compare against, not a recommendation.

use super::{cap, Pacing};
use crate::state::State;
use crate::types::{Decision, Millis, Mode};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VicidialConfig {
    /// `auto_dial_level` at the start of the day.
    pub start_level: f64,
    /// `adaptive_maximum_level`.
    pub max_level: f64,
    /// `adaptive_dropped_percentage`.
    pub dropped_percentage: f64,
    /// `adaptive_latest_server_time`, HHMM local.
    pub latest_server_time: u32,
    /// The dialing loop, ms (`loop_delay`).
    pub loop_ms: Millis,
    /// The adaptation period, ms.
    pub adapt_ms: Millis,
}

impl Default for VicidialConfig {
    fn default() -> Self {
        VicidialConfig {
            start_level: 1.0,
            max_level: 3.0,
            dropped_percentage: 3.0,
            latest_server_time: 2100,
            loop_ms: 2500,
            adapt_ms: 15_000,
        }
    }
}

#[derive(Debug, Clone)]
pub struct VicidialTapered {
    cfg: VicidialConfig,
    level: f64,
    next_loop: Option<Millis>,
    next_adapt: Option<Millis>,
    next_sample: Option<Millis>,
    /// Sums of the one-second samples since the last adaptation: ready, waiting, agents, n.
    samples: (f64, f64, f64, u32),
}

impl VicidialTapered {
    pub fn new(cfg: VicidialConfig) -> Self {
        VicidialTapered {
            level: cfg.start_level.max(1.0),
            cfg,
            next_loop: None,
            next_adapt: None,
            next_sample: None,
            samples: (0.0, 0.0, 0.0, 0),
        }
    }

    /// The current dial level.
    pub fn level(&self) -> f64 {
        self.level
    }

    fn adapt(&mut self, s: &State, now: Millis) {
        let (ready, waiting, agents, n) = self.samples;
        self.samples = (0.0, 0.0, 0.0, 0);
        if n > 0 && agents > 0.0 {
            let m = (ready - waiting) / agents;
            self.level = (self.level * (1.0 + m)).clamp(1.0, self.cfg.max_level);
        }
        let (dialled, answers, drops) = s.last_minute();
        if dialled > 20 && answers > 0 && 100.0 * f64::from(drops) / f64::from(answers) > 50.0 {
            self.level /= 2.0;
        }
        let (a, d, _, _) = s.today_counts(now);
        if s.dialled_today() > 50
            && a > 0
            && 100.0 * f64::from(d) / f64::from(a) > self.cfg.dropped_percentage
        {
            let minute = s.local_minute_of_day(now);
            let hhmm = minute / 60 * 100 + minute % 60;
            if hhmm >= self.cfg.latest_server_time {
                self.level = 1.0;
            } else {
                let f = f64::from(self.cfg.latest_server_time - hhmm) / 1000.0;
                self.level *= f.min(1.0);
            }
        }
        self.level = self.level.max(1.0);
    }
}

impl Pacing for VicidialTapered {
    fn name(&self) -> &'static str {
        "vicidial_tapered"
    }

    fn decide(&mut self, s: &State, now: Millis) -> Decision {
        if self.next_sample.is_none_or(|t| now >= t) {
            let ready = f64::from(s.free_agents());
            self.samples.0 += ready;
            self.samples.1 += f64::from(s.waiting_calls());
            self.samples.2 += ready + f64::from(s.talking_agents());
            self.samples.3 += 1;
            self.next_sample = Some(now + 1000);
        }
        if self.next_adapt.is_none_or(|t| now >= t) {
            if self.next_adapt.is_some() {
                self.adapt(s, now);
            }
            self.next_adapt = Some(now + self.cfg.adapt_ms);
        }
        if self.next_loop.is_some_and(|t| now < t) {
            return Decision::none(Mode::Idle);
        }
        self.next_loop = Some(now + self.cfg.loop_ms);
        let agents = s.free_agents() + s.talking_agents();
        let goal = (self.level * f64::from(agents)).round() as u32;
        let calls = s.ringing_calls() + s.waiting_calls() + s.talking_agents();
        let dial = cap(s, goal.saturating_sub(calls));
        Decision {
            dial,
            mode: Mode::Predictive,
            level: self.level,
        }
    }
}
