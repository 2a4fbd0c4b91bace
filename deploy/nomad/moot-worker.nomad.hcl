# moot's transcription worker on Nomad: browsers stream audio to it through the proxy
# (wss://DOMAIN/ws/transcribe), it bridges each stream to Gladia and publishes transcripts
# through Redis to every API instance. Size it by concurrent transcriptions (deploy/README.md).
#
#   nomad job run -var image=... -var postgres_address=... -var redis_address=... \
#     deploy/nomad/moot-worker.nomad.hcl

variable "image" {
  type    = string
  default = "moot:latest"
}

variable "datacenters" {
  type    = list(string)
  default = ["dc1"]
}

variable "worker_count" {
  type    = number
  default = 1
}

variable "postgres_address" {
  type        = string
  description = "host:port of the shared PostgreSQL (database moot, user moot)"
}

variable "redis_address" {
  type        = string
  description = "host:port of the shared Redis or Valkey"
}

job "moot-worker" {
  datacenters = var.datacenters
  type        = "service"

  update {
    max_parallel      = 1
    health_check      = "checks"
    min_healthy_time  = "10s"
    healthy_deadline  = "2m"
    progress_deadline = "10m"
    auto_revert       = true
  }

  group "worker" {
    count = var.worker_count

    network {
      port "http" {
        to = 8001
      }
    }

    service {
      name     = "moot-worker"
      provider = "nomad"
      port     = "http"
      tags     = ["moot", "worker"]

      check {
        name     = "ready"
        type     = "http"
        path     = "/ready"
        interval = "10s"
        timeout  = "3s"
      }
    }

    task "worker" {
      driver = "docker"

      config {
        image = var.image
        args  = ["worker"]
        ports = ["http"]
      }

      # On SIGTERM the worker closes audio sockets with 1012 (the browser reconnects to another
      # worker), asks Gladia for the last finals and writes them before it exits.
      shutdown_delay = "5s"
      kill_signal    = "SIGTERM"
      kill_timeout   = "30s"

      env {
        MOOT_HOST                = "0.0.0.0"
        MOOT_WORKER_PORT         = "8001"
        MOOT_LOG_FORMAT          = "json"
        MOOT_FORWARDED_ALLOW_IPS = "*"
      }

      template {
        destination = "secrets/moot.env"
        env         = true
        change_mode = "restart"
        data        = <<-EOT
        {{- with nomadVar "moot/secrets" }}
        MOOT_DATABASE_URL=postgresql://moot:{{ .postgres_password }}@${var.postgres_address}/moot
        MOOT_REDIS_URL=redis://{{ with .redis_password.Value }}:{{ . }}@{{ end }}${var.redis_address}/0
        MOOT_SECRET_KEY={{ .secret_key }}
        MOOT_GLADIA_API_KEY={{ .gladia_api_key.Value }}
        {{- end }}
        EOT
      }

      resources {
        cpu    = 500
        memory = 384
      }
    }
  }
}
