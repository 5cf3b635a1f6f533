//! The predictive controller on the contact center's pacing seam: [`LivePacer`] implements
//! [`switchboard_cc::pace::Pacer`] on top of a [`Dialer`], and [`pacer_factory`] gives the
//! engine one per predictive queue (type 5) while progressive queues (type 4) keep the
//! engine's own [`switchboard_cc::pace::Progressive`].
//!
//! The seam tells the pacer about calls (dialled, answered, failed, bridged, abandoned, ended)
//! but about agents only as counts (`free_agents`, `online_agents` in each [`PaceView`]). The
//! adapter keeps anonymous stand-ins for the agents and moves them so the counts agree:
//! - a bridge puts a stand-in on the call (one busy elsewhere first — the agent the engine
//!   just offered the call to is no longer free — else a free one), and the call's end puts it
//!   in wrap-up, so the controller sees how long each call has gone on and measures handle
//!   times from bridge to free;
//! - at each round, agents who logged in start as "elsewhere" (online, not free, not on one
//!   of our calls: an offer ringing, another queue's call, a pause of the channel) and agents
//!   who logged out leave from "elsewhere", then "free", then "wrap-up";
//! - free stand-ins are then topped up or trimmed to `free_agents`: from wrap-up first (the
//!   longest in it), then from "elsewhere"; surplus free ones go "elsewhere".
//!
//! "Elsewhere" is reported to the controller as away: not counted on to free up, and none of
//! those stretches pollutes the handle-time curve.
//!
//! Time: the controller runs on epoch milliseconds. The first view anchors the engine's
//! `Instant` to its `wall_ms`; later times are that anchor plus the monotonic clock, so the
//! controller's time never goes backwards even if the wall clock is stepped.

use crate::config::{Config, QueueType};
use crate::dialer::Dialer;
use crate::types::{AgentId, AnsweredBy, Decision, Event, Millis, Unanswered};
use crate::DialerError;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Instant;
use switchboard_cc::pace::{self, DialKind, PaceEvent, PaceView, PacerFactory};

/// Our predictive controller behind the engine's [`pace::Pacer`] trait.
#[derive(Debug)]
pub struct LivePacer {
    dialer: Dialer,
    /// The engine's clock at the first view, and the epoch ms it showed.
    anchor: Option<(Instant, Millis)>,
    last_ms: Millis,
    next_agent: AgentId,
    free: BTreeSet<AgentId>,
    /// Attempt → the stand-in talking on it.
    talking: BTreeMap<i64, AgentId>,
    /// Stand-ins whose call ended, oldest first.
    wrapping: VecDeque<AgentId>,
    elsewhere: BTreeSet<AgentId>,
    last: Option<Decision>,
}

impl LivePacer {
    /// A predictive controller with this configuration (its `queue_type` is taken as
    /// predictive; `max_calls` is left to the engine, which tells it in every view).
    pub fn new(cfg: Config) -> Result<Self, DialerError> {
        let cfg = Config {
            queue_type: QueueType::Predictive,
            max_calls: -1,
            ..cfg
        };
        Ok(LivePacer {
            dialer: Dialer::new(cfg)?,
            anchor: None,
            last_ms: Millis::MIN,
            next_agent: 1,
            free: BTreeSet::new(),
            talking: BTreeMap::new(),
            wrapping: VecDeque::new(),
            elsewhere: BTreeSet::new(),
            last: None,
        })
    }

    /// The controller and its bookkeeping (abandonment figures, statistics).
    pub fn dialer(&self) -> &Dialer {
        &self.dialer
    }

    /// The controller's last decision (its mode says whether it paced progressively, and
    /// why), before the engine's caps.
    pub fn last_decision(&self) -> Option<Decision> {
        self.last
    }

    /// The controller's time of an engine instant (see the module docs); the first view's
    /// `wall_ms` anchors the clock.
    fn millis(&mut self, now: Instant, wall_ms: Option<Millis>) -> Millis {
        let (at, ms) = match (self.anchor, wall_ms) {
            (Some(a), _) => a,
            (None, Some(ms)) => *self.anchor.insert((now, ms)),
            (None, None) => return self.last_ms.max(0),
        };
        let t = ms.saturating_add(now.saturating_duration_since(at).as_millis() as Millis);
        self.last_ms = self.last_ms.max(t);
        self.last_ms
    }

    fn new_agent(&mut self) -> AgentId {
        let id = self.next_agent;
        self.next_agent += 1;
        id
    }

    fn handle(&mut self, event: Event, now: Millis) {
        self.dialer.handle(event, now);
    }

    /// Moves the stand-ins so the controller's agents agree with the engine's counts.
    fn reconcile(&mut self, view: &PaceView, now: Millis) {
        let online = view.online_agents as usize;
        let known =
            self.free.len() + self.talking.len() + self.wrapping.len() + self.elsewhere.len();
        for _ in known..online {
            let id = self.new_agent();
            self.elsewhere.insert(id);
        }
        let mut excess = known.saturating_sub(online);
        while excess > 0 {
            if self.elsewhere.pop_first().is_none() {
                let Some(id) = self.free.pop_first().or_else(|| self.wrapping.pop_front()) else {
                    // Only agents on our calls are left: they go when their calls end.
                    break;
                };
                self.handle(Event::AgentAway { agent: id }, now);
            }
            excess -= 1;
        }
        let want = view.free_agents as usize;
        while self.free.len() < want {
            let Some(id) = self
                .wrapping
                .pop_front()
                .or_else(|| self.elsewhere.pop_first())
            else {
                break;
            };
            self.free.insert(id);
            self.handle(Event::AgentFree { agent: id }, now);
        }
        while self.free.len() > want {
            let Some(id) = self.free.pop_last() else {
                break;
            };
            self.elsewhere.insert(id);
            self.handle(Event::AgentAway { agent: id }, now);
        }
    }
}

impl pace::Pacer for LivePacer {
    fn calls_to_place(&mut self, view: &PaceView) -> u32 {
        if view.kind == DialKind::Progressive {
            // Not ours to pace: one call per free agent, as the engine's default.
            return pace::Progressive.calls_to_place(view);
        }
        let now = self.millis(view.now, Some(view.wall_ms));
        self.reconcile(view, now);
        let decision = self.dialer.tick(now);
        self.last = Some(decision);
        let mut n = decision.dial;
        if let Some(max) = view.max_calls {
            n = n.min(max.saturating_sub(view.active));
        }
        n
    }

    fn observe(&mut self, event: PaceEvent, now: Instant) {
        if self.anchor.is_none() {
            // Calls placed before this pacer's first round (the queue changed type while
            // they went on) are not its own, and there is no wall clock to place them on.
            return;
        }
        let now = self.millis(now, None);
        match event {
            PaceEvent::Dialed { attempt_id } => {
                self.handle(Event::CallStarted { call: attempt_id }, now)
            }
            PaceEvent::Answered { attempt_id, .. } => self.handle(
                Event::Answered {
                    call: attempt_id,
                    by: AnsweredBy::Human,
                },
                now,
            ),
            PaceEvent::Failed { attempt_id, .. } => self.handle(
                Event::NotAnswered {
                    call: attempt_id,
                    why: Unanswered::NoAnswer,
                },
                now,
            ),
            PaceEvent::Bridged { attempt_id, .. } => {
                let agent = self
                    .elsewhere
                    .pop_first()
                    .or_else(|| self.free.pop_first())
                    .unwrap_or_else(|| self.new_agent());
                self.talking.insert(attempt_id, agent);
                self.handle(
                    Event::Bridged {
                        call: attempt_id,
                        agent,
                    },
                    now,
                );
            }
            PaceEvent::Abandoned { attempt_id, .. } => {
                self.handle(Event::Abandoned { call: attempt_id }, now)
            }
            PaceEvent::Ended { attempt_id, .. } => {
                if let Some(agent) = self.talking.remove(&attempt_id) {
                    self.wrapping.push_back(agent);
                    self.handle(Event::AgentWrap { agent }, now);
                }
            }
        }
    }
}

/// The engine's pacer maker: [`LivePacer`] with `cfg` for predictive queues, the engine's
/// [`pace::Progressive`] for progressive ones. The configuration is checked once, here.
pub fn pacer_factory(cfg: Config) -> Result<PacerFactory, DialerError> {
    cfg.validate()?;
    Ok(Box::new(move |_queue_id, kind| match kind {
        DialKind::Predictive => match LivePacer::new(cfg.clone()) {
            Ok(p) => Box::new(p),
            Err(_) => Box::new(pace::Progressive),
        },
        DialKind::Progressive => Box::new(pace::Progressive),
    }))
}
