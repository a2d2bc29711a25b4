# Drain: allocations leave n-0 one at a time (migrate.max_parallel = 1),
# each waiting for the previous replacement to be healthy.
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

step "register" { job = "jobs/web-v1-scaled.hcl" }
step "healthy"  { job = "web" }
step "drain"    { node = "n-0" }
step "healthy"  { job = "web" }
step "healthy"  { job = "web" }
