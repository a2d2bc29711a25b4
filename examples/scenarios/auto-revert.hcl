# Auto-revert: the v2 canary reports unhealthy, the deployment fails and
# the job rolls back to the last stable version (v0's spec as version 2).
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

step "register"  { job = "jobs/web-revert-v1.hcl" }
step "healthy"   { job = "web" }
step "register"  { job = "jobs/web-revert-v2.hcl" }
step "unhealthy" { job = "web" }
step "healthy"   { job = "web" }
