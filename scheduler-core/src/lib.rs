//! Pure core of the scheduler (crate docs written at the end of the foundation work).

pub mod jobspec;
pub mod model;
