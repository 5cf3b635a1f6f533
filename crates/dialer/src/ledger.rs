//! Abandonment accounting from one event stream (DIALER-NOTES 1.1–1.5): the US figure per
//! campaign over 30 days, the UK (Ofcom) figure per calendar day with the AMD adjustment, and
//! the worst rolling hour of the day.

use crate::types::Millis;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

const DAY_MS: Millis = 86_400_000;
const HOUR_MS: Millis = 3_600_000;
/// The US rule's window, in calendar days.
pub const US_WINDOW_DAYS: i64 = 30;
/// A rolling hour with fewer human answers than this is too small to rank as the worst hour.
pub const MIN_ANSWERS_PER_HOUR: u32 = 30;

/// US (FCC/FTC) figure, percent: abandoned over human-answered calls.
pub fn us_rate(drops: f64, answers: f64) -> f64 {
    if answers > 0.0 {
        100.0 * drops / answers
    } else {
        0.0
    }
}

/// UK (Ofcom, since Dec 2015) figure, percent:
/// `drops_adj = drops × (1 − AM_agent / (live_agent + AM_agent))`, plus the silent calls the
/// AMD made (its false positives, estimated or counted), over `live_agent + drops_adj + silent`.
pub fn uk_rate(drops: f64, live_agent: f64, am_agent: f64, silent: f64) -> f64 {
    let share_machine = if live_agent + am_agent > 0.0 {
        am_agent / (live_agent + am_agent)
    } else {
        0.0
    };
    let adj = drops * (1.0 - share_machine) + silent;
    if live_agent + adj > 0.0 {
        100.0 * adj / (live_agent + adj)
    } else {
        0.0
    }
}

/// One calendar day's counters and figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct DayFigures {
    /// Days since 1970-01-01 in the campaign's time zone.
    pub day: i64,
    /// Calls answered by a human (as the AMD said).
    pub answers: u32,
    /// Human answers that found no agent in time.
    pub drops: u32,
    /// Human answers connected to an agent.
    pub bridged: u32,
    /// Of those, answering machines the agent found (Ofcom's `AM_agent`).
    pub machine_at_agent: u32,
    /// Calls the AMD called a machine.
    pub amd_machines: u32,
    /// Percent, [`us_rate`].
    pub us: f64,
    /// Percent, [`uk_rate`] with the configured estimate of AMD false positives.
    pub uk: f64,
    /// Worst rolling hour of the day (US formula, full hours — from an hour after the day's
    /// first answer — with at least [`MIN_ANSWERS_PER_HOUR`] answers), percent.
    pub worst_hour: f64,
}

/// The campaign's abandonment as of now. Percentages in percent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Abandonment {
    /// US: over the campaign's last 30 calendar days (today included).
    pub us_30_days: f64,
    /// UK: today, AMD-adjusted.
    pub uk_today: f64,
    /// US formula, today only.
    pub us_today: f64,
    /// The larger of `us_30_days` and `uk_today`: what the controller steers and guards.
    pub worst: f64,
    /// Worst rolling hour today (US formula).
    pub worst_hour_today: f64,
    /// The days of the US window that had any calls, oldest first, today last.
    pub days: Vec<DayFigures>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    answers: u32,
    drops: u32,
    bridged: u32,
    machine_at_agent: u32,
    amd_machines: u32,
    worst_hour: f64,
    first: Option<Millis>,
}

/// Counts per day and a rolling hour of outcomes.
#[derive(Debug, Clone)]
pub(crate) struct Ledger {
    offset_ms: Millis,
    fp_rate: f64,
    days: BTreeMap<i64, Counts>,
    /// Human answers resolved in the last hour: (time, dropped).
    hour: VecDeque<(Millis, bool)>,
    hour_drops: u32,
}

impl Ledger {
    pub(crate) fn new(utc_offset_minutes: i32, fp_rate: f64) -> Self {
        Ledger {
            offset_ms: Millis::from(utc_offset_minutes) * 60_000,
            fp_rate,
            days: BTreeMap::new(),
            hour: VecDeque::new(),
            hour_drops: 0,
        }
    }

    pub(crate) fn day_of(&self, now: Millis) -> i64 {
        (now + self.offset_ms).div_euclid(DAY_MS)
    }

    fn today(&mut self, now: Millis) -> &mut Counts {
        let day = self.day_of(now);
        if !self.days.contains_key(&day) {
            let keep_from = day - US_WINDOW_DAYS + 1;
            self.days = self.days.split_off(&keep_from);
            self.hour.clear();
            self.hour_drops = 0;
        }
        self.days.entry(day).or_default()
    }

    pub(crate) fn answered_human(&mut self, now: Millis) {
        self.today(now).answers += 1;
    }

    pub(crate) fn answered_machine(&mut self, now: Millis) {
        self.today(now).amd_machines += 1;
    }

    pub(crate) fn machine_at_agent(&mut self, now: Millis) {
        self.today(now).machine_at_agent += 1;
    }

    pub(crate) fn bridged(&mut self, now: Millis) {
        self.today(now).bridged += 1;
        self.roll(now, false);
    }

    pub(crate) fn dropped(&mut self, now: Millis) {
        self.today(now).drops += 1;
        self.roll(now, true);
    }

    fn roll(&mut self, now: Millis, dropped: bool) {
        self.hour.push_back((now, dropped));
        self.hour_drops += u32::from(dropped);
        while let Some(&(t, d)) = self.hour.front() {
            if t > now - HOUR_MS {
                break;
            }
            self.hour.pop_front();
            self.hour_drops -= u32::from(d);
        }
        let n = self.hour.len() as u32;
        let rate = us_rate(f64::from(self.hour_drops), f64::from(n));
        let c = self.today(now);
        let first = *c.first.get_or_insert(now);
        if now >= first + HOUR_MS && n >= MIN_ANSWERS_PER_HOUR {
            c.worst_hour = c.worst_hour.max(rate);
        }
    }

    fn figures(&self, day: i64, c: &Counts) -> DayFigures {
        let silent = self.silent_estimate(c.answers);
        DayFigures {
            day,
            answers: c.answers,
            drops: c.drops,
            bridged: c.bridged,
            machine_at_agent: c.machine_at_agent,
            amd_machines: c.amd_machines,
            us: us_rate(f64::from(c.drops), f64::from(c.answers)),
            uk: uk_rate(
                f64::from(c.drops),
                f64::from(c.bridged - c.machine_at_agent.min(c.bridged)),
                f64::from(c.machine_at_agent),
                silent,
            ),
            worst_hour: c.worst_hour,
        }
    }

    /// Expected AMD false positives behind `answers` human verdicts.
    fn silent_estimate(&self, answers: u32) -> f64 {
        f64::from(answers) * self.fp_rate / (1.0 - self.fp_rate)
    }

    pub(crate) fn abandonment(&self, now: Millis) -> Abandonment {
        let today = self.day_of(now);
        let from = today - US_WINDOW_DAYS + 1;
        let days: Vec<DayFigures> = self
            .days
            .range(from..=today)
            .map(|(d, c)| self.figures(*d, c))
            .collect();
        let (mut drops, mut answers) = (0u64, 0u64);
        for d in &days {
            drops += u64::from(d.drops);
            answers += u64::from(d.answers);
        }
        let t = days
            .last()
            .filter(|d| d.day == today)
            .copied()
            .unwrap_or(DayFigures {
                day: today,
                ..DayFigures::default()
            });
        let us_30_days = us_rate(drops as f64, answers as f64);
        Abandonment {
            us_30_days,
            uk_today: t.uk,
            us_today: t.us,
            worst: us_30_days.max(t.uk),
            worst_hour_today: t.worst_hour,
            days,
        }
    }

    /// Today's raw counts for the controller's budget: (answers, drops, bridged, am_agent).
    pub(crate) fn today_counts(&self, now: Millis) -> (u32, u32, u32, u32) {
        self.days
            .get(&self.day_of(now))
            .map(|c| (c.answers, c.drops, c.bridged, c.machine_at_agent))
            .unwrap_or_default()
    }

    /// Counts over the US window: (answers, drops).
    pub(crate) fn window_counts(&self, now: Millis) -> (u64, u64) {
        let today = self.day_of(now);
        self.days
            .range(today - US_WINDOW_DAYS + 1..=today)
            .fold((0, 0), |(a, d), (_, c)| {
                (a + u64::from(c.answers), d + u64::from(c.drops))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uk_formula_matches_ofcom_annex() {
        // 10 drops, 90 live at agents, 10 machines at agents: drops_adj = 10 × 0.9 = 9.
        let r = uk_rate(10.0, 90.0, 10.0, 0.0);
        assert!((r - 100.0 * 9.0 / 99.0).abs() < 1e-9);
        assert_eq!(uk_rate(0.0, 0.0, 0.0, 0.0), 0.0);
    }

    #[test]
    fn days_roll_and_the_window_keeps_thirty() {
        let mut l = Ledger::new(0, 0.0);
        for day in 0..40 {
            let t = day * DAY_MS + 1000;
            l.answered_human(t);
            l.dropped(t);
        }
        let a = l.abandonment(39 * DAY_MS + 5000);
        assert_eq!(a.days.len(), 30);
        assert_eq!(l.window_counts(39 * DAY_MS), (30, 30));
        assert!((a.us_30_days - 100.0).abs() < 1e-9);
    }
}
