//! Networks: network modes and host networks a node offers, and host port assignment.
