//! Nomad's HCL2 function library (placeholder until written).
