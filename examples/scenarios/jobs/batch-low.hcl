job "batch-low" {
  datacenters = ["dc1"]
  type        = "service"
  priority    = 20

  group "crunch" {
    count = 4
    task "crunch" {
      driver = "docker"
      config {
        image = "busybox:1.36"
      }
      resources {
        cpu    = 1500
        memory = 1024
      }
    }
  }
}
