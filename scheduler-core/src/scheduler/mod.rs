//! The scheduler: `schedule(snapshot, evaluation, env)`.

pub mod config;
