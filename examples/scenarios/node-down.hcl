# A node goes down: its allocations are lost and replaced elsewhere.
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

step "register"  { job = "jobs/web-v1.hcl" }
step "healthy"   { job = "web" }
step "node_down" { node = "n-1" }
step "healthy"   { job = "web" }
step "node_up"   { node = "n-1" }
