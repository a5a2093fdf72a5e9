//! kiln's tuner: MetaSchedule's loop, made for ahead-of-time Rust.

pub mod builder;
pub mod runner;
