# The TLS proxy on Nomad: Caddy on ports 80/443 of the nodes it runs on, with upstreams read
# from Nomad's service catalogue. The same timeouts, log filter and routes as deploy/Caddyfile
# (compose): the worker's audio socket to moot-worker, LiveKit's signalling to livekit,
# everything else to moot-api.
# Caddy re-reads the rendered Caddyfile when an instance comes or goes (--watch).
#
# Certificates live in the host volume `caddy-data` (declare it in the client configuration:
# host_volume "caddy-data" { path = "/var/lib/caddy" }); without it every restart would ask
# Let's Encrypt again.
#
#   nomad job run -var domain=meet.example.net -var livekit_domain=livekit.meet.example.net \
#     deploy/nomad/proxy.nomad.hcl

variable "datacenters" {
  type    = list(string)
  default = ["dc1"]
}

variable "image" {
  type    = string
  default = "caddy:2.8-alpine"
}

variable "domain" {
  type = string
}

variable "livekit_domain" {
  type    = string
  default = ""
}

job "moot-proxy" {
  datacenters = var.datacenters
  type        = "service"

  group "caddy" {
    count = 1

    network {
      port "http" {
        static = 80
      }
      port "https" {
        static = 443
      }
    }

    volume "caddy-data" {
      type   = "host"
      source = "caddy-data"
    }

    service {
      name     = "moot-proxy"
      provider = "nomad"
      port     = "https"

      check {
        name     = "listening"
        type     = "tcp"
        interval = "10s"
        timeout  = "3s"
      }
    }

    task "caddy" {
      driver = "docker"

      config {
        image = var.image
        ports = ["http", "https"]
        args  = ["caddy", "run", "--config", "/local/Caddyfile", "--adapter", "caddyfile", "--watch"]
      }

      volume_mount {
        volume      = "caddy-data"
        destination = "/data"
      }

      template {
        destination = "local/Caddyfile"
        change_mode = "noop"
        data        = <<-EOT
        {
            servers {
                timeouts {
                    read_header 10s
                }
            }
            log default {
                format filter {
                    wrap json
                    fields {
                        request>remote_ip delete
                        request>client_ip delete
                        request>headers>X-Participant-Id delete
                        request>headers>X-Forwarded-For delete
                        request>uri query {
                            delete token
                            delete ticket
                        }
                    }
                }
            }
        }
        ${var.domain} {
            encode zstd gzip
            handle /metrics {
                respond 404
            }
            handle /ws/transcribe {
                reverse_proxy {{ range nomadService "moot-worker" }}{{ .Address }}:{{ .Port }} {{ end }}{
                    lb_policy least_conn
                    lb_try_duration 5s
                }
            }
            handle {
                reverse_proxy {{ range nomadService "moot-api" }}{{ .Address }}:{{ .Port }} {{ end }}{
                    lb_policy least_conn
                    lb_try_duration 5s
                    health_uri /ready
                    health_interval 5s
                }
            }
        }
        %{ if var.livekit_domain != "" }
        ${var.livekit_domain} {
            reverse_proxy {{ range nomadService "livekit" }}{{ .Address }}:{{ .Port }} {{ end }}
        }
        %{ endif }
        EOT
      }

      resources {
        cpu    = 300
        memory = 256
      }
    }
  }
}
