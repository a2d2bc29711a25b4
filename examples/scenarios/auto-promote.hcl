# auto_promote: once the v2 canary is healthy it is promoted without an
# operator, and the rest roll one at a time.
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

step "register" { job = "jobs/web-autopromote-v1.hcl" }
step "healthy"  { job = "web" }
step "register" { job = "jobs/web-autopromote-v2.hcl" }
step "healthy"  { job = "web" }
step "healthy"  { job = "web" }
step "healthy"  { job = "web" }
