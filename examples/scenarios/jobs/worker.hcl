job "worker" {
  datacenters = ["dc1"]

  group "worker" {
    count = 2

    reschedule {
      attempts       = 3
      interval       = "1h"
      delay          = "30s"
      delay_function = "exponential"
      max_delay      = "5m"
      unlimited      = false
    }

    task "work" {
      driver = "docker"
      config {
        image = "busybox:1.36"
      }
      resources {
        cpu    = 200
        memory = 128
      }
    }
  }
}
