# Canary then promote: one canary of v2 runs beside v1 until promoted,
# then the rest roll one at a time.
cluster {
  node "n" {
    count   = 4
    drivers = ["docker"]
    resources {
      cpu    = 4000
      memory = "8GiB"
      disk   = 100000
    }
  }
}

step "register" { job = "jobs/web-canary-v1.hcl" }
step "healthy"  { job = "web" }
step "register" { job = "jobs/web-canary-v2.hcl" }
step "healthy"  { job = "web" }
step "promote"  { job = "web" }
step "healthy"  { job = "web" }
step "healthy"  { job = "web" }
