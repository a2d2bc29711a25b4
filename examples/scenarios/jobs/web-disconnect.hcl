job "web" {
  datacenters = ["dc1"]
  type        = "service"

  update {
    max_parallel     = 2
    min_healthy_time = "10s"
    healthy_deadline = "3m"
    progress_deadline = "10m"
    auto_revert      = true
  }

  group "web" {
    disconnect {
      lost_after = "5m"
    }
    count = 4

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
