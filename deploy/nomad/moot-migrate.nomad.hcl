# Applies moot's pending migrations once, then exits: run it before rolling out a release.
# `moot serve` would apply them at start too (concurrent starters wait on an advisory lock),
# but a separate step keeps a failed migration from taking API instances down with it.
#
#   nomad job run -var image=... -var postgres_address=... -var redis_address=... \
#     deploy/nomad/moot-migrate.nomad.hcl
#   nomad job status moot-migrate        # the allocation must be "complete"

variable "image" {
  type    = string
  default = "moot:latest"
}

variable "datacenters" {
  type    = list(string)
  default = ["dc1"]
}

variable "postgres_address" {
  type = string
}

variable "redis_address" {
  type = string
}

job "moot-migrate" {
  datacenters = var.datacenters
  type        = "batch"

  group "migrate" {
    count = 1

    # A failed migration is retried a few times (PostgreSQL restarting), then left failed for
    # an operator to read its log.
    restart {
      attempts = 3
      interval = "10m"
      delay    = "15s"
      mode     = "fail"
    }

    reschedule {
      attempts  = 0
      unlimited = false
    }

    task "migrate" {
      driver = "docker"

      config {
        image = var.image
        args  = ["migrate"]
      }

      env {
        MOOT_LOG_FORMAT = "json"
      }

      template {
        destination = "secrets/moot.env"
        env         = true
        data        = <<-EOT
        {{- with nomadVar "moot/secrets" }}
        MOOT_DATABASE_URL=postgresql://moot:{{ .postgres_password }}@${var.postgres_address}/moot
        MOOT_REDIS_URL=redis://{{ with .redis_password.Value }}:{{ . }}@{{ end }}${var.redis_address}/0
        MOOT_SECRET_KEY={{ .secret_key }}
        {{- end }}
        EOT
      }

      resources {
        cpu    = 200
        memory = 256
      }
    }
  }
}
