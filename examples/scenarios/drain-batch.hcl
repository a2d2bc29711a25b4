# Draining under batch work: batch allocations are left to finish until
# the drain deadline (5m); at the deadline the rest are migrated and the
# drain completes.
cluster {
  node "n" {
    count   = 2
    drivers = ["docker"]
    resources {
      cpu    = 4000
      memory = "8GiB"
      disk   = 100000
    }
  }
}

step "register" { job = "jobs/crunch-batch.hcl" }
step "drain" {
  node     = "n-0"
  deadline = "5m"
}
step "advance" { duration = "4m" }
step "advance" { duration = "2m" }
