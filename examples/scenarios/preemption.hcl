# Preemption: a priority-90 system job evicts priority-20 work where
# nodes are full.
cluster {
  node "n" {
    count   = 3
    drivers = ["docker"]
    resources {
      cpu    = 4000
      memory = "8GiB"
      disk   = 100000
    }
  }
}

step "register" { job = "jobs/batch-low.hcl" }
step "healthy"  { job = "batch-low" }
step "register" { job = "jobs/agent.hcl" }
