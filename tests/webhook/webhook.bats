#!/usr/bin/env bats
# runhv-webhook over real HTTPS on loopback (curl with a test CA), every
# answer checked with a real JSON-patch implementation, and the manifests of
# `runhv config kubernetes` parsed and checked field by field.
#
#   RUNHV=... RUNHV_WEBHOOK=... RUNHV_BUILD_DIR=... RUNHV_SOURCE_DIR=... bats --tap tests/webhook/webhook.bats

: "${RUNHV:?RUNHV must point at the runhv binary under test}"
: "${RUNHV_WEBHOOK:?RUNHV_WEBHOOK must point at the runhv-webhook binary under test}"
: "${RUNHV_SOURCE_DIR:?}"
PY=/usr/bin/python3 # Debian's, which has python3-jsonpatch and python3-yaml
HERE="$RUNHV_SOURCE_DIR/tests/webhook"
FIX="$HERE/fixtures"
CHECK="$HERE/check.py"

# Start a webhook on 127.0.0.1 with a free port (port 0: it logs the port it
# got); sets WH_PID and WH_PORT.  Extra arguments go to the webhook.
start_webhook() {
  local dir=$1 log=$2
  shift 2
  rm -f "$log" "$log.pid" "$log.status"
  # The status file records how it exited, for stop_webhook, also when a
  # later test (not the starting shell) stops it.
  (
    "$RUNHV_WEBHOOK" --listen 127.0.0.1:0 --tls-cert-file "$dir/tls.crt" --tls-private-key-file "$dir/tls.key" \
      --tls-reload-interval 1 "$@" >"$log" 2>&1 &
    echo $! >"$log.pid"
    wait $!
    echo $? >"$log.status"
  ) 3>&- &
  WH_LOG=$log
  WH_PORT=
  for _ in $(seq 100); do
    # (under load the subshell may not have written either yet)
    WH_PID=$(cat "$log.pid" 2>/dev/null || true)
    WH_PORT=$(sed -n 's/.*serving https on .* port \([0-9]*\),.*/\1/p' "$log" 2>/dev/null || true)
    [[ -n "$WH_PORT" ]] && return 0
    [[ -e "$log.status" ]] && break
    sleep 0.1
  done
  cat "$log" >&3
  return 1
}

# Stop it with SIGTERM: it must exit 0 (under ASan: no leaks either).
stop_webhook() {
  local log=$1
  kill -TERM "$(cat "$log.pid")"
  for _ in $(seq 100); do
    if [[ -e "$log.status" ]]; then
      [[ $(cat "$log.status") == 0 ]] || fail "runhv-webhook exited with $(cat "$log.status"): $(tail -5 "$log")"
      return
    fi
    sleep 0.1
  done
  fail "runhv-webhook did not stop within 10 s of SIGTERM"
}

setup_file() {
  export CERTS="$BATS_FILE_TMPDIR/certs"
  bash "$RUNHV_SOURCE_DIR/scripts/make-webhook-certs.sh" "$CERTS" >/dev/null
  export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
  start_webhook "$CERTS" "$BATS_FILE_TMPDIR/webhook.log" --exclude-namespace legacy --exclude-namespace other-ns
  export WH_PID WH_PORT WH_LOG
  export URL="https://127.0.0.1:$WH_PORT"
}

# A test that failed before stopping its own webhook must not leave it
# running: it would hold bats' output open and hang the suite.
teardown() {
  local pidf
  for pidf in "$BATS_TEST_TMPDIR"/*.pid; do
    [[ -e "$pidf" && ! -e "${pidf%.pid}.status" ]] || continue
    kill -KILL "$(cat "$pidf")" 2>/dev/null || true
  done
}

teardown_file() {
  if [[ -n "${WH_LOG:-}" && ! -e "$WH_LOG.status" ]]; then
    kill -TERM "$(cat "$WH_LOG.pid")" 2>/dev/null || true
  fi
}

# curl the main webhook: prints the HTTP status; the body goes to $BATS_TEST_TMPDIR/body.
hcurl() {
  curl -sS --cacert "$CERTS/ca.pem" -o "$BATS_TEST_TMPDIR/body" -w '%{http_code}' "$@"
}

post() {
  hcurl -H 'Content-Type: application/json' --data-binary "@$1" "$URL/mutate"
}

# The value of one sample of /metrics, e.g. metric 'runhv_webhook_mutated_total'.
metric() {
  curl -sS --cacert "$CERTS/ca.pem" "$URL/metrics" | awk -v name="$1" '$1 == name { print $2; found = 1 } END { if (!found) print "missing" }'
}

# Post a mutate-* or skip-* fixture; check the answer and the counter it moves.
review() {
  local fixture="$FIX/$1.json" counter before after status
  case "$1" in
    mutate-*) counter='runhv_webhook_mutated_total' ;;
    skip-*)
      local reason=${1#skip-}
      counter="runhv_webhook_skipped_total{reason=\"${reason%%-*}\"}"
      ;;
  esac
  before=$(metric "$counter")
  [[ "$before" =~ ^[0-9]+$ ]] || fail "metric $counter: $before"
  status=$(post "$fixture")
  [[ "$status" == 200 ]] || fail "$1: HTTP $status: $(cat "$BATS_TEST_TMPDIR/body")"
  "$PY" "$CHECK" review "$fixture" "$BATS_TEST_TMPDIR/body" "${2:-runhv-hypervisor}" || fail "$1: wrong answer"
  after=$(metric "$counter")
  [[ "$after" == $((before + 1)) ]] || fail "$counter went from $before to $after"
}

# A malformed request: the status, a one-line reason, and the error counter.
rejected() {
  local want_status=$1 want_reason=$2 label=$3 before after status
  shift 3
  before=$(metric "runhv_webhook_errors_total{reason=\"$label\"}")
  status=$(hcurl "$@")
  [[ "$status" == "$want_status" ]] || fail "HTTP $status, wanted $want_status: $(head -c 300 "$BATS_TEST_TMPDIR/body")"
  [[ $(wc -l <"$BATS_TEST_TMPDIR/body") == 1 ]] || fail "reason is not one line: $(cat "$BATS_TEST_TMPDIR/body")"
  grep -q -- "$want_reason" "$BATS_TEST_TMPDIR/body" || fail "reason lacks '$want_reason': $(cat "$BATS_TEST_TMPDIR/body")"
  after=$(metric "runhv_webhook_errors_total{reason=\"$label\"}")
  [[ "$after" == $((before + 1)) ]] || fail "errors_total{$label} went from $before to $after"
}

bad_review() {
  rejected 400 "$2" bad_request -H 'Content-Type: application/json' --data-binary "@$FIX/$1.json" "$URL/mutate"
}

fail() {
  echo "# $*" >&3
  return 1
}

@test "the webhook runs confined: no_new_privs, no capabilities, a seccomp filter" {
  local st=/proc/$WH_PID/status
  grep -qx 'NoNewPrivs:[[:space:]]*1' "$st"
  grep -qx 'Seccomp:[[:space:]]*2' "$st"
  grep -qx 'CapEff:[[:space:]]*0000000000000000' "$st"
  grep -qx 'CapPrm:[[:space:]]*0000000000000000' "$st"
  # every thread, MHD's included, has it
  local t
  for t in /proc/$WH_PID/task/*/status; do
    grep -qx 'Seccomp:[[:space:]]*2' "$t"
  done
}

@test "healthz and readyz answer ok over TLS with the test CA" {
  [[ $(hcurl "$URL/healthz") == 200 ]]
  [[ $(cat "$BATS_TEST_TMPDIR/body") == ok ]]
  [[ $(hcurl "$URL/readyz") == 200 ]]
  [[ $(cat "$BATS_TEST_TMPDIR/body") == ok ]]
  # the certificate names localhost too
  [[ $(curl -sS --cacert "$CERTS/ca.pem" -o /dev/null -w '%{http_code}' "https://localhost:$WH_PORT/healthz") == 200 ]]
}

@test "an untrusted client CA fails the handshake" {
  bash "$RUNHV_SOURCE_DIR/scripts/make-webhook-certs.sh" "$BATS_TEST_TMPDIR/other" >/dev/null
  run curl -sS --cacert "$BATS_TEST_TMPDIR/other/ca.pem" "$URL/healthz"
  [[ "$status" -ne 0 ]]
}

@test "mutate: pod without annotations gets the class and a new annotations map" { review mutate-no-annotations; }
@test "mutate: pod with annotations keeps them and gains the marker" { review mutate-annotations; }
@test "mutate: annotation keys with / and ~ survive, a stale marker is replaced" { review mutate-annotations-escape; }
@test "mutate: annotations: null" { review mutate-null-annotations; }
@test "mutate: annotations: {}" { review mutate-empty-annotations; }
@test "mutate: pod without metadata" { review mutate-no-metadata; }
@test "mutate: linux nodeSelector, spec.os and an affinity term that allows linux" { review mutate-linux-selectors; }
@test "mutate: runtimeClassName: null counts as unset" { review mutate-null-runtimeclass; }
@test "mutate: an unprivileged init container does not block" { review mutate-unprivileged-init; }

@test "skip: runtimeClassName already set" { review skip-runtime_class_set; }
@test "skip: hostNetwork" { review skip-host_network; }
@test "skip: hostPID" { review skip-host_pid; }
@test "skip: hostIPC" { review skip-host_ipc; }
@test "skip: privileged container" { review skip-privileged-container; }
@test "skip: privileged init container" { review skip-privileged-init; }
@test "skip: privileged ephemeral container" { review skip-privileged-ephemeral; }
@test "skip: nodeSelector kubernetes.io/os: windows" { review skip-non_linux_os-nodeselector; }
@test "skip: required node affinity In [windows]" { review skip-non_linux_os-affinity-in; }
@test "skip: required node affinity whose every term rules linux out" { review skip-non_linux_os-affinity-notin; }
@test "skip: spec.os.name windows" { review skip-non_linux_os-spec-os; }
@test "skip: label runhv.io/isolation: process" { review skip-process_isolation_label; }
@test "skip: namespace given with --exclude-namespace" { review skip-excluded_namespace; }
@test "skip: UPDATE" { review skip-not_create-update; }
@test "skip: DELETE" { review skip-not_create-delete; }
@test "skip: a Deployment is not a Pod" { review skip-not_pod-deployment; }

@test "400: malformed JSON" { bad_review bad-json "not valid JSON"; }
@test "400: wrong apiVersion" { bad_review bad-apiversion "apiVersion"; }
@test "400: wrong kind" { bad_review bad-kind "kind"; }
@test "400: missing uid" { bad_review bad-no-uid "request.uid: missing"; }
@test "400: uid that is not a string" { bad_review bad-uid-number "request.uid"; }
@test "400: no request" { bad_review bad-no-request "request: missing"; }
@test "400: a JSON array" { bad_review bad-array "must be a JSON object"; }
@test "400: spec that is not an object" { bad_review bad-spec-not-object "request.object.spec"; }
@test "400: containers that is not a list" { bad_review bad-containers-not-list "request.object.spec.containers"; }

@test "400: privileged: \"true\" (a string)" { bad_review bad-privileged-string "securityContext.privileged: must be a boolean"; }
@test "400: hostNetwork: \"true\" (a string)" { bad_review bad-hostnetwork-string "hostNetwork: must be a boolean"; }
@test "400: a label value that is a number" { bad_review bad-label-number 'labels\["runhv.io/isolation"\]: must be a string'; }
@test "400: a nodeSelector value that is a number" { bad_review bad-nodeselector-number "nodeSelector.*must be a string"; }
@test "400: affinity values that are not strings" { bad_review bad-affinity-values "values\[0\]: must be a string"; }
@test "400: spec.os.name that is not a string" { bad_review bad-os-name "os.name: must be a string"; }
@test "400: an annotation value that is a number" { bad_review bad-annotation-number "annotations.*must be a string"; }

@test "400: empty body" {
  rejected 400 "empty" bad_request -X POST -H 'Content-Type: application/json' "$URL/mutate"
}

@test "requests_total counts every POST /mutate, malformed or not" {
  local before after
  before=$(metric runhv_webhook_requests_total)
  post "$FIX/mutate-no-annotations.json" >/dev/null
  post "$FIX/bad-json.json" >/dev/null
  after=$(metric runhv_webhook_requests_total)
  [[ "$after" == $((before + 2)) ]]
}

@test "413: a body over 3 MiB is refused from its Content-Length" {
  head -c $((3 * 1024 * 1024 + 1)) /dev/zero | tr '\0' ' ' >"$BATS_TEST_TMPDIR/big.json"
  rejected 413 "too large" body_too_large -H 'Content-Type: application/json' --data-binary "@$BATS_TEST_TMPDIR/big.json" "$URL/mutate"
}

@test "a review of exactly 3 MiB is still answered" {
  local f="$BATS_TEST_TMPDIR/exact.json"
  "$PY" -c '
import sys
doc = open(sys.argv[1]).read().rstrip("\n")
sys.stdout.write(doc + " " * (3 * 1024 * 1024 - len(doc.encode())))' "$FIX/mutate-annotations.json" >"$f"
  [[ $(stat -c %s "$f") == $((3 * 1024 * 1024)) ]]
  [[ $(post "$f") == 200 ]]
  "$PY" "$CHECK" review "$FIX/mutate-annotations.json" "$BATS_TEST_TMPDIR/body" runhv-hypervisor
}

@test "a chunked body over 3 MiB is cut off, and the server keeps serving" {
  head -c $((4 * 1024 * 1024)) /dev/zero | tr '\0' ' ' >"$BATS_TEST_TMPDIR/big.json"
  run curl -sS --cacert "$CERTS/ca.pem" -H 'Transfer-Encoding: chunked' --data-binary "@$BATS_TEST_TMPDIR/big.json" "$URL/mutate"
  [[ "$status" -ne 0 || "$output" != *allowed* ]]
  [[ $(hcurl "$URL/healthz") == 200 ]]
}

@test "wrong method or path: 405 and 404" {
  rejected 405 "use POST" method_not_allowed "$URL/mutate"
  rejected 405 "use GET" method_not_allowed -X POST -d x "$URL/healthz"
  rejected 404 "not found" not_found "$URL/nope"
  rejected 404 "not found" not_found -X POST -d x "$URL/mutate/x"
}

@test "metrics: Prometheus text with every skip reason and a latency histogram" {
  local m="$BATS_TEST_TMPDIR/metrics" before after
  before=$(metric runhv_webhook_review_duration_seconds_count)
  post "$FIX/skip-host_pid.json" >/dev/null
  [[ $(hcurl "$URL/metrics") == 200 ]]
  cp "$BATS_TEST_TMPDIR/body" "$m"
  for r in not_pod not_create excluded_namespace runtime_class_set process_isolation_label host_network host_pid host_ipc privileged non_linux_os; do
    grep -q "^runhv_webhook_skipped_total{reason=\"$r\"} [0-9]*$" "$m" || fail "no skip reason $r"
  done
  grep -q '^# TYPE runhv_webhook_review_duration_seconds histogram$' "$m"
  grep -q '^runhv_webhook_review_duration_seconds_bucket{le="+Inf"} [0-9]*$' "$m"
  # every line is a comment or NAME{labels} VALUE
  if grep -Ev '^(# (HELP|TYPE) .*|[a-z_]+(\{[a-z_]+="[^"]*"\})? [0-9.e+-]+)$' "$m"; then return 1; fi
  after=$(metric runhv_webhook_review_duration_seconds_count)
  [[ "$after" -ge $((before + 1)) ]]
  # buckets are cumulative
  awk -F' ' '/_bucket/ { if ($2 < last) exit 1; last = $2 }' "$m"
}

@test "TLS 1.1 and older are refused; 1.2 and 1.3 work" {
  run curl -sS --cacert "$CERTS/ca.pem" --tls-max 1.1 "$URL/healthz"
  [[ "$status" -ne 0 ]]
  [[ $(curl -sS --cacert "$CERTS/ca.pem" --tlsv1.2 --tls-max 1.2 -o /dev/null -w '%{http_code}' "$URL/healthz") == 200 ]]
  [[ $(curl -sS --cacert "$CERTS/ca.pem" --tlsv1.3 -o /dev/null -w '%{http_code}' "$URL/healthz") == 200 ]]
}

@test "--runtime-class sets another class" {
  start_webhook "$CERTS" "$BATS_TEST_TMPDIR/wh.log" --runtime-class runhv-hypervisor-1vp2gb
  local status
  status=$(curl -sS --cacert "$CERTS/ca.pem" -o "$BATS_TEST_TMPDIR/resp" -w '%{http_code}' \
    --data-binary "@$FIX/mutate-annotations.json" "https://127.0.0.1:$WH_PORT/mutate")
  local ok=0
  [[ "$status" == 200 ]] && "$PY" "$CHECK" review "$FIX/mutate-annotations.json" "$BATS_TEST_TMPDIR/resp" runhv-hypervisor-1vp2gb || ok=1
  # without --exclude-namespace, that namespace is mutated
  curl -sS --cacert "$CERTS/ca.pem" --data-binary "@$FIX/skip-excluded_namespace.json" "https://127.0.0.1:$WH_PORT/mutate" | grep -q '"patch"' || ok=1
  stop_webhook "$WH_LOG"
  [[ $ok == 0 ]]
}

@test "certificates are reloaded when the files change" {
  local d="$BATS_TEST_TMPDIR/live" new="$BATS_TEST_TMPDIR/new" u
  mkdir -p "$d"
  cp "$CERTS/tls.crt" "$CERTS/tls.key" "$d/"
  start_webhook "$d" "$BATS_TEST_TMPDIR/wh.log"
  u="https://127.0.0.1:$WH_PORT/healthz"
  curl -sS --cacert "$CERTS/ca.pem" "$u" >/dev/null
  bash "$RUNHV_SOURCE_DIR/scripts/make-webhook-certs.sh" "$new" >/dev/null
  # as a Secret volume does: new files swapped in by rename
  cp "$new/tls.key" "$d/tls.key.tmp" && mv "$d/tls.key.tmp" "$d/tls.key"
  cp "$new/tls.crt" "$d/tls.crt.tmp" && mv "$d/tls.crt.tmp" "$d/tls.crt"
  local ok=1
  for _ in $(seq 50); do
    if curl -sS --cacert "$new/ca.pem" "$u" >/dev/null 2>&1; then ok=0; break; fi
    sleep 0.2
  done
  local old=0
  curl -sS --cacert "$CERTS/ca.pem" "$u" >/dev/null 2>&1 || old=1
  local reloads
  reloads=$(curl -sS --cacert "$new/ca.pem" "https://127.0.0.1:$WH_PORT/metrics" | awk '$1 == "runhv_webhook_tls_reloads_total{result=\"ok\"}" { print $2 }')
  stop_webhook "$WH_LOG"
  [[ $ok == 0 ]] || fail "the new certificate was never served"
  [[ $old == 1 ]] || fail "the old CA still verifies the server"
  [[ "$reloads" -ge 1 ]] || fail "tls_reloads_total{ok} is $reloads"
}

@test "a key that does not match the certificate keeps the old pair serving" {
  local d="$BATS_TEST_TMPDIR/live" new="$BATS_TEST_TMPDIR/new"
  mkdir -p "$d"
  cp "$CERTS/tls.crt" "$CERTS/tls.key" "$d/"
  start_webhook "$d" "$BATS_TEST_TMPDIR/wh.log"
  bash "$RUNHV_SOURCE_DIR/scripts/make-webhook-certs.sh" "$new" >/dev/null
  cp "$new/tls.key" "$d/tls.key.tmp" && mv "$d/tls.key.tmp" "$d/tls.key"
  sleep 2.5
  local rc=0
  curl -sS --cacert "$CERTS/ca.pem" "https://127.0.0.1:$WH_PORT/healthz" >/dev/null || rc=1
  stop_webhook "$WH_LOG"
  [[ $rc == 0 ]]
  grep -q "not reloaded" "$BATS_TEST_TMPDIR/wh.log"
}

@test "an idle half-sent request is closed after --read-timeout" {
  start_webhook "$CERTS" "$BATS_TEST_TMPDIR/wh.log" --read-timeout 1
  local start end rc=0
  start=$(date +%s)
  # Headers promise a body that never comes; s_client returns when the
  # server hangs up, and notes the time.
  (printf 'POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{'; sleep 8) |
    (timeout 10 openssl s_client -quiet -connect "127.0.0.1:$WH_PORT" -CAfile "$CERTS/ca.pem" >/dev/null 2>&1
      date +%s >"$BATS_TEST_TMPDIR/end")
  end=$(cat "$BATS_TEST_TMPDIR/end")
  stop_webhook "$WH_LOG" || rc=$?
  [[ $((end - start)) -lt 6 ]] || fail "connection stayed open $((end - start)) s"
  [[ $rc == 0 ]]
}

@test "slow senders: a per-client bound and a whole-request deadline keep valid reviews answered" {
  start_webhook "$CERTS" "$BATS_TEST_TMPDIR/wh.log" --request-timeout 3 --max-connections-per-client 8
  local url="https://127.0.0.1:$WH_PORT" attacker i status
  # 25 connections from 127.0.0.2, each dripping a byte a second into a
  # declared 3 MB body: the idle timeout (--read-timeout) never fires
  "$PY" "$HERE/slow-sender.py" --port "$WH_PORT" --source 127.0.0.2 --connections 25 --interval 1 --duration 12 \
    --ca "$CERTS/ca.pem" >"$BATS_TEST_TMPDIR/attack.log" 2>&1 3>&- &
  attacker=$!
  wait_for_line() { grep -q "^open" "$BATS_TEST_TMPDIR/attack.log"; }
  for i in $(seq 100); do wait_for_line && break; sleep 0.1; done
  # a client at another address is answered throughout
  for i in 1 2 3 4 5; do
    status=$(curl -sS --max-time 5 --cacert "$CERTS/ca.pem" -o "$BATS_TEST_TMPDIR/body" -w '%{http_code}' \
      -H 'Content-Type: application/json' --data-binary "@$FIX/mutate-no-annotations.json" "$url/mutate")
    [[ "$status" == 200 ]] || fail "review $i during the attack: HTTP $status"
    sleep 1
  done
  wait "$attacker"
  # the attacker held 8 connections, not 25, and the deadline cut them all
  grep -qx "open 8" "$BATS_TEST_TMPDIR/attack.log" || fail "attacker: $(head -1 "$BATS_TEST_TMPDIR/attack.log")"
  [[ "$(tail -1 "$BATS_TEST_TMPDIR/attack.log")" == "alive 0" ]] || fail "not cut: $(tail -3 "$BATS_TEST_TMPDIR/attack.log")"
  curl -sS --cacert "$CERTS/ca.pem" "$url/metrics" | grep -qx "runhv_webhook_connections_cut_total 8"
  stop_webhook "$BATS_TEST_TMPDIR/wh.log"
}

@test "--help documents every flag" {
  run "$RUNHV_WEBHOOK" --help
  [[ "$status" -eq 0 ]]
  for f in --listen --tls-cert-file --tls-private-key-file --tls-reload-interval --runtime-class --exclude-namespace \
    --max-connections --threads --read-timeout --request-timeout --max-connections-per-client --debug --version --help; do
    [[ "$output" == *"  $f"* ]] || fail "--help does not document $f"
  done
}

@test "bad flags: one line naming the flag, exit 2" {
  local c="--tls-cert-file $CERTS/tls.crt --tls-private-key-file $CERTS/tls.key"
  while IFS='|' read -r args flag; do
    # shellcheck disable=SC2086
    run "$RUNHV_WEBHOOK" $args
    [[ "$status" -eq 2 ]] || fail "$args: status $status"
    [[ "${#lines[@]}" -eq 1 ]] || fail "$args: ${#lines[@]} lines: $output"
    [[ "$output" == *"$flag"* ]] || fail "$args: does not name $flag: $output"
  done <<EOF2
$c --listen nowhere|--listen
$c --listen 127.0.0.1:99999|--listen
$c --listen 999.1.1.1:8443|--listen
$c --read-timeout ten|--read-timeout
$c --max-connections 0|--max-connections
$c --threads -1|--threads
$c --request-timeout 0|--request-timeout
$c --max-connections-per-client x|--max-connections-per-client
$c --runtime-class Bad_Name|--runtime-class
$c --exclude-namespace UPPER|--exclude-namespace
$c --bogus|--bogus
$c --listen|--listen
--tls-private-key-file $CERTS/tls.key|--tls-cert-file
--tls-cert-file $CERTS/tls.crt|--tls-private-key-file
EOF2
}

@test "an unreadable or mismatched certificate stops the start with one line" {
  run "$RUNHV_WEBHOOK" --listen 127.0.0.1:0 --tls-cert-file /nonexistent.crt --tls-private-key-file "$CERTS/tls.key"
  [[ "$status" -eq 1 && "${#lines[@]}" -eq 1 && "$output" == *--tls-cert-file* ]]
  run "$RUNHV_WEBHOOK" --listen 127.0.0.1:0 --tls-cert-file "$CERTS/tls.key" --tls-private-key-file "$CERTS/tls.key"
  [[ "$status" -eq 1 && "${#lines[@]}" -eq 1 ]]
}

@test "manifests: runhv config kubernetes matches runhv config containerd, field by field" {
  local t="$BATS_TEST_TMPDIR"
  "$RUNHV" config containerd --sizes 1vp2gb --output-dir "$t/node" >"$t/snippet.toml"
  run "$RUNHV" config kubernetes --ca-file "$CERTS/ca.pem" --sizes 1vp2gb --output-dir "$t/k8s"
  [[ "$status" -eq 0 ]] || fail "$output"
  "$PY" "$CHECK" manifests "$t/k8s" "$t/snippet.toml" "$CERTS/ca.pem" 1vp2gb
  # the same documents on stdout
  "$RUNHV" config kubernetes --ca-file "$CERTS/ca.pem" --sizes 1vp2gb >"$t/all.yaml"
  cmp "$t/all.yaml" <(cat "$t/k8s/runtimeclasses.yaml" "$t/k8s/webhook.yaml" "$t/k8s/node-installer.yaml")
  # one replica: no PodDisruptionBudget, which would only block node drains
  "$RUNHV" config kubernetes --ca-file "$CERTS/ca.pem" --replicas 1 >"$t/one.yaml"
  grep -q 'replicas: 1' "$t/one.yaml"
  ! grep -q PodDisruptionBudget "$t/one.yaml"
}

@test "manifests: bad --sizes and a missing --ca-file give one line naming the flag" {
  run "$RUNHV" config kubernetes --ca-file "$CERTS/ca.pem" --sizes 1vp2gb,zz
  [[ "$status" -ne 0 && "${#lines[@]}" -eq 1 && "$output" == *--sizes* ]] || fail "$output"
  run "$RUNHV" config kubernetes --sizes 1vp2gb
  [[ "$status" -ne 0 && "${#lines[@]}" -eq 1 && "$output" == *--ca-file* ]] || fail "$output"
  run "$RUNHV" config kubernetes --ca-file /nonexistent.pem
  [[ "$status" -ne 0 && "${#lines[@]}" -eq 1 && "$output" == *--ca-file* ]] || fail "$output"
  run "$RUNHV" config kubernetes --ca-file "$CERTS/ca.pem" --runtime-class runhv-hypervisor-9vp9gb
  [[ "$status" -ne 0 && "${#lines[@]}" -eq 1 && "$output" == *--runtime-class* ]] || fail "$output"
}

@test "deploy/ holds the default manifests (regenerate: see deploy/README.md)" {
  local t="$BATS_TEST_TMPDIR/gen"
  "$RUNHV" config kubernetes --ca-placeholder --output-dir "$t" >/dev/null
  diff -u "$RUNHV_SOURCE_DIR/deploy/runtimeclasses.yaml" "$t/runtimeclasses.yaml"
  diff -u "$RUNHV_SOURCE_DIR/deploy/webhook.yaml" "$t/webhook.yaml"
  diff -u "$RUNHV_SOURCE_DIR/deploy/node-installer.yaml" "$t/node-installer.yaml"
}

@test "the webhook under load from several clients stays correct, then stops cleanly on SIGTERM" {
  local i pids=()
  for i in $(seq 8); do
    (for _ in $(seq 20); do post "$FIX/mutate-annotations-escape.json" >/dev/null; done) &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  [[ $(post "$FIX/mutate-annotations-escape.json") == 200 ]]
  "$PY" "$CHECK" review "$FIX/mutate-annotations-escape.json" "$BATS_TEST_TMPDIR/body" runhv-hypervisor
  stop_webhook "$WH_LOG"
  WH_PID=
  [[ $(cat "$WH_LOG.status") == 0 ]]
}
