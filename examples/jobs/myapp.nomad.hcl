# The seed's application: an API and a web task from one artifact, each
# registered as a service with an HTTP health check.
variable "version" {
  type        = string
  default     = "v1.1.2"
  description = "Release of myapp to run."
}

job "myapp" {
  region      = "apac"
  datacenters = ["asia-east1", "asia-northeast1"]
  type        = "service"

  group "myapp" {
    count = 1

    network {
      port "api" {}
      port "web" {}
    }

    task "api" {
      driver = "docker"

      artifact {
        source = "https://s3.amazonaws.com/myorg/myapp-${var.version}.tar.gz"
        options {
          archive = "tar.gz"
        }
      }

      config {
        load         = "myapp.tar"
        image        = "myorg/myapp:${var.version}"
        command      = "/sbin/start_myapp"
        args         = ["-mode=api"]
        network_mode = "host"
        pid_mode     = "host"
      }

      service {
        name = "${NOMAD_TASK_NAME}" # api.service.consul
        tags = ["api"]
        port = "api"

        check {
          type     = "http"
          path     = "/health.txt"
          interval = "5s"
          timeout  = "2s"
        }
      }

      resources {
        cpu    = 500
        memory = 256
      }
    }

    task "web" {
      driver = "docker"

      artifact {
        source = "https://s3.amazonaws.com/myorg/myapp-${var.version}.tar.gz"
        options {
          archive = "tar.gz"
        }
      }

      config {
        load         = "myapp.tar"
        image        = "myorg/myapp:${var.version}"
        command      = "/sbin/start_myapp"
        args         = ["-mode=web"]
        network_mode = "host"
        pid_mode     = "host"
      }

      service {
        name = "${NOMAD_TASK_NAME}"
        tags = ["web"]
        port = "web"

        check {
          type     = "http"
          path     = "/health.txt"
          interval = "5s"
          timeout  = "2s"
        }
      }

      resources {
        cpu    = 500
        memory = 256
      }
    }
  }
}
