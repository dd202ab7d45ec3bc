# TLS for AIR's SecureSocket in front of a plaintext legacy backend.
#
# AIR connects only when the certificate status is "trusted": in production
# use a certificate from a public CA (the acme block below, or files from
# your CA). For a local try, make a self-signed pair as README.md shows and
# trust it on the test machine.
#
#   go run ./cmd/flashgate run -config examples/tls-legacy/flashgate.hcl

# acme {
#   email   = "ops@example.com"
#   storage = "/var/lib/flashgate"
# }

policy "game" {
  allow {
    domain = "*"
    ports  = "9443"
  }
}

listener "game-tls" {
  address = "127.0.0.1:9443"
  policy  = "game"           # policy requests are answered inside TLS too
  backend = "legacy"

  tls {
    cert_file = "cert.pem"   # or: acme = ["game.example.com"]
    key_file  = "key.pem"
    # AIR runtimes before 3.x offer TLS 1.0 only. "1.0" turns on explicit
    # legacy cipher suites (Go >= 1.22 drops them by default) and logs a
    # warning at start; leave it at the default "1.2" when you can.
    min_version = "1.0"
  }
}

# The legacy game server: plaintext, unchanged.
backend "legacy" {
  address = ["127.0.0.1:5000"]
}
