# The seed talk's first job: one Redis container, spread over two datacenters.
job "redis" {
  datacenters = ["asia-east1", "asia-northeast1"]

  group "redis" {
    task "redis" {
      driver = "docker"

      config {
        image = "redis:latest"
      }

      resources {
        cpu    = 500 # MHz
        memory = 256 # MB
      }
    }

    network {
      mbits = 10
      port "redis" {}
    }
  }
}
