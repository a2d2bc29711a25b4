# Blue/green: canary = count places a full v2 set beside v1; promotion
# stops every v1 allocation at once.
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

step "register" { job = "jobs/web-bluegreen-v1.hcl" }
step "healthy"  { job = "web" }
step "register" { job = "jobs/web-bluegreen-v2.hcl" }
step "healthy"  { job = "web" }
step "promote"  { job = "web" }
