#!/usr/bin/env bash
# Side-by-side benchmark: flashgate against HAProxy (tcp mode, splice forced, 1 MiB pipes),
# nginx stream, socat, websockify and the npm policyfile server, all on
# loopback in front of the same backends, in one run. Every figure runs
# RUNS times, interleaved across targets; the report prints medians and the
# ratio flashgate ÷ peer (and ÷ direct, the physical limit).
#
#   examples/benchmark/run.sh              # all figures, 3 runs of 5 s
#   RUNS=1 DURATION=2s FIGURES="throughput connrate" examples/benchmark/run.sh
#   BEFORE=/tmp/old/flashgate examples/benchmark/run.sh   # also an older build, as "before"
#
# BEFORE names a flashgate binary built from an earlier commit. It runs beside
# the current build on the same backends (its listeners on 78xx instead of
# 71xx), so a change is measured against the build it replaces in one run,
# with the peers' ratios as the yardstick for the machine's noise.
#
# Installs the peers the requested FIGURES compare with (Debian packages, npm
# policyfile) when missing, and starts only those. Needs root
# for apt-get only. Stops everything it started by PID on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
OUT=${OUT:-$ROOT/bench-out}
RUNS=${RUNS:-3}
DURATION=${DURATION:-5s}
FIGURES=${FIGURES:-"throughput connrate latency idle policy xml ws udp tls"}
mkdir -p "$OUT"
RESULTS=$OUT/results.jsonl
: > "$RESULTS"

# uses PEER: does a requested figure compare flashgate with PEER? Only those
# peers are installed and started.
uses() {
  local fig
  for fig in $FIGURES; do
    case "$1:$fig" in
      haproxy:throughput | haproxy:connrate | haproxy:latency | haproxy:idle | haproxy:xml | haproxy:tls) return 0 ;;
      nginx:throughput | nginx:connrate | nginx:latency | nginx:idle | nginx:udp) return 0 ;;
      socat:throughput | socat:connrate | socat:udp) return 0 ;;
      websockify:ws | node:policy) return 0 ;;
    esac
  done
  return 1
}

need=()
if uses haproxy; then command -v haproxy >/dev/null || need+=(haproxy); fi
if uses nginx; then
  command -v nginx >/dev/null || need+=(nginx-light)
  [ -e /usr/lib/nginx/modules/ngx_stream_module.so ] || need+=(libnginx-mod-stream)
fi
if uses socat; then command -v socat >/dev/null || need+=(socat); fi
if uses websockify; then command -v websockify >/dev/null || need+=(websockify); fi
if uses node; then command -v node >/dev/null || need+=(nodejs npm); fi
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
if uses node && [ ! -d "$OUT/npm/node_modules/policyfile" ]; then
  mkdir -p "$OUT/npm"
  (cd "$OUT/npm" && npm install --silent --no-audit --no-fund policyfile@0.0.6 >/dev/null)
fi

go build -o "$OUT/flashgate" ./cmd/flashgate
go build -o "$OUT/flashgate-bench" ./cmd/flashgate-bench
B=$OUT/flashgate-bench

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true  # HAProxy sizes its fd limit from maxconn

PIDS=()
cleanup() {
  # socat forks a child per client; its UDP children would outlive it.
  for p in "${PIDS[@]}" ${FGB_PID:-} ${FG_PID:-} ${FGT_PID:-} ${HA_PID:-} ${HA64_PID:-}; do
    pkill -P "$p" 2>/dev/null || true
    kill "$p" 2>/dev/null || true
  done
  [ -f "$OUT/nginx/nginx.pid" ] && kill "$(cat "$OUT/nginx/nginx.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT
start() { "$@" >>"$OUT/peers.log" 2>&1 & PIDS+=($!); }

# Backends shared by every target.
start "$B" serve -mode echo -listen 127.0.0.1:7001
start "$B" serve -mode discard -listen 127.0.0.1:7002
start "$B" serve -mode udp-echo -listen 127.0.0.1:7003
start "$B" serve -mode ws-echo -listen 127.0.0.1:7004
start "$B" serve -mode policy -listen 127.0.0.1:7845
GOPOLICY_PID=${PIDS[-1]}
# The bare Go relay (io.Copy each way) the goals are stated against.
start "$B" serve -mode relay -listen 127.0.0.1:7601 -to 127.0.0.1:7001
GOBARE_ECHO_PID=${PIDS[-1]}
start "$B" serve -mode relay -listen 127.0.0.1:7602 -to 127.0.0.1:7002
GOBARE_SINK_PID=${PIDS[-1]}

# The gateways. They are restarted before the idle figure: memory per idle
# connection is read as RSS growth, which a warm heap would hide.
# One ECDSA P-256 certificate for every TLS terminator.
if [ ! -f "$OUT/bench-cert.pem" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -keyout "$OUT/bench-key.pem" -out "$OUT/bench-cert.pem" -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 2>/dev/null
fi
cat "$OUT/bench-cert.pem" "$OUT/bench-key.pem" >"$OUT/bench.pem"
export FLASHGATE_BENCH_CERT=$OUT/bench-cert.pem FLASHGATE_BENCH_KEY=$OUT/bench-key.pem BENCH_PEM=$OUT/bench.pem

start_gateways() {
  if [ -n "${BEFORE:-}" ]; then
    sed -e 's/127\.0\.0\.1:71/127.0.0.1:78/' -e 's/127\.0\.0\.1:7843/127.0.0.1:7853/' \
      -e 's/7100-7199/7800-7899/' -e 's/ports  = "7103"/ports  = "7803"/' \
      examples/benchmark/flashgate.hcl >"$OUT/flashgate-before.hcl"
    "$BEFORE" run -config "$OUT/flashgate-before.hcl" >>"$OUT/peers.log" 2>&1 &
    FGB_PID=$!
  fi
  "$OUT/flashgate" run -config examples/benchmark/flashgate.hcl >>"$OUT/peers.log" 2>&1 &
  FG_PID=$!
  "$OUT/flashgate" run -config examples/benchmark/flashgate-tls.hcl >>"$OUT/peers.log" 2>&1 &
  FGT_PID=$!
  if uses haproxy; then
    haproxy -f examples/benchmark/haproxy.cfg -db >>"$OUT/peers.log" 2>&1 &
    HA_PID=$!
    haproxy -f examples/benchmark/haproxy-64k.cfg -db >>"$OUT/peers.log" 2>&1 &
    HA64_PID=$!
  fi
  if uses nginx; then
    mkdir -p "$OUT/nginx/logs"
    cp examples/benchmark/nginx.conf "$OUT/nginx/nginx.conf"
    nginx -p "$OUT/nginx" -c nginx.conf -g 'daemon on;'
  fi
  sleep 1
  if uses nginx; then
    NGINX_WORKERS=$(pgrep -P "$(cat "$OUT/nginx/nginx.pid")" | paste -sd, -)
  fi
}
stop_gateways() {
  kill $FG_PID $FGT_PID ${FGB_PID:-} ${HA_PID:-} ${HA64_PID:-} 2>/dev/null || true
  [ -f "$OUT/nginx/nginx.pid" ] && kill "$(cat "$OUT/nginx/nginx.pid")" 2>/dev/null || true
  wait $FG_PID $FGT_PID ${FGB_PID:-} ${HA_PID:-} ${HA64_PID:-} 2>/dev/null || true
  sleep 1
}
start_gateways
if uses socat; then
  start socat TCP-LISTEN:7401,fork,reuseaddr,backlog=1024 TCP:127.0.0.1:7001
  start socat TCP-LISTEN:7402,fork,reuseaddr,backlog=1024 TCP:127.0.0.1:7002
  start socat -T 30 UDP-LISTEN:7403,fork,reuseaddr UDP:127.0.0.1:7003
fi
if uses websockify; then start websockify 127.0.0.1:7501 127.0.0.1:7001; fi
if uses node; then
  export NODE_PATH=$OUT/npm/node_modules
  start node examples/benchmark/policyfile-server.js 7844
  NPM_PID=${PIDS[-1]}
  start node examples/benchmark/policyfile-server.js 7846 fixed
  NPMFIXED_PID=${PIDS[-1]}
fi
sleep 2

# withpid LABEL PORT: "-pid PIDS" for the targets whose processes are known,
# so the figure also reports the CPU time they spent (steadier than rates on
# a shared machine); nothing for direct and socat (a process per connection).
withpid() {
  local p=
  case $1 in
    flashgate) p=$FG_PID ;;
    flashgate-before) p=${FGB_PID:-} ;;
    haproxy) p=$HA_PID ;;
    haproxy-64k) p=$HA64_PID ;;
    nginx) p=$NGINX_WORKERS ;;
    go-bare) if [ "$2" = 7601 ]; then p=$GOBARE_ECHO_PID; else p=$GOBARE_SINK_PID; fi ;;
    go-minimal) p=$GOPOLICY_PID ;;
    npm-policyfile) p=$NPM_PID ;;
    npm-fixed) p=$NPMFIXED_PID ;;
  esac
  [ -n "$p" ] && echo "-pid $p"
  return 0
}

# before PORT: the "before" build's target on PORT, when BEFORE is set.
before() { if [ -n "${BEFORE:-}" ]; then echo "flashgate-before:$1"; fi; }

bench() { # figure label target [flags...]
  local fig=$1 label=$2 target=$3; shift 3
  "$B" "$fig" -target "$target" -label "$label" -duration "$DURATION" -json "$@" >>"$RESULTS" \
    || echo "{\"mode\":\"$fig\",\"label\":\"$label\",\"seconds\":0,\"note\":\"failed\"}" >>"$RESULTS"
}

for run in $(seq "$RUNS"); do
  echo "run $run/$RUNS"
  for fig in $FIGURES; do
    case $fig in
      throughput)
        for t in direct:7002 flashgate:7102 $(before 7802) go-bare:7602 haproxy:7202 haproxy-64k:7212 nginx:7302 socat:7402; do
          bench throughput "${t%%:*}" "127.0.0.1:${t##*:}" $(withpid "${t%%:*}" "${t##*:}"); done ;;
      connrate)
        for t in direct:7001 flashgate:7101 $(before 7801) go-bare:7601 haproxy:7201 nginx:7301 socat:7401; do
          bench connrate "${t%%:*}" "127.0.0.1:${t##*:}" $(withpid "${t%%:*}" "${t##*:}"); done ;;
      latency)
        for t in direct:7001 flashgate:7101 $(before 7801) haproxy:7201 nginx:7301; do
          bench latency "${t%%:*}" "127.0.0.1:${t##*:}" -rate 5000; done ;;
      idle)
        stop_gateways
        start_gateways
        bench idle flashgate 127.0.0.1:7101 -conns 2000 -duration 1s -pid "$FG_PID"
        if [ -n "${BEFORE:-}" ]; then
          bench idle flashgate-before 127.0.0.1:7801 -conns 2000 -duration 1s -pid "$FGB_PID"
        fi
        bench idle haproxy 127.0.0.1:7201 -conns 2000 -duration 1s -pid "$HA_PID"
        bench idle nginx 127.0.0.1:7301 -conns 2000 -duration 1s -pid "$NGINX_WORKERS" ;;
      policy)
        for t in go-minimal:7845 flashgate:7843 $(before 7853) npm-policyfile:7844 npm-fixed:7846; do
          bench policy "${t%%:*}" "127.0.0.1:${t##*:}" $(withpid "${t%%:*}" "${t##*:}"); done ;;
      xml)
        for t in direct:7001 flashgate:7104 $(before 7804) haproxy:7201; do
          bench xml "${t%%:*}" "127.0.0.1:${t##*:}"; done ;;
      ws)
        bench ws direct 127.0.0.1:7004 -path /
        bench ws flashgate 127.0.0.1:7103 -path /chat
        if [ -n "${BEFORE:-}" ]; then bench ws flashgate-before 127.0.0.1:7803 -path /chat; fi
        bench ws websockify 127.0.0.1:7501 -path /
        bench ws direct-bulk 127.0.0.1:7004 -path / -size 65536
        bench ws flashgate-bulk 127.0.0.1:7103 -path /chat -size 65536
        if [ -n "${BEFORE:-}" ]; then bench ws flashgate-before-bulk 127.0.0.1:7803 -path /chat -size 65536; fi
        bench ws websockify-bulk 127.0.0.1:7501 -path / -size 65536 ;;
      tls)
        bench tls flashgate 127.0.0.1:7106
        bench tls haproxy 127.0.0.1:7206
        bench throughput flashgate-tls 127.0.0.1:7106 -tls
        bench throughput haproxy-tls 127.0.0.1:7206 -tls ;;
      udp)
        for t in direct:7003 flashgate:7105 $(before 7805) nginx:7303 socat:7403; do
          bench udp "${t%%:*}" "127.0.0.1:${t##*:}"; done ;;
    esac
  done
done

echo
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r); $(go version | cut -d' ' -f3)"
"$B" report <"$RESULTS" | tee "$OUT/report.txt"
