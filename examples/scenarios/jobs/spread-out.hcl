job "cache" {
  datacenters = ["dc1"]

  group "cache" {
    count = 4

    constraint {
      operator = "distinct_hosts"
      value    = "true"
    }

    task "redis" {
      driver = "docker"
      config {
        image = "redis:7"
      }
      resources {
        cpu    = 200
        memory = 256
      }
    }
  }
}
