# Twenty nodes over four racks in one datacenter: four general-purpose
# nodes per rack, and a GPU class of two nodes in each of racks r1 and r2.
# Racks are node meta (`${meta.rack}`), for spread and distinct_property.

locals {
  linux = {
    "kernel.name" = "linux"
    "cpu.arch"    = "amd64"
    "os.name"     = "ubuntu"
    "os.version"  = "22.04"
  }
  drivers = ["docker", "exec", "raw_exec"]
}

node "r1-app" {
  count      = 4
  datacenter = "dc1"
  node_class = "m5.xlarge"
  drivers    = local.drivers
  attributes = local.linux
  meta       = { rack = "r1" }
  resources {
    cpu    = 4000
    cores  = 4
    memory = "16GiB"
    disk   = "100GiB"
  }
  reserved {
    cpu    = 200
    memory = 512
    ports  = "22"
  }
}

node "r2-app" {
  count      = 4
  datacenter = "dc1"
  node_class = "m5.xlarge"
  drivers    = local.drivers
  attributes = local.linux
  meta       = { rack = "r2" }
  resources {
    cpu    = 4000
    cores  = 4
    memory = "16GiB"
    disk   = "100GiB"
  }
  reserved {
    cpu    = 200
    memory = 512
    ports  = "22"
  }
}

node "r3-app" {
  count      = 4
  datacenter = "dc1"
  node_class = "m5.2xlarge"
  drivers    = local.drivers
  attributes = local.linux
  meta       = { rack = "r3" }
  resources {
    cpu    = 8000
    cores  = 8
    memory = "32GiB"
    disk   = "200GiB"
  }
  reserved {
    cpu    = 200
    memory = 512
    ports  = "22"
  }
}

node "r4-app" {
  count      = 4
  datacenter = "dc1"
  node_class = "m5.2xlarge"
  drivers    = local.drivers
  attributes = local.linux
  meta       = { rack = "r4" }
  resources {
    cpu    = 8000
    cores  = 8
    memory = "32GiB"
    disk   = "200GiB"
  }
  reserved {
    cpu    = 200
    memory = 512
    ports  = "22"
  }
  host_network "public" {
    cidr           = "203.0.113.0/24"
    reserved_ports = "22"
  }
}

node "r1-gpu" {
  count      = 2
  datacenter = "dc1"
  node_class = "p4d"
  node_pool  = "gpu"
  drivers    = ["docker"]
  attributes = local.linux
  meta       = { rack = "r1" }
  resources {
    cpu           = 16000
    cores         = 16
    memory        = "128GiB"
    disk          = "1TiB"
    network_mbits = 10000
  }
  reserved {
    cpu    = 500
    memory = 1024
  }
  host_volume "datasets" {
    path      = "/srv/datasets"
    read_only = true
  }
  device "nvidia/gpu/A100" {
    count      = 4
    attributes = { memory = "40 GiB", cuda_cores = 6912, compute_capability = "8.0" }
  }
}

node "r2-gpu" {
  count      = 2
  datacenter = "dc1"
  node_class = "p4d"
  node_pool  = "gpu"
  drivers    = ["docker"]
  attributes = local.linux
  meta       = { rack = "r2" }
  resources {
    cpu           = 16000
    cores         = 16
    memory        = "128GiB"
    disk          = "1TiB"
    network_mbits = 10000
  }
  reserved {
    cpu    = 500
    memory = 1024
  }
  host_volume "datasets" {
    path      = "/srv/datasets"
    read_only = true
  }
  device "nvidia/gpu/A100" {
    count      = 4
    attributes = { memory = "40 GiB", cuda_cores = 6912, compute_capability = "8.0" }
  }
}
