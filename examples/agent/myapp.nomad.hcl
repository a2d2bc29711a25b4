# The seed's myapp job, adapted to run anywhere `schedd -dev` runs: the api
# and web tasks are busybox httpd serving /health.txt, which says which
# version they run; each registers a service with an HTTP check on it.
#   sched job run examples/agent/myapp.nomad.hcl
#   sched job plan -var version=v2 examples/agent/myapp.nomad.hcl
#   sched job run -check-index N -var version=v2 examples/agent/myapp.nomad.hcl
# A rolling update replaces one allocation at a time (max_parallel = 1);
# `-var canary=3 -var max_parallel=3` deploys blue/green instead: three
# canaries next to the old version until `sched deployment promote`.
variable "version" {
  type    = string
  default = "v1"
}

variable "count" {
  type    = number
  default = 3
}

variable "canary" {
  type    = number
  default = 0
}

variable "max_parallel" {
  type    = number
  default = 1
}

job "myapp" {
  datacenters = ["dc1"]
  type        = "service"

  update {
    max_parallel      = var.max_parallel
    canary            = var.canary
    min_healthy_time  = "1s"
    healthy_deadline  = "30s"
    progress_deadline = "1m"
  }

  group "myapp" {
    count = var.count

    network {
      port "api" {}
      port "web" {}
    }

    restart {
      attempts = 3
      interval = "1m"
      delay    = "1s"
      mode     = "fail"
    }

    task "api" {
      driver = "raw_exec"

      env {
        VERSION = var.version
      }

      config {
        command = "/bin/sh"
        args = ["-c", "mkdir -p local/www && echo \"api $VERSION\" > local/www/health.txt && exec busybox httpd -f -p 127.0.0.1:${NOMAD_PORT_api} -h local/www"]
      }

      service {
        name     = "myapp"
        tags     = ["api"]
        port     = "api"
        provider = "nomad"

        check {
          type     = "http"
          path     = "/health.txt"
          interval = "1s"
          timeout  = "1s"
        }
      }

      resources {
        cpu    = 50
        memory = 32
      }
    }

    task "web" {
      driver = "raw_exec"

      env {
        VERSION = var.version
      }

      config {
        command = "/bin/sh"
        args = ["-c", "mkdir -p local/www && echo \"web $VERSION\" > local/www/health.txt && exec busybox httpd -f -p 127.0.0.1:${NOMAD_PORT_web} -h local/www"]
      }

      service {
        name     = "myapp"
        tags     = ["web"]
        port     = "web"
        provider = "nomad"

        check {
          type     = "http"
          path     = "/health.txt"
          interval = "1s"
          timeout  = "1s"
        }
      }

      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
