job "agent" {
  datacenters = ["dc1"]
  type        = "system"
  priority    = 90

  group "agent" {
    task "agent" {
      driver = "docker"
      config {
        image = "datadog/agent:7"
      }
      resources {
        cpu    = 1500
        memory = 512
      }
    }
  }
}
