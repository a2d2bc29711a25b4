# The seed talk's cluster: two Asian datacenters, six nodes each, for the
# jobs in examples/jobs (which run in asia-east1 and asia-northeast1).
#
#   sched simulate --cluster examples/clusters/asia.hcl \
#     --job examples/jobs/redis.nomad.hcl --job examples/jobs/myapp-rolling.nomad.hcl

node "east" {
  count      = 6 # east-0 .. east-5
  datacenter = "asia-east1"
  node_class = "n2-standard-4"
  drivers    = ["docker", "exec", "raw_exec"]

  resources {
    cpu           = 4000 # MHz
    memory        = "16GiB"
    disk          = "100GiB"
    network_mbits = 1000
  }

  reserved {
    cpu    = 100
    memory = 256
    ports  = "22"
  }

  attributes = { "kernel.name" = "linux", "cpu.arch" = "amd64", "os.name" = "debian" }
  meta       = { zone = "asia-east1-a" }
}

node "northeast" {
  count      = 6 # northeast-0 .. northeast-5
  datacenter = "asia-northeast1"
  node_class = "n2-standard-4"
  drivers    = ["docker", "exec", "raw_exec"]

  resources {
    cpu           = 4000
    memory        = "16GiB"
    disk          = "100GiB"
    network_mbits = 1000
  }

  reserved {
    cpu    = 100
    memory = 256
    ports  = "22"
  }

  attributes = { "kernel.name" = "linux", "cpu.arch" = "amd64", "os.name" = "debian" }
  meta       = { zone = "asia-northeast1-b" }
}
