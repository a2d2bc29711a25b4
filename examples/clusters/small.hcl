# A small cluster: three general-purpose nodes in two datacenters.
# Used by `sched simulate -cluster examples/clusters/small.hcl ...`.

node "east" {
  count      = 2 # east-0, east-1
  datacenter = "dc1"
  node_class = "general"
  drivers    = ["docker", "exec"]

  resources {
    cpu    = 4000    # MHz
    memory = "8GiB"
    disk   = "100GiB"
  }

  reserved {
    cpu    = 100
    memory = 256
    ports  = "22"
  }

  attributes = { "kernel.name" = "linux", "cpu.arch" = "amd64", "os.name" = "ubuntu" }
}

node "west-0" {
  datacenter = "dc2"
  node_class = "general"
  drivers    = ["docker", "exec"]

  resources {
    cpu    = 8000
    memory = "16GiB"
    disk   = "200GiB"
  }

  reserved {
    cpu    = 100
    memory = 256
    ports  = "22"
  }

  attributes = { "kernel.name" = "linux", "cpu.arch" = "amd64", "os.name" = "ubuntu" }
}
