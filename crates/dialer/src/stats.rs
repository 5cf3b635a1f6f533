//! The measured distributions the pacers read: answer probability and time to answer over the
//! statistics window, and the handle (talk + wrap-up) and wrap-up times of recent calls.
//! Everything is counts in fixed bins, so lookups are O(1) and results are exact replays.

use crate::types::{Millis, Unanswered};
use std::collections::VecDeque;

/// Resolution of the time-to-answer histograms.
const RING_BIN_MS: Millis = 500;
/// Calls resolve within this (ring timeouts are 15–60 s); later ones land in the last bin.
const RING_BINS: usize = 160;
/// Handle and wrap-up histograms: 1 s bins up to two hours.
const SERVICE_BINS: usize = 7200;
/// Samples kept of the handle and wrap-up times.
const SERVICE_SAMPLES: usize = 2000;
/// Fewer handle samples than this: busy agents are not counted on to free up.
const MIN_SERVICE_SAMPLES: usize = 20;
/// The short window of the answer rate is this share of `statistic_time` (at least 5 min):
/// the larger of the two rates is used, so a rise in answers is seen within minutes.
const SHORT_WINDOW_SHARE: f64 = 0.1;
const SHORT_WINDOW_MIN_MS: Millis = 300_000;
/// Attempts the short window needs before its answer rate counts.
const SHORT_WINDOW_MIN_ATTEMPTS: usize = 100;

/// The prior of the answer rate: `PRIOR_ATTEMPTS` pseudo-attempts at `PRIOR_HUMAN_RATE`.
const PRIOR_HUMAN_RATE: f64 = 0.5;
const PRIOR_ATTEMPTS: f64 = 40.0;

/// How a finished attempt resolved, for the statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resolution {
    Human,
    Machine,
    Other(Unanswered),
}

#[derive(Debug, Clone, Copy)]
struct Attempt {
    at: Millis,
    bin: usize,
    human: bool,
    machine: bool,
}

/// One sliding window of finished attempts.
#[derive(Debug, Clone)]
struct Window {
    span: Millis,
    items: VecDeque<Attempt>,
    resolved: Vec<u32>,
    human: Vec<u32>,
    humans: usize,
    machines: usize,
}

impl Window {
    fn new(span: Millis) -> Self {
        Window {
            span,
            items: VecDeque::new(),
            resolved: vec![0; RING_BINS],
            human: vec![0; RING_BINS],
            humans: 0,
            machines: 0,
        }
    }

    fn push(&mut self, a: Attempt) {
        self.resolved[a.bin] += 1;
        if a.human {
            self.human[a.bin] += 1;
            self.humans += 1;
        }
        self.machines += usize::from(a.machine);
        self.items.push_back(a);
    }

    fn expire(&mut self, now: Millis) {
        while let Some(a) = self.items.front().copied() {
            if a.at > now - self.span {
                break;
            }
            self.items.pop_front();
            self.resolved[a.bin] -= 1;
            if a.human {
                self.human[a.bin] -= 1;
                self.humans -= 1;
            }
            self.machines -= usize::from(a.machine);
        }
    }

    fn len(&self) -> usize {
        self.items.len()
    }
}

/// A ring buffer of durations (handle or wrap-up times) and their survival curve, refreshed
/// on demand. The curve is a Kaplan–Meier estimate that also counts the calls still going on
/// (censored at their time so far): early in the day only the short calls have ended, and
/// without them the estimate would think agents free up much sooner than they do.
#[derive(Debug, Clone)]
pub struct Service {
    samples: VecDeque<u32>,
    counts: Vec<u32>,
    /// Survival S(t) = P(D > t seconds), per 1 s bin.
    survival: Vec<f64>,
    sum_s: u64,
    /// The mean under the survival curve (censoring-aware), seconds.
    km_mean_s: f64,
    /// Bins of `survival` that were computed; past them the curve is flat.
    valid: usize,
}

impl Service {
    fn new() -> Self {
        Service {
            samples: VecDeque::with_capacity(SERVICE_SAMPLES),
            counts: vec![0; SERVICE_BINS],
            survival: vec![1.0; SERVICE_BINS],
            sum_s: 0,
            km_mean_s: 0.0,
            valid: 1,
        }
    }

    fn bin(ms: Millis) -> usize {
        ((ms.max(0) + 500) / 1000).min(SERVICE_BINS as Millis - 1) as usize
    }

    fn push(&mut self, ms: Millis) {
        let s = Self::bin(ms) as u32;
        if self.samples.len() == SERVICE_SAMPLES {
            if let Some(old) = self.samples.pop_front() {
                self.counts[old as usize] -= 1;
                self.sum_s -= u64::from(old);
            }
        }
        self.samples.push_back(s);
        self.counts[s as usize] += 1;
        self.sum_s += u64::from(s);
    }

    /// Rebuilds the survival curve from the samples and the calls in progress (`ongoing`,
    /// elapsed ms each).
    fn refresh(&mut self, ongoing: &[Millis]) {
        let longest_sample = self.samples.iter().copied().max().unwrap_or(0) as usize;
        let longest_ongoing = ongoing.iter().map(|&e| Self::bin(e)).max().unwrap_or(0);
        self.valid = longest_sample.max(longest_ongoing) + 1;
        let mut censored = vec![0u32; self.valid];
        for &e in ongoing {
            censored[Self::bin(e)] += 1;
        }
        let mut at_risk = (self.samples.len() + ongoing.len()) as f64;
        let mut surv = 1.0;
        let bins = self.counts.iter().zip(&censored);
        for (out, (&ended, &gone)) in self.survival.iter_mut().zip(bins) {
            let ended = f64::from(ended);
            if at_risk > 0.0 && ended > 0.0 {
                surv *= 1.0 - ended / at_risk;
            }
            *out = surv;
            at_risk -= ended + f64::from(gone);
        }
        let tail = (SERVICE_BINS - self.valid) as f64 * surv;
        self.km_mean_s = if self.samples.is_empty() {
            0.0
        } else {
            self.survival[..self.valid].iter().sum::<f64>() + tail
        };
    }

    fn n(&self) -> usize {
        self.samples.len()
    }

    /// The mean duration, seconds: under the survival curve once it was built (so calls still
    /// going on count), else the plain sample mean.
    fn mean_s(&self) -> f64 {
        if self.samples.is_empty() {
            0.0
        } else if self.km_mean_s > 0.0 {
            self.km_mean_s
        } else {
            self.sum_s as f64 / self.samples.len() as f64
        }
    }

    /// S(s): P(D > s seconds).
    fn survives(&self, s: f64) -> f64 {
        if s < 0.0 {
            return 1.0;
        }
        self.survival[(s as usize).min(self.valid - 1)]
    }

    /// D's remaining time, given it has lasted `elapsed` seconds. Where the curve runs out
    /// (too few calls that long) the tail is taken as exponential with the mean.
    fn after(&self, elapsed: f64) -> Conditional<'_> {
        let left = self.survives(elapsed);
        if left * (self.samples.len() as f64) < 5.0 {
            Conditional::Exponential(self.mean_s().max(1.0))
        } else {
            Conditional::Survival {
                service: self,
                at: elapsed,
                left,
            }
        }
    }
}

/// The chance that something (an agent's call, a ringing call's answer) happens within the
/// next `h` seconds, conditioned once on what is known now; [`Conditional::within`] is O(1).
#[derive(Debug, Clone, Copy)]
pub enum Conditional<'a> {
    /// Not counted on (no data yet).
    Never,
    /// Even odds at any horizon (wrap-up times not measured yet).
    Half,
    /// Memoryless with this mean, seconds (past the end of the measured curve).
    Exponential(f64),
    /// From a measured duration curve, `left` = P(lasting past `at`).
    Survival {
        service: &'a Service,
        at: f64,
        left: f64,
    },
    /// From the answer curves of the statistics window.
    Answer {
        stats: &'a Stats,
        at: f64,
        alive: f64,
        before: f64,
    },
}

impl Conditional<'_> {
    /// P(it happens within `h` more seconds).
    pub fn within(&self, h: f64) -> f64 {
        match *self {
            Conditional::Never => 0.0,
            Conditional::Half => 0.5,
            Conditional::Exponential(mean) => 1.0 - (-h / mean).exp(),
            Conditional::Survival { service, at, left } => {
                ((left - service.survives(at + h)) / left).clamp(0.0, 1.0)
            }
            Conditional::Answer {
                stats,
                at,
                alive,
                before,
            } => ((stats.cif[Stats::ring_bin(at + h)] - before) / alive).clamp(0.0, 1.0),
        }
    }
}

/// The campaign's measured distributions.
#[derive(Debug, Clone)]
pub struct Stats {
    long: Window,
    short: Window,
    handle: Service,
    wrap: Service,
    /// Refreshed views of the long window with the calls still ringing counted as censored
    /// (competing risks): `cif[b]` = P(a human answer by the end of ring bin b), `surv[b]` =
    /// P(still unresolved after bin b). Early in the day only the quick outcomes have come
    /// back; without the ringing calls the estimate would think a call that rang 12 s will
    /// never be answered.
    cif: Vec<f64>,
    surv: Vec<f64>,
    /// ∫ G over the ring bins (seconds), for [`Stats::human_answer_integral`].
    g_int: Vec<f64>,
    last_service_refresh: Option<Millis>,
}

/// Handle/wrap histograms are rebuilt at most this often (they move slowly).
const SERVICE_REFRESH_MS: Millis = 10_000;

impl Stats {
    pub(crate) fn new(statistic_time_min: u32) -> Self {
        let span = Millis::from(statistic_time_min) * 60_000;
        let short = ((span as f64 * SHORT_WINDOW_SHARE) as Millis).max(SHORT_WINDOW_MIN_MS);
        Stats {
            long: Window::new(span),
            short: Window::new(short.min(span)),
            handle: Service::new(),
            wrap: Service::new(),
            cif: vec![0.0; RING_BINS],
            surv: vec![1.0; RING_BINS],
            g_int: vec![0.0; RING_BINS],
            last_service_refresh: None,
        }
    }

    pub(crate) fn resolved(&mut self, now: Millis, ring_ms: Millis, how: Resolution) {
        let bin = ((ring_ms.max(0) / RING_BIN_MS) as usize).min(RING_BINS - 1);
        let a = Attempt {
            at: now,
            bin,
            human: how == Resolution::Human,
            machine: how == Resolution::Machine,
        };
        self.long.push(a);
        self.short.push(a);
    }

    pub(crate) fn handled(&mut self, handle_ms: Millis) {
        self.handle.push(handle_ms);
    }

    pub(crate) fn wrapped(&mut self, wrap_ms: Millis) {
        self.wrap.push(wrap_ms);
    }

    /// Whether the next [`Stats::rebuild`] rebuilds the handle and wrap-up curves (and so
    /// wants the calls in progress).
    pub(crate) fn service_due(&self, now: Millis) -> bool {
        self.last_service_refresh
            .is_none_or(|t| now - t >= SERVICE_REFRESH_MS)
    }

    /// Drops attempts that left the windows.
    pub(crate) fn expire(&mut self, now: Millis) {
        self.long.expire(now);
        self.short.expire(now);
    }

    /// Rebuilds the answer curves with the calls still ringing (`ringing`: ms since dialing
    /// each), and, when given, the handle and wrap-up curves with the calls in progress
    /// (`ongoing`: handle and wrap-up times so far; pass them when [`Stats::service_due`]).
    pub(crate) fn rebuild(
        &mut self,
        now: Millis,
        ringing: &[Millis],
        ongoing: Option<(&[Millis], &[Millis])>,
    ) {
        self.expire(now);
        let mut censored = [0u32; RING_BINS];
        for &e in ringing {
            censored[((e.max(0) / RING_BIN_MS) as usize).min(RING_BINS - 1)] += 1;
        }
        let mut at_risk = (self.long.len() + ringing.len()) as f64;
        let (mut surv, mut cif) = (1.0, 0.0);
        let bins = self
            .long
            .resolved
            .iter()
            .zip(&self.long.human)
            .zip(censored);
        for ((out_cif, out_surv), ((&ended, &human), gone)) in
            self.cif.iter_mut().zip(self.surv.iter_mut()).zip(bins)
        {
            if at_risk > 0.0 {
                cif += surv * f64::from(human) / at_risk;
                surv *= 1.0 - f64::from(ended) / at_risk;
            }
            *out_cif = cif;
            *out_surv = surv;
            at_risk -= f64::from(ended + gone);
        }
        let bin_s = RING_BIN_MS as f64 / 1000.0;
        let mut acc = 0.0;
        for b in 0..RING_BINS {
            self.g_int[b] = acc;
            acc += self.answer_share_of_bin(b) * bin_s;
        }
        if let Some((handle, wrap)) = ongoing {
            self.handle.refresh(handle);
            self.wrap.refresh(wrap);
            self.last_service_refresh = Some(now);
        }
    }

    /// Finished attempts in the statistics window.
    pub fn attempts(&self) -> usize {
        self.long.len()
    }

    /// P(a dial is answered by a human): the larger of the window's rate and the short
    /// window's (when it has enough attempts), so a rise is caught early and a fall slowly.
    /// Until the window is large, the rate leans on a pessimistic prior (half the dials
    /// answered by people), so a few lucky no-answers early on cannot blow up the dial level.
    pub fn human_rate(&self) -> f64 {
        let long = (self.long.humans as f64 + PRIOR_HUMAN_RATE * PRIOR_ATTEMPTS)
            / (self.long.len() as f64 + PRIOR_ATTEMPTS);
        if self.short.len() >= SHORT_WINDOW_MIN_ATTEMPTS {
            long.max(ratio(self.short.humans, self.short.len()))
        } else {
            long
        }
    }

    /// Share of answers the AMD called a machine.
    pub fn machine_share(&self) -> f64 {
        ratio(self.long.machines, self.long.machines + self.long.humans)
    }

    /// Mean handle time (talk + wrap-up) of recent calls, seconds.
    pub fn mean_handle_s(&self) -> f64 {
        self.handle.mean_s()
    }

    /// Mean wrap-up time of recent calls, seconds.
    pub fn mean_wrap_s(&self) -> f64 {
        self.wrap.mean_s()
    }

    /// Whether enough calls were handled to count on busy agents freeing up.
    pub fn knows_handle(&self) -> bool {
        self.handle.n() >= MIN_SERVICE_SAMPLES
    }

    /// P(an agent `elapsed_s` into a call is free within `h_s` more seconds).
    pub fn talk_frees_within(&self, elapsed_s: f64, h_s: f64) -> f64 {
        self.talk_after(elapsed_s).within(h_s)
    }

    /// P(an agent `elapsed_s` into wrap-up is free within `h_s` more seconds).
    pub fn wrap_frees_within(&self, elapsed_s: f64, h_s: f64) -> f64 {
        self.wrap_after(elapsed_s).within(h_s)
    }

    /// When an agent `elapsed_s` into a call frees up (the handle time left).
    pub fn talk_after(&self, elapsed_s: f64) -> Conditional<'_> {
        if !self.knows_handle() {
            return Conditional::Never;
        }
        self.handle.after(elapsed_s)
    }

    /// When an agent `elapsed_s` into wrap-up frees up.
    pub fn wrap_after(&self, elapsed_s: f64) -> Conditional<'_> {
        if self.wrap.n() < MIN_SERVICE_SAMPLES {
            return if self.knows_handle() {
                Conditional::Half
            } else {
                Conditional::Never
            };
        }
        self.wrap.after(elapsed_s)
    }

    /// When a call still unresolved `elapsed_s` after dialing gets a human answer.
    pub fn answer_after(&self, elapsed_s: f64) -> Conditional<'_> {
        let (alive, before) = if elapsed_s > 0.0 {
            let a = Self::ring_bin(elapsed_s);
            (self.surv[a], self.cif[a])
        } else {
            (1.0, 0.0)
        };
        if alive <= 1e-12 {
            return Conditional::Never;
        }
        Conditional::Answer {
            stats: self,
            at: elapsed_s,
            alive,
            before,
        }
    }

    fn ring_bin(s: f64) -> usize {
        ((s.max(0.0) * 1000.0 / RING_BIN_MS as f64) as usize).min(RING_BINS - 1)
    }

    /// P(a call still unresolved `elapsed_s` after dialing gets a human answer within `h_s`
    /// more seconds).
    pub fn human_within(&self, elapsed_s: f64, h_s: f64) -> f64 {
        self.answer_after(elapsed_s).within(h_s)
    }

    /// The share of human answers that came in ring bin `b`.
    fn answer_share_of_bin(&self, b: usize) -> f64 {
        let total = self.cif[RING_BINS - 1];
        if total <= 0.0 {
            return 0.0;
        }
        let prev = if b == 0 { 0.0 } else { self.cif[b - 1] };
        // G at the middle of bin b, by linear interpolation.
        (prev + 0.5 * (self.cif[b] - prev)) / total
    }

    /// ∫₀^τ G(u) du, seconds, with G the share of human answers that came by u seconds
    /// after dialing: a call placed at a uniform moment in the next τ seconds answers (if a
    /// person answers) before τ with probability `human_answer_integral(τ) / τ`.
    pub fn human_answer_integral(&self, tau_s: f64) -> f64 {
        let bin_s = RING_BIN_MS as f64 / 1000.0;
        let b = Self::ring_bin(tau_s);
        let part = (tau_s - b as f64 * bin_s).clamp(0.0, bin_s);
        self.g_int[b] + self.answer_share_of_bin(b) * part
    }

    /// Seconds after dialing by which the share `q` (0..1) of human answers has come.
    pub fn human_answer_quantile(&self, q: f64) -> f64 {
        let total = self.cif[RING_BINS - 1];
        if total <= 0.0 {
            return 10.0;
        }
        let i = self.cif.partition_point(|&c| c < q * total);
        (i.min(RING_BINS - 1) as f64 + 0.5) * RING_BIN_MS as f64 / 1000.0
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_expire_and_rates_follow() {
        let mut s = Stats::new(60);
        for i in 0..100 {
            let how = if i % 4 == 0 {
                Resolution::Human
            } else {
                Resolution::Other(Unanswered::NoAnswer)
            };
            s.resolved(i * 1000, 8000, how);
        }
        s.rebuild(100_000, &[], None);
        assert_eq!(s.attempts(), 100);
        assert!((s.human_rate() - (25.0 + 20.0) / 140.0).abs() < 1e-9);
        // All answers came at 8 s: a call 5 s in answers within 4 s with P = 25/100.
        assert!((s.human_within(5.0, 4.0) - 0.25).abs() < 1e-9);
        assert_eq!(s.human_within(9.0, 4.0), 0.0);
        // Ten calls still ringing at 12 s: of 100 resolved, none after 8 s.
        s.rebuild(100_000, &[12_000; 10], None);
        assert!(s.human_within(5.0, 4.0) < 0.25);
        s.expire(100_000 + 3_600_000);
        assert_eq!(s.attempts(), 0);
    }

    #[test]
    fn residual_is_conditional_on_elapsed() {
        let mut s = Stats::new(60);
        for i in 0..100 {
            s.handled(if i < 50 { 60_000 } else { 300_000 });
        }
        s.rebuild(0, &[], Some((&[], &[])));
        assert!((s.talk_frees_within(0.0, 100.0) - 0.5).abs() < 1e-9);
        // Past 60 s only the long calls are left.
        assert_eq!(s.talk_frees_within(100.0, 100.0), 0.0);
        assert!((s.talk_frees_within(100.0, 250.0) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn calls_in_progress_lengthen_the_estimate() {
        // 20 calls ended after 60 s; 20 more are still going after 120 s.
        let mut s = Stats::new(60);
        for _ in 0..20 {
            s.handled(60_000);
        }
        s.rebuild(0, &[], Some((&[120_000; 20], &[])));
        assert!((s.talk_frees_within(0.0, 100.0) - 0.5).abs() < 1e-9);
        s.rebuild(20_000, &[], Some((&[], &[])));
        assert!((s.talk_frees_within(0.0, 100.0) - 1.0).abs() < 1e-9);
    }
}
