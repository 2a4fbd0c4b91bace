# coturn (TURN) on Nomad for browsers behind strict NATs. Host networking: 3478 (UDP and TCP),
# 5349 (TLS, once certificates are set up) and the relay range 40000-49999/udp.
#
# The configuration is deploy/coturn/turnserver.conf, read when the job is submitted: run
# `nomad job run` from the repository's top.
#
#   nomad job run -var domain=meet.example.net deploy/nomad/coturn.nomad.hcl
#
# The shared secret (turn_secret at moot/secrets) is also the API jobs' MOOT_TURN_SECRET: moot
# mints each participant's TURN credential from it (coturn's use-auth-secret).

variable "datacenters" {
  type    = list(string)
  default = ["dc1"]
}

variable "image" {
  type    = string
  default = "coturn/coturn:4.6"
}

variable "domain" {
  type        = string
  description = "the TURN realm: moot's public host name"
}

variable "coturn_count" {
  type    = number
  default = 1
}

job "coturn" {
  datacenters = var.datacenters
  type        = "service"

  update {
    max_parallel     = 1
    health_check     = "checks"
    min_healthy_time = "10s"
    healthy_deadline = "2m"
    auto_revert      = true
  }

  group "coturn" {
    count = var.coturn_count

    constraint {
      operator = "distinct_hosts"
      value    = "true"
    }

    network {
      mode = "host"
      port "turn" {
        static = 3478
      }
      port "turns" {
        static = 5349
      }
    }

    service {
      name     = "coturn"
      provider = "nomad"
      port     = "turn"

      check {
        name     = "listening"
        type     = "tcp"
        interval = "10s"
        timeout  = "3s"
      }
    }

    task "coturn" {
      driver = "docker"

      config {
        image        = var.image
        network_mode = "host"
        # The image's entrypoint evaluates its arguments: $(detect-external-ip) finds the
        # node's public address for the relays it hands out.
        args = ["-c", "/secrets/turnserver.conf", "--external-ip=$(detect-external-ip)"]
      }

      template {
        destination = "secrets/turnserver.conf"
        change_mode = "restart"
        data        = <<-EOT
        ${file("deploy/coturn/turnserver.conf")}
        realm=${var.domain}
        {{ with nomadVar "moot/secrets" }}static-auth-secret={{ .turn_secret }}{{ end }}
        EOT
      }

      resources {
        cpu    = 500
        memory = 256
      }
    }
  }
}
