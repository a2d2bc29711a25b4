# Reschedule with delays: attempts 3 in 1h, 30s exponential. A failed
# allocation waits for its follow-up evaluation, and its replacement
# avoids the node it failed on.
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

step "register" { job = "jobs/worker.hcl" }
step "healthy"  { job = "worker" }
step "fail"     { alloc = "worker.worker[0]" }
step "advance"  { duration = "29s" }
step "advance"  { duration = "1s" }
step "fail"     { alloc = "worker.worker[0]" }
step "advance"  { duration = "1m" }
