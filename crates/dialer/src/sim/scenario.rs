//! The day simulation's parameters, with defaults from DIALER-NOTES 4.1 and the calibration
//! settings of 4.4 (live 22 %, machine 18 %, busy 5 %, fail 8 %, no answer 47 % at a 25 s ring
//! timeout; bimodal ring; talk lognormal mean 180 s, CV 1; wrap 15 s, CV 0.5; the 2 s rule).
//! A scenario file is JSON; every field is optional.

use crate::config::Config;
use crate::pacer::VicidialConfig;
use crate::DialerError;
use serde::{Deserialize, Serialize};

/// A local clock time, "HH:MM".
pub(crate) fn minutes(hhmm: &str) -> Result<u32, DialerError> {
    let bad = || DialerError::Invalid(format!("{hhmm:?} is not a time of day (HH:MM)"));
    let (h, m) = hhmm.split_once(':').ok_or_else(bad)?;
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 24 || m > 59 || h * 60 + m > 24 * 60 {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// A lead's time zone and its share of the list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Zone {
    pub utc_offset_minutes: i32,
    pub share: f64,
}

/// One break every agent takes (a time in the call center's zone, ± jitter).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Break {
    pub at: String,
    pub minutes: f64,
    pub jitter_minutes: f64,
}

/// Outcome shares of a dial; no answer is the rest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Outcomes {
    pub human: f64,
    pub machine: f64,
    pub busy: f64,
    pub failed: f64,
}

impl Default for Outcomes {
    fn default() -> Self {
        Outcomes {
            human: 0.22,
            machine: 0.18,
            busy: 0.05,
            failed: 0.08,
        }
    }
}

/// From `at` (call-center time) on, people answer more often: the human share becomes
/// `human`, taken from the no-answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnswerJump {
    pub at: String,
    pub human: f64,
}

/// Ringing time before a person answers (after the post-dial delay), seconds: a few pick up
/// at once, most after 6–10 s or 18–22 s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HumanAnswer {
    pub instant_share: f64,
    pub fast_share: f64,
    pub fast_s: [f64; 2],
    pub slow_s: [f64; 2],
}

impl Default for HumanAnswer {
    fn default() -> Self {
        HumanAnswer {
            instant_share: 0.05,
            fast_share: 0.62,
            fast_s: [6.0, 10.0],
            slow_s: [18.0, 22.0],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Amd {
    /// Seconds after a machine picks up until the AMD decides.
    pub detect_s: f64,
    /// Share of people the AMD calls a machine (hung up on: silent calls).
    pub false_positive: f64,
    /// Share of machines the AMD lets through to an agent as a person.
    pub false_negative: f64,
    /// Seconds an agent spends on a machine that got through (then a 2 s wrap-up).
    pub machine_at_agent_s: f64,
}

impl Default for Amd {
    fn default() -> Self {
        Amd {
            detect_s: 3.0,
            false_positive: 0.005,
            false_negative: 0.10,
            machine_at_agent_s: 6.0,
        }
    }
}

/// A lognormal duration by its mean and coefficient of variation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Duration {
    pub mean_s: f64,
    pub cv: f64,
    pub max_s: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Retry {
    /// Attempts per lead in the day.
    pub max_attempts: u32,
    pub no_answer_minutes: f64,
    pub busy_minutes: f64,
    pub machine_minutes: f64,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            max_attempts: 4,
            no_answer_minutes: 60.0,
            busy_minutes: 15.0,
            machine_minutes: 120.0,
        }
    }
}

/// Everything one simulated day needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Scenario {
    /// Agents on the shift.
    pub agents: u32,
    /// Seeds a report runs (one day each).
    pub seeds: Vec<u64>,
    /// The call center's zone: shift, breaks and the answer jump are in its clock.
    pub center_utc_offset_minutes: i32,
    pub shift_start: String,
    pub shift_end: String,
    pub breaks: Vec<Break>,
    /// Share of agents who log in late (up to `late_minutes` after the start).
    pub late_share: f64,
    pub late_minutes: f64,
    /// Share of agents who leave early (up to `early_minutes` before the end).
    pub early_share: f64,
    pub early_minutes: f64,
    pub zones: Vec<Zone>,
    /// Local calling hours of the called party, [from, to).
    pub calling_hours: [String; 2],
    pub outcomes: Outcomes,
    pub answer_jump: Option<AnswerJump>,
    pub post_dial_delay_s: [f64; 2],
    pub ring_timeout_s: f64,
    pub human_answer: HumanAnswer,
    /// Ringing before a machine picks up, seconds.
    pub machine_answer_s: [f64; 2],
    pub busy_s: [f64; 2],
    pub failed_s: [f64; 2],
    pub amd: Amd,
    pub talk: Duration,
    pub wrap: Duration,
    /// Seconds a live answer waits for an agent before it is abandoned.
    pub abandon_after_s: f64,
    pub retry: Retry,
    /// No redial of an abandoned number within this many hours.
    pub abandon_lockout_hours: f64,
    /// How often the dialer is asked, ms.
    pub tick_ms: i64,
    /// Our controller's configuration (its `utc_offset_minutes` is the center's).
    pub dialer: Config,
    pub vicidial: VicidialConfig,
}

impl Default for Scenario {
    fn default() -> Self {
        let brk = |at: &str, minutes: f64, jitter_minutes: f64| Break {
            at: at.into(),
            minutes,
            jitter_minutes,
        };
        let zone = |utc_offset_minutes: i32, share: f64| Zone {
            utc_offset_minutes,
            share,
        };
        Scenario {
            agents: 25,
            seeds: (1..=20).collect(),
            center_utc_offset_minutes: -300,
            shift_start: "08:00".into(),
            shift_end: "17:00".into(),
            breaks: vec![
                brk("10:00", 15.0, 20.0),
                brk("12:15", 30.0, 30.0),
                brk("14:45", 15.0, 20.0),
            ],
            late_share: 0.1,
            late_minutes: 90.0,
            early_share: 0.1,
            early_minutes: 90.0,
            zones: vec![
                zone(-300, 0.45),
                zone(-360, 0.30),
                zone(-420, 0.10),
                zone(-480, 0.15),
            ],
            calling_hours: ["08:00".into(), "21:00".into()],
            outcomes: Outcomes::default(),
            answer_jump: Some(AnswerJump {
                at: "15:30".into(),
                human: 0.30,
            }),
            post_dial_delay_s: [2.0, 4.0],
            ring_timeout_s: 25.0,
            human_answer: HumanAnswer::default(),
            machine_answer_s: [12.0, 24.0],
            busy_s: [1.0, 4.0],
            failed_s: [0.5, 3.0],
            amd: Amd::default(),
            talk: Duration {
                mean_s: 180.0,
                cv: 1.0,
                max_s: 3600.0,
            },
            wrap: Duration {
                mean_s: 15.0,
                cv: 0.5,
                max_s: 300.0,
            },
            abandon_after_s: 2.0,
            retry: Retry::default(),
            abandon_lockout_hours: 72.0,
            tick_ms: 1000,
            dialer: Config {
                utc_offset_minutes: -300,
                ..Config::default()
            },
            // VICIdial's help: "enter in the hour and minute that you will stop calling".
            vicidial: VicidialConfig {
                latest_server_time: 1700,
                ..VicidialConfig::default()
            },
        }
    }
}

impl Scenario {
    /// Reads a JSON scenario; missing fields take the defaults.
    pub fn from_file(path: &std::path::Path) -> Result<Self, DialerError> {
        let text = std::fs::read_to_string(path).map_err(|source| DialerError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let s: Scenario = serde_json::from_str(&text).map_err(|source| DialerError::Scenario {
            path: path.display().to_string(),
            source,
        })?;
        s.validate()?;
        Ok(s)
    }

    pub fn validate(&self) -> Result<(), DialerError> {
        let bad = |what: &str| Err(DialerError::Invalid(what.into()));
        self.dialer.validate()?;
        let (start, end) = (minutes(&self.shift_start)?, minutes(&self.shift_end)?);
        if start >= end {
            return bad("shift_start must be before shift_end");
        }
        let (from, to) = (
            minutes(&self.calling_hours[0])?,
            minutes(&self.calling_hours[1])?,
        );
        if from >= to {
            return bad("calling_hours must be [from, to) with from before to");
        }
        for b in &self.breaks {
            minutes(&b.at)?;
        }
        if let Some(j) = &self.answer_jump {
            minutes(&j.at)?;
        }
        let o = &self.outcomes;
        let peak = self
            .answer_jump
            .as_ref()
            .map_or(o.human, |j| j.human.max(o.human));
        if [o.human, o.machine, o.busy, o.failed]
            .iter()
            .any(|x| *x < 0.0)
            || peak + o.machine + o.busy + o.failed > 1.0
        {
            return bad("outcome shares must be non-negative and add up to at most 1");
        }
        if self.zones.is_empty() || self.zones.iter().any(|z| z.share <= 0.0) {
            return bad("zones need at least one zone, every share positive");
        }
        if self.tick_ms <= 0 {
            return bad("tick_ms must be positive");
        }
        if self.talk.mean_s <= 0.0 || self.wrap.mean_s <= 0.0 {
            return bad("talk and wrap means must be positive");
        }
        if self.retry.max_attempts == 0 {
            return bad("retry.max_attempts must be at least 1");
        }
        Ok(())
    }
}
