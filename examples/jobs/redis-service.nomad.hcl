# Redis registered as a service (found as redis.service.consul) with a TCP
# health check, on the well-known static port.
job "redis" {
  datacenters = ["asia-east1", "asia-northeast1"]

  group "redis" {
    network {
      mbits = 10
      port "redis" {
        static = 6379
      }
    }

    service {
      name = "redis" # redis.service.consul
      port = "redis"

      check {
        type     = "tcp"
        interval = "30s"
        timeout  = "2s"
      }
    }

    task "redis" {
      driver = "docker"

      config {
        image = "redis:latest"
        ports = ["redis"]
      }

      resources {
        cpu    = 500
        memory = 256
      }
    }
  }
}
