job "crunch" {
  datacenters = ["dc1"]
  type        = "batch"

  group "crunch" {
    count = 3
    task "crunch" {
      driver = "docker"
      config {
        image = "busybox:1.36"
      }
      resources {
        cpu    = 500
        memory = 256
      }
    }
  }
}
