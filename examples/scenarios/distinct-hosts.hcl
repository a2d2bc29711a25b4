# distinct_hosts exhausts three nodes; the fourth allocation blocks until
# a node of an eligible class joins.
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

step "register" { job = "jobs/spread-out.hcl" }
step "add_node" {
  node "big" {
    drivers = ["docker"]
    resources {
      cpu    = 8000
      memory = "16GiB"
      disk   = 200000
    }
  }
}
