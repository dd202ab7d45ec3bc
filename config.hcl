# flashgate default config: runs as-is, needs no root and no network.
#
#   go run ./cmd/flashgate run
#   printf '<policy-file-request/>\0' | nc 127.0.0.1 8843
#
# Everything not needed to run is here as a commented example. Durations are
# Go durations ("300ms", "5m"); sizes are bytes or strings with a unit
# ("64KiB", "1MiB"). Relative paths resolve from this file's directory.

shutdown_timeout = "30s"

log {
  level  = "info"    # debug | info | warn | error
  format = "console" # console | json
}

# admin {
#   address = "127.0.0.1:9843"
#   token   = env("FLASHGATE_ADMIN_TOKEN")
# }

# acme {
#   email   = "ops@example.com"
#   ca      = "https://acme-v02.api.letsencrypt.org/directory"
#   storage = "/var/lib/flashgate"
# }

# The policy both listeners serve: SWFs from any host may reach port 8080.
policy "local" {
  site_control = "master-only"
  allow {
    domain = "*"
    ports  = "8080"
  }
}

# The master policy server. Flash asks port 843 first; 843 needs root or
# CAP_NET_BIND_SERVICE, so the default config uses 8843.
listener "master" {
  address = "127.0.0.1:8843"
  policy  = "local"
}

# An XMLSocket listener: answers policy requests inline and relays everything
# else to the builtin echo backend.
listener "chat" {
  address       = "127.0.0.1:8080"
  policy        = "local"
  backend       = "echo"
  protocol      = "xml"
  sniff_timeout = "300ms"
  idle_timeout  = "5m"
  max_message   = "64KiB"

  # tls {
  #   cert_file   = "chat.pem"
  #   key_file    = "chat.key"
  #   min_version = "1.2"
  # }

  # websocket "/chat" {}
}

backend "echo" {
  builtin = "echo"
}

# backend "game" {
#   address         = ["127.0.0.1:5000", "127.0.0.1:5001"]
#   connect_timeout = "5s"
#   framing         = "nul"
#   tls {
#     server_name = "game.internal"
#     ca_file     = "internal-ca.pem"
#     require     = "trusted"
#   }
# }

# udp "voice" {
#   address      = "127.0.0.1:55555"
#   backend      = "voice"
#   idle_timeout = "60s"
#   max_datagram = 1472
#   max_sessions = 10000
# }
#
# backend "voice" {
#   address = ["127.0.0.1:55556"]
# }
