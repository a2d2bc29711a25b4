# The seed's redis job, adapted to run anywhere `schedd -dev` runs: a
# redis-like server (it answers every line with +PONG) made of busybox nc,
# on a dynamic port, registered as the service "redis" with a TCP check.
#   sched job run examples/agent/redis.nomad.hcl
#   dig @127.0.0.1 -p 8600 redis.service.consul SRV
job "redis" {
  datacenters = ["dc1"]

  group "cache" {
    network {
      port "redis" {}
    }

    task "redis" {
      driver = "raw_exec"

      config {
        command = "busybox"
        args = ["nc", "-ll", "-p", "${NOMAD_PORT_redis}", "-e",
        "/bin/sh", "-c", "while read -r line; do printf '+PONG\\r\\n'; done"]
      }

      service {
        name     = "redis"
        port     = "redis"
        provider = "nomad"

        check {
          type     = "tcp"
          interval = "1s"
          timeout  = "1s"
        }
      }

      resources {
        cpu    = 100
        memory = 32
      }
    }
  }
}
