//! A campaign's pacing configuration: Webitel's predictive-dialer knobs where they apply
//! (CC-NOTES 3.4), plus the few this controller needs that Webitel does not have.

use serde::{Deserialize, Serialize};

/// Webitel's outbound queue types this crate paces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueType {
    /// Type 4: one customer call per free agent, never more.
    Progressive,
    /// Type 5: dials ahead of the agents, steered on the abandonment budget.
    Predictive,
}

impl QueueType {
    /// Webitel's numeric queue type.
    pub fn webitel_id(self) -> u8 {
        match self {
            QueueType::Progressive => 4,
            QueueType::Predictive => 5,
        }
    }

    pub fn from_webitel_id(id: u8) -> Option<Self> {
        match id {
            4 => Some(QueueType::Progressive),
            5 => Some(QueueType::Predictive),
            _ => None,
        }
    }
}

/// Pacing configuration of one campaign (one queue). Percentages are in percent (2.5 = 2.5 %),
/// as Webitel stores them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    pub queue_type: QueueType,
    /// Webitel `max_calls`: customer calls of the campaign at once (ringing, waiting for an
    /// agent, or talking). 0 = no calls at all, negative = unlimited.
    pub max_calls: i64,
    /// Webitel `max_agent_line`: calls in progress (ringing or waiting) per agent the
    /// controller counts on (free now or expected to free within the look-ahead).
    pub max_agent_line: u32,
    /// Webitel `target_abandoned_rate`, percent: the worst of the US and UK figures is steered
    /// to this.
    pub target_abandoned_rate: f64,
    /// Webitel `max_abandoned_rate`, percent: the hard guard. At or above it (today's UK figure
    /// or the US 30-day figure) the campaign dials progressively.
    pub max_abandoned_rate: f64,
    /// Webitel `load_factor`: the gain of the abandonment loop; 10 is the calibrated gain,
    /// 20 doubles it, 5 halves it.
    pub load_factor: f64,
    /// Webitel `min_attempts`: progressive until the statistics window holds this many
    /// finished attempts.
    pub min_attempts: u32,
    /// Webitel `statistic_time`, minutes: the window of the answer statistics (answer
    /// probability, time to answer, AMD share).
    pub statistic_time: u32,
    /// Progressive below this many logged-in agents (free, talking or in wrap-up).
    pub min_agents: u32,
    /// Seconds a live answer may wait for an agent before it counts as abandoned (the US and
    /// UK rules say 2).
    pub abandon_after_s: f64,
    /// The campaign's calendar day for the UK (and per-day) figures: minutes east of UTC.
    pub utc_offset_minutes: i32,
    /// Reasoned estimate of AMD false positives: the share of human answers the AMD wrongly
    /// calls a machine (silent calls, added to the UK figure). 0 without AMD.
    pub amd_false_positive_rate: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            queue_type: QueueType::Predictive,
            max_calls: -1,
            max_agent_line: 5,
            target_abandoned_rate: 2.5,
            max_abandoned_rate: 3.0,
            load_factor: 10.0,
            min_attempts: 3,
            statistic_time: 60,
            min_agents: 2,
            abandon_after_s: 2.0,
            utc_offset_minutes: 0,
            amd_false_positive_rate: 0.005,
        }
    }
}

impl Config {
    /// Refuses settings the controller cannot work with.
    pub fn validate(&self) -> Result<(), crate::DialerError> {
        let bad = |what: &'static str| Err(crate::DialerError::Invalid(what.into()));
        if !(self.target_abandoned_rate > 0.0 && self.target_abandoned_rate <= 100.0) {
            return bad("target_abandoned_rate must be in (0, 100]");
        }
        if !(self.max_abandoned_rate >= self.target_abandoned_rate
            && self.max_abandoned_rate <= 100.0)
        {
            return bad("max_abandoned_rate must be in [target_abandoned_rate, 100]");
        }
        if !(self.load_factor > 0.0 && self.load_factor.is_finite()) {
            return bad("load_factor must be positive");
        }
        if self.statistic_time == 0 {
            return bad("statistic_time must be at least one minute");
        }
        if self.max_agent_line == 0 {
            return bad("max_agent_line must be at least 1");
        }
        if !(self.abandon_after_s >= 0.0 && self.abandon_after_s.is_finite()) {
            return bad("abandon_after_s must be a non-negative number");
        }
        if !(0.0..0.5).contains(&self.amd_false_positive_rate) {
            return bad("amd_false_positive_rate must be in [0, 0.5)");
        }
        Ok(())
    }
}
