# Disconnected clients: the group tolerates 5m without its client. n-1
# disconnects, its allocation is marked unknown and replaced; when n-1
# comes back the original is kept and the replacement stopped. Later n-2
# stays away past lost_after and its allocation is lost for good.
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

step "register"  { job = "jobs/web-disconnect.hcl" }
step "healthy"   { job = "web" }
step "node_down" { node = "n-1" }
step "advance"   { duration = "1m" }
step "node_up"   { node = "n-1" }
step "node_down" { node = "n-2" }
step "advance"   { duration = "6m" }
