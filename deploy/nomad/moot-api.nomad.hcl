# moot's API on Nomad: count >= 2 behind any HTTP proxy that reads Nomad services (proxy.nomad.hcl
# is one). Stateless: rooms fan out through Redis, so instances come and go freely.
#
#   nomad job run -var domain=meet.example.net -var image=registry.example.net/moot:1.0 \
#     -var postgres_address=db.internal:5432 -var redis_address=redis.internal:6379 \
#     deploy/nomad/moot-api.nomad.hcl
#
# Secrets come from Nomad Variables at moot/secrets (deploy/README.md, "Nomad"); nothing secret
# is in this file or in its -var flags. Run moot-migrate.nomad.hcl first on every release.

variable "image" {
  type        = string
  description = "the moot image (Dockerfile at the repository's top)"
  default     = "moot:latest"
}

variable "datacenters" {
  type    = list(string)
  default = ["dc1"]
}

variable "domain" {
  type        = string
  description = "the public host name, as browsers reach the proxy (no scheme)"
}

variable "api_count" {
  type    = number
  default = 2
}

variable "postgres_address" {
  type        = string
  description = "host:port of the shared PostgreSQL (database moot, user moot)"
}

variable "redis_address" {
  type        = string
  description = "host:port of the shared Redis or Valkey"
}

variable "forwarded_allow_ips" {
  type        = string
  description = "addresses (IPs or CIDRs, comma-separated) of the proxies whose X-Forwarded-For moot trusts; * trusts whoever reaches the instance's port"
  default     = "*"
}

variable "livekit_domain" {
  type        = string
  description = "LiveKit's public host name; empty: mesh mode (peer-to-peer rooms, no LiveKit)"
  default     = ""
}

job "moot-api" {
  datacenters = var.datacenters
  type        = "service"

  # Rolling deploys: one instance at a time, each must pass its /ready check for 10 s before
  # the next one goes; a release that never gets healthy rolls back by itself.
  update {
    max_parallel      = 1
    health_check      = "checks"
    min_healthy_time  = "10s"
    healthy_deadline  = "2m"
    progress_deadline = "10m"
    auto_revert       = true
  }

  group "api" {
    count = var.api_count

    # Never two instances on one node when the cluster has room for it.
    spread {
      attribute = "${node.unique.id}"
    }

    network {
      port "http" {
        to = 8000
      }
    }

    service {
      name     = "moot-api"
      provider = "nomad"
      port     = "http"
      tags     = ["moot", "api"]

      check {
        name     = "ready"
        type     = "http"
        path     = "/ready"
        interval = "10s"
        timeout  = "3s"

        check_restart {
          limit = 3
          grace = "30s"
        }
      }
    }

    restart {
      attempts = 5
      interval = "5m"
      delay    = "10s"
      mode     = "delay"
    }

    task "api" {
      driver = "docker"

      config {
        image = var.image
        args  = ["serve"]
        ports = ["http"]
      }

      # Leave the proxy's pool before the signal; then SIGTERM: uvicorn stops accepting, closes
      # room sockets with 1012 (clients reconnect to another instance) and drains within 10 s.
      shutdown_delay = "5s"
      kill_signal    = "SIGTERM"
      kill_timeout   = "20s"

      env {
        MOOT_HOST                = "0.0.0.0"
        MOOT_PORT                = "8000"
        MOOT_LOG_FORMAT          = "json"
        MOOT_FORWARDED_ALLOW_IPS = var.forwarded_allow_ips
        MOOT_WORKER_EMBEDDED     = "false"
        MOOT_WORKER_PUBLIC_URL   = "wss://${var.domain}/ws/transcribe"
        MOOT_STUN_SERVERS        = "stun:${var.domain}:3478"
        MOOT_STUN_PORT           = "0" # coturn answers STUN on 3478
        MOOT_TURN_SERVERS        = "turn:${var.domain}:3478?transport=udp,turn:${var.domain}:3478?transport=tcp"
      }

      # Secrets from Nomad Variables, rendered into the task's private secrets/ directory.
      # Optional keys are read through .Value, which is empty when the key is missing.
      template {
        destination = "secrets/moot.env"
        env         = true
        change_mode = "restart"
        data        = <<-EOT
        {{- with nomadVar "moot/secrets" }}
        MOOT_DATABASE_URL=postgresql://moot:{{ .postgres_password }}@${var.postgres_address}/moot
        MOOT_REDIS_URL=redis://{{ with .redis_password.Value }}:{{ . }}@{{ end }}${var.redis_address}/0
        MOOT_SECRET_KEY={{ .secret_key }}
        MOOT_TURN_SECRET={{ .turn_secret }}
        MOOT_GLADIA_API_KEY={{ .gladia_api_key.Value }}
        %{ if var.livekit_domain != "" }
        MOOT_LIVEKIT_URL=wss://${var.livekit_domain}
        MOOT_LIVEKIT_API_KEY={{ .livekit_api_key }}
        MOOT_LIVEKIT_API_SECRET={{ .livekit_api_secret }}
        %{ endif }
        {{- end }}
        EOT
      }

      resources {
        cpu    = 500
        memory = 512
      }
    }
  }
}
