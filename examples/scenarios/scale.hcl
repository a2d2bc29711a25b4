# Scale a service up and down: new allocations take the lowest free
# indexes, scale-down stops the highest first.
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

step "register" { job = "jobs/web-v1.hcl" }
step "healthy"  { job = "web" }
step "register" { job = "jobs/web-v1-scaled.hcl" }
step "healthy"  { job = "web" }
step "register" { job = "jobs/web-v1-small.hcl" }
