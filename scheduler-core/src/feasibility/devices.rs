//! Device requests: which nodes can serve them and which instances an allocation gets.
