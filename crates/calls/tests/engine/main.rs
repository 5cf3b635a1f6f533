//! Scenario tests of the call engine, driven through its public API only.

mod harness;

mod basic;
mod events;
mod failures;
mod history;
mod in_call;
mod originate;
mod queue;
mod simulation;
