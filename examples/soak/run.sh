#!/usr/bin/env bash
# Soak run: builds flashgate and flashgate-bench, starts the echo backends
# and flashgate with examples/soak/flashgate.hcl, and runs
# `flashgate-bench soak` for DURATION: mixed policy, binary, XML, WebSocket
# and UDP load, SIGHUP every HUP, RSS/descriptors/goroutines sampled every
# 10 s. Exit status is the soak's verdict (0 PASS, 1 FAIL). Everything it
# started is stopped by PID on exit.
#
#   examples/soak/run.sh                    # 10 minutes
#   DURATION=60s HUP=10s examples/soak/run.sh
#
# Environment: DURATION (10m), HUP (30s), CONNS (workers per kind, 2),
# OUT (logs and binaries, bench-out/soak).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
DURATION=${DURATION:-10m}
HUP=${HUP:-30s}
CONNS=${CONNS:-2}
OUT=${OUT:-$ROOT/bench-out/soak}
mkdir -p "$OUT"

pids=()
cleanup() {
  for p in "${pids[@]}"; do
    kill "$p" 2>/dev/null || true
  done
  for p in "${pids[@]}"; do
    wait "$p" 2>/dev/null || true
  done
}
trap cleanup EXIT

echo "== build"
go build -o "$OUT/flashgate" ./cmd/flashgate
go build -o "$OUT/flashgate-bench" ./cmd/flashgate-bench

echo "== backends"
"$OUT/flashgate-bench" serve -mode echo -listen 127.0.0.1:17100 -duration 1h >"$OUT/echo.log" 2>&1 &
pids+=($!)
"$OUT/flashgate-bench" serve -mode udp-echo -listen 127.0.0.1:17400 -duration 1h >"$OUT/udp-echo.log" 2>&1 &
pids+=($!)

echo "== flashgate"
"$OUT/flashgate" validate -config examples/soak/flashgate.hcl
"$OUT/flashgate" run -config examples/soak/flashgate.hcl >"$OUT/flashgate.log" 2>&1 &
fg=$!
pids+=("$fg")
for _ in $(seq 50); do
  if curl -fsS -o /dev/null http://127.0.0.1:19843/healthz 2>/dev/null; then break; fi
  sleep 0.2
done
curl -fsS -o /dev/null http://127.0.0.1:19843/healthz

echo "== soak for $DURATION (flashgate pid $fg, SIGHUP every $HUP)"
status=0
"$OUT/flashgate-bench" soak -pid "$fg" -metrics http://127.0.0.1:19843/metrics \
  -policy 127.0.0.1:18843 -binary 127.0.0.1:19100 -raw 127.0.0.1:19150 -xml 127.0.0.1:19200 \
  -ws 127.0.0.1:19300 -path /chat -udp 127.0.0.1:19400 \
  -conns "$CONNS" -hup "$HUP" -duration "$DURATION" | tee "$OUT/soak.txt" || status=$?

if ! kill -0 "$fg" 2>/dev/null; then
  echo "flashgate exited during the soak; its log:"; tail -50 "$OUT/flashgate.log"
  status=1
fi
echo "== flashgate warnings and errors: $(grep -c -E '"level":"(warn|error)"' "$OUT/flashgate.log" || true) (in $OUT/flashgate.log)"
grep -E '"level":"(warn|error)"' "$OUT/flashgate.log" | cut -c1-300 | sort | uniq -c | sort -rn | head -10 || true
exit $status
