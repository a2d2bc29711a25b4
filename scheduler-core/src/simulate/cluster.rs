//! Cluster files: the nodes of a simulated cluster, in HCL or Nomad API JSON.
