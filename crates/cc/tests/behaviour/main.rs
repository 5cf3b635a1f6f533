//! Behaviour a user of the contact center would notice, driven on a virtual clock.

mod common;
mod directory;
mod distribution;
mod errors;
mod lifecycle;
mod missed;
mod outbound;
mod wire;
