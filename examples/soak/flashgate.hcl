# The soak setup (examples/soak/run.sh): one listener per kind of load, all
# in front of flashgate-bench backends on loopback, and the admin endpoint
# the soak scrapes for goroutines. run.sh starts the backends:
#   flashgate-bench serve -mode echo     -listen 127.0.0.1:17100
#   flashgate-bench serve -mode udp-echo -listen 127.0.0.1:17400

shutdown_timeout = "5s"

log {
  level  = "warn"                       # one line per connection at info: too much for 10 minutes
  format = "json"
}

admin {
  address = "127.0.0.1:19843"
}

policy "soak" {
  site_control = "master-only"
  allow {
    domain = "127.0.0.1"
    ports  = "19000-19999"
  }
}

listener "policy" {                     # policy only
  address = "127.0.0.1:18843"
  policy  = "soak"
}

listener "binary" {
  address      = "127.0.0.1:19100"
  policy       = "soak"
  backend      = "echo"
  idle_timeout = "1m"
}

listener "raw" {                        # transparent: relayed by the event loops
  address      = "127.0.0.1:19150"
  backend      = "echo"
  idle_timeout = "1m"
}

listener "xml" {
  address      = "127.0.0.1:19200"
  policy       = "soak"
  backend      = "echo"
  protocol     = "xml"
  max_message  = "64KiB"
  idle_timeout = "1m"
}

listener "ws" {
  address      = "127.0.0.1:19300"
  policy       = "soak"                 # Origin http://127.0.0.1 is granted port 19300
  backend      = "echo"
  idle_timeout = "1m"

  websocket "/chat" {
    protocol = "binary"
  }
}

backend "echo" {
  address         = ["127.0.0.1:17100"]
  connect_timeout = "2s"
}

udp "voice" {
  address      = "127.0.0.1:19400"
  backend      = "udp-echo"
  idle_timeout = "5s"                   # sessions end soon after the load: the goroutine verdict waits 20 s
  max_datagram = 1472
  max_sessions = 1000
}

backend "udp-echo" {
  address = ["127.0.0.1:17400"]
}
