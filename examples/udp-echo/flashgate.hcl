# UDP in front of the echo backend:
#   go run ./examples/udp-echo -listen 127.0.0.1:55556
#   go run ./cmd/flashgate run -config examples/udp-echo/flashgate.hcl
# then send datagrams to 127.0.0.1:55555 (an AIR DatagramSocket, or
#   socat - UDP:127.0.0.1:55555).

log {
  level  = "debug"                      # debug shows one line per ended UDP session
  format = "console"
}

admin {
  address = "127.0.0.1:9843"            # /status lists the UDP sessions, /metrics counts them
}

udp "echo" {
  address      = "127.0.0.1:55555"
  backend      = "udp-echo"
  idle_timeout = "60s"
  max_datagram = 1472                   # one unfragmented datagram on a 1500-byte IPv4 path
  max_sessions = 10000
}

backend "udp-echo" {
  address = ["127.0.0.1:55556"]
}
