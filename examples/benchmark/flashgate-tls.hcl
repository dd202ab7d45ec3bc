# flashgate terminating TLS for the benchmark's tls figures; run.sh makes an
# ECDSA P-256 certificate and passes its paths in the environment (HAProxy
# gets the same certificate).
log {
  level  = "warn"
  format = "json"
}

listener "tls-sink" {
  address      = "127.0.0.1:7106"
  backend      = "sink"
  idle_timeout = "10m"

  tls {
    cert_file = env("FLASHGATE_BENCH_CERT") != "" ? env("FLASHGATE_BENCH_CERT") : "bench-cert.pem"
    key_file  = env("FLASHGATE_BENCH_KEY") != "" ? env("FLASHGATE_BENCH_KEY") : "bench-key.pem"
  }
}

backend "sink" {
  address = ["127.0.0.1:7002"]
}
