# XMLSocket clients (Flash, AIR, Ruffle through the WebSocket bridge) in front
# of a line-based backend, like the Java SimpleServer in Adobe's socket guide
# that reads with readLine(): framing = "line" turns each client NUL into
# "\n" and each backend line ("\n" or "\r\n") into a NUL-terminated message.
#
#   go run ./examples/line-backend -listen 127.0.0.1:5000
#   go run ./cmd/flashgate run -config examples/line-backend/flashgate.hcl
#   printf '<hello/>\0' | socat -t1 - TCP:127.0.0.1:8080 | od -c

log {
  level  = "debug"
  format = "console"
}

policy "chat" {
  allow {
    domain = "*"
    ports  = "8080"
  }
}

listener "chat" {
  address     = "127.0.0.1:8080"
  policy      = "chat"
  backend     = "line-chat"
  protocol    = "xml"
  max_message = "16KiB"           # applies to lines from the backend too

  websocket "/chat" {}
}

backend "line-chat" {
  address = ["127.0.0.1:5000"]
  framing = "line"
}
