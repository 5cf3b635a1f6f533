//! Sans-IO outbound dialer pacing: how many numbers a campaign dials now. No sockets, no
//! clocks, no database — the runtime (the live queue engine) feeds events and the time, and
//! dials what the decision says:
//!
//! ```text
//! let mut d = Dialer::new(Config { queue_type: QueueType::Predictive, ..Config::default() })?;
//! d.handle(Event::AgentFree { agent: 7 }, now);              // agents: free / busy / wrap / away
//! d.handle(Event::CallStarted { call: 42 }, now);            // every call placed
//! d.handle(Event::Answered { call: 42, by: AnsweredBy::Human }, now);
//! d.handle(Event::Bridged { call: 42, agent: 7 }, now);      // or Abandoned after 2 s
//! let decision = d.tick(now);                                // about every second
//! for _ in 0..decision.dial { /* place a call, then handle(CallStarted) */ }
//! let figures = d.abandonment(now);                          // US 30 days, UK today, worst hour
//! ```
//!
//! `now` is Unix epoch milliseconds; the campaign's calendar day (for the UK figure) is set by
//! `Config::utc_offset_minutes`.
//!
//! # Pacers
//! - [`Progressive`] (Webitel queue type 4): one call per free agent, never more.
//! - [`Predictive`] (type 5, ours): look-ahead on the agents about to free up and the calls in
//!   flight, with the dial level steered on the abandonment budget (the worst of the US and UK
//!   figures, target 2.5 %, hard guard at 3 %); progressive while warming up, with too few
//!   agents, or at the guard. See [`pacer::Predictive`]'s module docs for the method.
//! - [`VicidialTapered`]: a replica of VICIdial's ADAPT_TAPERED for comparison.
//!
//! All implement [`Pacing`]; [`Dialer::with_pacer`] runs any of them on the same bookkeeping.
//!
//! # In the live engine
//! [`LivePacer`] puts the predictive controller behind the contact center's pacing seam
//! (`switchboard_cc::pace::Pacer`); [`pacer_factory`] is what the runtime installs with
//! `Engine::set_pacer_factory`. See [`live`].
//!
//! # The day simulation
//! [`sim::simulate`] runs one seeded day of a [`sim::Scenario`] (leads in several time zones
//! with calling hours, bimodal answer times, answering machines and AMD errors, lognormal
//! talk, agents with breaks, late starts and early leaves, an answer-rate jump late in the
//! day, the 2 s abandonment rule, a 72 h lock-out after an abandon) and returns a
//! [`sim::DayReport`]. All pacers meet the same leads and outcome draws (common random
//! numbers). [`sim::run_scenario_file`] is the CLI's entry point.

mod config;
mod dialer;
mod error;
mod ledger;
pub mod live;
pub mod pacer;
pub mod sim;
mod state;
mod stats;
mod types;

pub use config::{Config, QueueType};
pub use dialer::Dialer;
pub use error::DialerError;
pub use ledger::{uk_rate, us_rate, Abandonment, DayFigures, MIN_ANSWERS_PER_HOUR, US_WINDOW_DAYS};
pub use live::{pacer_factory, LivePacer};
pub use pacer::{Pacer, Pacing, Predictive, Progressive, VicidialConfig, VicidialTapered};
pub use sim::{run_scenario_file, simulate, DayReport, Scenario};
pub use state::{AgentActivity, State};
pub use stats::{Conditional, Service, Stats};
pub use types::{AgentId, AnsweredBy, CallId, Decision, Event, Fallback, Millis, Mode, Unanswered};
