# A rolling update: one allocation at a time, two minutes apart, each new
# allocation healthy for 10s before the next is replaced.
job "myapp-blue" {
  region      = "apac"
  datacenters = ["asia-east1", "asia-northeast1"]
  type        = "service"

  update {
    # Stagger updates every 120 seconds
    stagger = "120s"
    # Update a single task at a time
    max_parallel      = 1
    min_healthy_time  = "10s"
    healthy_deadline  = "3m"
    progress_deadline = "10m"
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
    }
  }
}
