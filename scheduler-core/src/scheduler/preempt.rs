//! Preemption (in progress).
