# Secure introduction: instead of a VAULT_TOKEN in the job file, the task
# asks for Vault policies and gets a token delivered; SIGUSR1 on renewal.
job "myapp" {
  region      = "apac"
  datacenters = ["asia-east1", "asia-northeast1"]
  type        = "service"

  group "myapp" {
    count = 1

    task "api" {
      driver = "docker"

      vault {
        policies      = ["myapp", "api"]
        change_mode   = "signal"
        change_signal = "SIGUSR1"
      }

      artifact {
        source = "https://s3.amazonaws.com/myorg/myapp.tar.gz"
        options {
          archive = "tar.gz"
        }
      }

      config {
        load  = "myapp.tar"
        image = "myorg/myapp"
        args  = ["-mode=api"]
      }

      template {
        data        = <<-EOT
          {{ with secret "postgresql/creds/readonly" }}
          DB_USER={{ .Data.username }}
          DB_PASSWORD={{ .Data.password }}
          {{ end }}
        EOT
        destination = "secrets/db.env"
        env         = true
      }
    }
  }
}
