# A rolling update that never becomes healthy: after progress_deadline
# (10m) the deployment fails and auto_revert rolls back to v0's spec.
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

step "register" { job = "jobs/web-v1.hcl" }
step "healthy"  { job = "web" }
step "register" { job = "jobs/web-v2.hcl" }
step "advance"  { duration = "9m" }
step "advance"  { duration = "2m" }
step "healthy"  { job = "web" }
step "healthy"  { job = "web" }
