# flashgate under benchmark: the same backends every peer fronts.
#   7001 echo, 7002 discard (flashgate-bench serve); 7003 UDP echo
log {
  level  = "warn"
  format = "json"
}

policy "bench" {
  allow {
    domain = "*"
    ports  = "7100-7199"
  }
}

listener "policy" {
  address = "127.0.0.1:7843"
  policy  = "bench"
}

listener "echo" {
  address      = "127.0.0.1:7101"
  backend      = "echo"
  idle_timeout = "10m"
}

listener "sink" {
  address      = "127.0.0.1:7102"
  backend      = "sink"
  idle_timeout = "10m"
}

backend "echo" {
  address = ["127.0.0.1:7001"]
}

backend "sink" {
  address = ["127.0.0.1:7002"]
}

# WebSocket bridge (Ruffle's path) to the echo backend.
policy "ws" {
  allow {
    domain = "127.0.0.1"
    ports  = "7103"
  }
}

listener "ws" {
  address      = "127.0.0.1:7103"
  policy       = "ws"
  backend      = "echo"
  idle_timeout = "10m"
  websocket "/chat" {}
}

# XMLSocket framing (NUL-terminated messages) to the echo backend.
listener "xml" {
  address      = "127.0.0.1:7104"
  backend      = "echo"
  protocol     = "xml"
  idle_timeout = "10m"
}

udp "udp" {
  address = "127.0.0.1:7105"
  backend = "udpecho"
}

backend "udpecho" {
  address = ["127.0.0.1:7003"]
}
