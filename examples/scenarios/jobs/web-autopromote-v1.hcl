job "web" {
  datacenters = ["dc1"]

  update {
    max_parallel = 1
    canary       = 1
    auto_promote = true
  }

  group "web" {
    count = 3
    network {
      port "http" {}
    }
    task "server" {
      driver = "docker"
      config {
        image = "nginx:1.1.2"
      }
      resources {
        cpu    = 500
        memory = 256
      }
    }
  }
}
