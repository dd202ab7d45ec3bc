# Ruffle in the browser cannot open TCP: its socketProxy maps the SWF's
# host:port to a WebSocket URL, and flashgate bridges that WebSocket to the
# TCP backend. Desktop Flash/AIR/Ruffle clients use the same port with raw
# TCP (policy request, then XMLSocket messages).
#
#   go run ./cmd/flashgate run -config examples/ruffle/flashgate.hcl
#   python3 -m http.server 8000 -d examples/ruffle    # then open http://localhost:8000/
#
# The page's origin (localhost) must be granted by the policy: the bridge
# evaluates the Origin header against it for port 8080 and answers 403
# otherwise, before any backend connection.

log {
  level  = "debug"
  format = "console"
}

policy "ruffle" {
  site_control = "master-only"
  allow {
    domain = "localhost"
    ports  = "8080"
  }
  allow {
    domain = "127.0.0.1"
    ports  = "8080"
  }
}

listener "game" {
  address       = "127.0.0.1:8080"
  policy        = "ruffle"         # socket policy, /crossdomain.xml, Origin checks
  backend       = "chat"
  protocol      = "xml"            # raw XMLSocket clients: NUL-framed, max_message
  max_message   = "64KiB"
  idle_timeout  = "5m"

  websocket "/chat" {}             # ws://localhost:8080/chat → backend "chat", xml
}

backend "chat" {
  builtin = "echo"                 # replace with address = ["127.0.0.1:5000"]
}
