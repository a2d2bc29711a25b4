# Blue/green by hand, as in the seed talk: two jobs, and traffic moves as the
# counts move (green 19 -> 0, blue 1 -> 20). See myapp-bluegreen.nomad.hcl
# for the same with one job and a canary deployment.
job "myapp-green" {
  region      = "apac"
  datacenters = ["asia-east1", "asia-northeast1"]
  type        = "service"

  group "myapp" {
    count = 19

    network {
      port "api" {}
    }

    task "api" {
      driver = "docker"

      artifact {
        source = "https://s3.amazonaws.com/myorg/myapp-v123.tar.gz"
        options {
          archive = "tar.gz"
        }
      }

      config {
        load    = "myapp.tar"
        image   = "myorg/myapp"
        command = "/sbin/start_myapp"
        args    = ["-mode=api"]
      }

      service {
        name = "myapp"
        tags = ["api", "green"]
        port = "api"
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
