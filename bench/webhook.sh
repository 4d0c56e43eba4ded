#!/usr/bin/env bash
# runhv-webhook under load: wrk (Debian) on loopback, 2 threads, 64 keep-alive
# connections, 10 s, POSTing a realistic pod's AdmissionReview (one that gets
# mutated, so every request builds and encodes a patch).  Prints requests/s,
# p50/p99 latency and the webhook's RSS; goal: > 5,000 reviews/s, p99 < 10 ms.
#
#   bash bench/webhook.sh            (release build: make first)
#   DURATION=30 CONNECTIONS=128 bash bench/webhook.sh
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
webhook=${RUNHV_WEBHOOK:-$src/build/src/webhook/runhv-webhook}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
[[ -x "$webhook" ]] || { echo "bench: build first (make), or set RUNHV_WEBHOOK" >&2; exit 1; }
command -v wrk >/dev/null || { echo "bench: wrk missing (apt-get install wrk)" >&2; exit 1; }

work=$(mktemp -d /tmp/runhv-bench-webhook.XXXXXX)
pid=
cleanup() {
  [[ -n "$pid" ]] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

bash "$src/scripts/make-webhook-certs.sh" "$work/certs" >/dev/null
"$webhook" --listen 127.0.0.1:0 --tls-cert-file "$work/certs/tls.crt" \
  --tls-private-key-file "$work/certs/tls.key" >"$work/log" 2>&1 &
pid=$!
port=
for _ in $(seq 100); do
  port=$(sed -n 's/.*serving https on .* port \([0-9]*\),.*/\1/p' "$work/log")
  [[ -n "$port" ]] && break
  sleep 0.1
done
[[ -n "$port" ]] || { cat "$work/log" >&2; exit 1; }
url="https://127.0.0.1:$port/mutate"
body="$src/tests/webhook/fixtures/mutate-annotations.json"

# Check the answer once before timing it.
curl -sS --cacert "$work/certs/ca.pem" --data-binary "@$body" "$url" | grep -q '"patchType":"JSONPatch"' \
  || { echo "bench: the webhook did not mutate the sample pod" >&2; exit 1; }

cat >"$work/review.lua" <<LUA
local f = assert(io.open("$body", "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
local bad = 0
function response(status, headers, body)
  if status ~= 200 then bad = bad + 1 end
end
function done(summary, latency, requests)
  io.write(string.format("RESULT rps=%.0f p50_ms=%.3f p99_ms=%.3f errors=%d requests=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout, summary.requests))
end
LUA

rss_before=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")
wrk -t "$THREADS" -c "$CONNECTIONS" -d "${DURATION}s" --latency -s "$work/review.lua" "$url" >"$work/wrk.out"
rss_after=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")
hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status")
result=$(grep '^RESULT' "$work/wrk.out")
mutated=$(curl -sS --cacert "$work/certs/ca.pem" "https://127.0.0.1:$port/metrics" | awk '$1 == "runhv_webhook_mutated_total" { print $2 }')

echo "== runhv-webhook: wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, POST /mutate of a realistic pod ($(stat -c %s "$body") bytes)"
echo "$result" | tr ' ' '\n' | sed -n 's/^\(rps\|p50_ms\|p99_ms\|errors\|requests\)=/\1: /p'
echo "mutated_total after the run: $mutated"
echo "webhook RSS: idle ${rss_before} KiB, after load ${rss_after} KiB, peak ${hwm} KiB"
echo "machine: $(nproc) CPUs, wrk on the same CPUs as the webhook"
