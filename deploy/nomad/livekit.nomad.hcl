# LiveKit (SFU) on Nomad, for rooms bigger than a peer-to-peer mesh. Host networking: WebRTC
# needs the node's own address and a UDP range (50000-60000) open to browsers. One instance
# per node; more than one share rooms through Redis (the `redis` section below).
#
#   nomad job run -var domain=meet.example.net -var livekit_domain=livekit.meet.example.net \
#     -var redis_address=redis.internal:6379 deploy/nomad/livekit.nomad.hcl
#
# Keys come from Nomad Variables at moot/secrets (livekit_api_key, livekit_api_secret): the
# same pair the API jobs read, so tokens and webhooks verify on both sides.

variable "datacenters" {
  type    = list(string)
  default = ["dc1"]
}

variable "image" {
  type    = string
  default = "livekit/livekit-server:v1.9.0"
}

variable "livekit_count" {
  type    = number
  default = 1
}

variable "domain" {
  type        = string
  description = "moot's public host name: LiveKit posts its webhooks to https://DOMAIN"
}

variable "redis_address" {
  type        = string
  description = "host:port of Redis; LiveKit keeps its node and room state in database 1"
}

job "livekit" {
  datacenters = var.datacenters
  type        = "service"

  update {
    max_parallel     = 1
    health_check     = "checks"
    min_healthy_time = "10s"
    healthy_deadline = "3m"
    auto_revert      = true
  }

  group "livekit" {
    count = var.livekit_count

    # Every instance needs the node's ports to itself.
    constraint {
      operator = "distinct_hosts"
      value    = "true"
    }

    network {
      mode = "host"
      port "http" {
        static = 7880
      }
      port "rtc_tcp" {
        static = 7881
      }
    }

    service {
      name     = "livekit"
      provider = "nomad"
      port     = "http"

      check {
        name     = "alive"
        type     = "http"
        path     = "/"
        interval = "10s"
        timeout  = "3s"
      }
    }

    task "livekit" {
      driver = "docker"

      config {
        image        = var.image
        network_mode = "host"
        args         = ["--config", "/secrets/livekit.yaml"]
      }

      # LiveKit drains its rooms on SIGTERM; give participants time to move.
      kill_timeout = "30s"

      template {
        destination = "secrets/livekit.yaml"
        change_mode = "restart"
        data        = <<-EOT
        port: 7880
        rtc:
          tcp_port: 7881
          port_range_start: 50000
          port_range_end: 60000
          use_external_ip: true
        {{- with nomadVar "moot/secrets" }}
        redis:
          address: ${var.redis_address}
          db: 1
          password: "{{ .redis_password.Value }}"
        keys:
          {{ .livekit_api_key }}: {{ .livekit_api_secret }}
        webhook:
          api_key: {{ .livekit_api_key }}
          urls:
            - https://${var.domain}/api/v1/livekit/webhook
        {{- end }}
        logging:
          json: true
          level: info
        EOT
      }

      resources {
        cpu    = 2000
        memory = 1024
      }
    }
  }
}
