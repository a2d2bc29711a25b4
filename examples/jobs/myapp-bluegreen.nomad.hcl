# Blue/green in one job: canary = count places a full second set of
# allocations of the new version; `deployment promote` switches over and stops
# the old set, and auto_revert rolls back if the new set is unhealthy.
job "myapp" {
  region      = "apac"
  datacenters = ["asia-east1", "asia-northeast1"]

  update {
    max_parallel     = 20
    canary           = 20
    min_healthy_time = "10s"
    healthy_deadline = "5m"
    auto_revert      = true
    auto_promote     = false
  }

  group "myapp" {
    count = 20

    network {
      port "api" {}
    }

    task "api" {
      driver = "docker"

      config {
        image = "myorg/myapp:v2.0.0"
        args  = ["-mode=api"]
        ports = ["api"]
      }

      service {
        name        = "myapp"
        port        = "api"
        tags        = ["api", "live"]
        canary_tags = ["api", "canary"]
        check {
          type     = "http"
          path     = "/health.txt"
          interval = "5s"
          timeout  = "2s"
        }
      }
    }
  }
}
