# flashgate instance B behind HAProxy (examples/haproxy/haproxy.cfg).
# The two instances' configs differ only in their addresses.

shutdown_timeout = "30s"

log {
  level  = "info"
  format = "json"
}

# HAProxy health-checks GET /healthz here (check port 9843).
admin {
  address = "127.0.0.3:9843"
}

policy "games" {
  site_control = "master-only"
  allow {
    domain = "*"
    ports  = "9000"
  }
}

listener "game" {
  address        = "127.0.0.3:9000"
  policy         = "games"
  backend        = "game"
  # Every connection starts with HAProxy's PROXY v2 header: the logs, the
  # per-IP limits and a backend's own PROXY header see the real client.
  # Only HAProxy may reach this address: the header is trusted.
  proxy_protocol = "v2"
  max_connections_per_ip = 100
}

# The example echoes; point address at your game servers instead.
backend "game" {
  builtin = "echo"
}
