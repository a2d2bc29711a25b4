# v1.1.2 -> v2.0.0 with a rolling update of two at a time.
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
step "plan"     { job = "jobs/web-v2.hcl" }
# Applies only if the job did not change since the plan (its check index).
step "register" {
  job         = "jobs/web-v2.hcl"
  check_index = 2
}
step "healthy"  { job = "web" }
step "healthy"  { job = "web" }
