//! [`Dialer`]: one campaign's pacing controller. Feed it events, call `tick`, dial.

use crate::config::{Config, QueueType};
use crate::ledger::Abandonment;
use crate::pacer::{Pacing, Predictive, Progressive};
use crate::state::State;
use crate::types::{Decision, Event, Millis, Mode};
use crate::DialerError;

/// One campaign's pacing controller: sans-IO and deterministic (the same events at the same
/// times give the same decisions). It knows nothing of SIP, media or the store.
pub struct Dialer {
    state: State,
    pacer: Box<dyn Pacing>,
}

impl std::fmt::Debug for Dialer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dialer")
            .field("pacer", &self.pacer.name())
            .field("state", &self.state)
            .finish()
    }
}

impl Dialer {
    /// The Webitel-compatible controller for the queue type: [`Progressive`] for type 4,
    /// [`Predictive`] for type 5.
    pub fn new(cfg: Config) -> Result<Self, DialerError> {
        let pacer: Box<dyn Pacing> = match cfg.queue_type {
            QueueType::Progressive => Box::new(Progressive),
            QueueType::Predictive => Box::new(Predictive::default()),
        };
        Self::with_pacer(cfg, pacer)
    }

    /// The same bookkeeping driving another pacer (a peer, or an experiment).
    pub fn with_pacer(cfg: Config, pacer: Box<dyn Pacing>) -> Result<Self, DialerError> {
        cfg.validate()?;
        Ok(Dialer {
            state: State::new(cfg),
            pacer,
        })
    }

    /// Records one event at `now` (epoch ms, never decreasing). Events about unknown calls
    /// are harmless: they change nothing, except that an agent event creates the agent.
    pub fn handle(&mut self, event: Event, now: Millis) {
        self.state.apply(event, now);
    }

    /// How many numbers to dial now. Call it about every second (and, if you like, right
    /// after an agent frees up), and report each call placed with [`Event::CallStarted`]
    /// before the next tick; dialing fewer than asked (no leads) is fine.
    pub fn tick(&mut self, now: Millis) -> Decision {
        self.state.prepare(now);
        if self.state.config().max_calls == 0 {
            return Decision::none(Mode::Idle);
        }
        self.pacer.decide(&self.state, now)
    }

    /// The abandonment figures as of `now`: US (30 days and today), UK (today), the worst of
    /// them, the worst rolling hour today, and each day of the US window.
    pub fn abandonment(&self, now: Millis) -> Abandonment {
        self.state.abandonment(now)
    }

    /// The campaign as the events told it.
    pub fn state(&self) -> &State {
        &self.state
    }

    pub fn config(&self) -> &Config {
        self.state.config()
    }

    /// The pacer's name ("progressive", "predictive", "vicidial_tapered", …).
    pub fn pacer_name(&self) -> &'static str {
        self.pacer.name()
    }
}
