#!/usr/bin/env bash
# The Prometheus endpoints (--metrics-port), scraped during real runs: `loom coordinator`
# with a worker that serves its own, and `loom train --workers 2`. The scrapes must pass
# `promtool check metrics` (Debian package `prometheus`), carry every family operators
# rely on (and that deploy/prometheus/alerts.yml and the Grafana dashboard use), and
# follow the run; /healthz answers probes.
set -uo pipefail
TEST_NAME=metrics
source "$(dirname "$0")/lib.sh"
need_loom
T=$(mktemp -d /tmp/loom-metrics-test.XXXXXX)
PIDS=()
cleanup() { local p; for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$T"; }
trap cleanup EXIT

command -v curl >/dev/null || apt_install curl || { fail "curl is needed to scrape"; summary; exit 1; }
PROMTOOL=$(command -v promtool)
if [[ -z $PROMTOOL ]] && apt_install prometheus; then PROMTOOL=$(command -v promtool); fi
tiny_dataset "$T/tiny.h5"
PORT=$((30000 + RANDOM % 5000))
scrape() { curl -sf --max-time 5 "http://127.0.0.1:$PORT$1"; }
value() { awk -v n="$1" '$1 == n {print $2 + 0}' "$2"; }   # value NAME FILE: a sample (name with its {labels}), as a number
wait_for_step() {  # wait_for_step N FILE: scrape into FILE until loom_step >= N (30 s at most)
    for _ in $(seq 1 300); do
        scrape /metrics > "$2" 2>/dev/null && (( $(value loom_step "$2" | cut -d. -f1) >= $1 )) 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
ARGS=(--config "$REPO/configs/smoke.yaml" --set "data.path=$T/tiny.h5" --set training.epochs=1000
      --set checkpoint.every_steps=5)

# ---- loom coordinator + loom worker ----------------------------------------------------------
"$LOOM" coordinator "${ARGS[@]}" --metrics-port "$PORT" --set "checkpoint.dir=$T/coord" --set training.max_steps=400 \
    --bind "ipc://$T/coord.sock" 2> "$T/coord.log" &
COORD=$!; PIDS+=($COORD)
WPORT=$((PORT + 2))
"$LOOM" worker --connect "ipc://$T/coord.sock" --exit-on-shutdown --metrics-port "$WPORT" 2> "$T/worker.log" &
PIDS+=($!)

check "/healthz answers 200 ok" bash -c "for i in \$(seq 1 100); do [[ \$(curl -sf --max-time 2 http://127.0.0.1:$PORT/healthz) == ok ]] && exit 0; sleep 0.1; done; exit 1"
if wait_for_step 8 "$T/first.prom"; then pass "a scrape during the run reports step $(value loom_step "$T/first.prom")"; else
    fail "no scrape reached step 8"; tail -n 5 "$T/coord.log" >&2; fi
if [[ -n $PROMTOOL ]]; then
    out=$("$PROMTOOL" check metrics < "$T/first.prom" 2>&1); status=$?
    check "promtool check metrics passes on a live scrape${out:+ ($out)}" test $status = 0 -a -s "$T/first.prom"
    sed 's/loom_reassignments_total/loom_reassignments/g' "$T/first.prom" > "$T/broken.prom"
    if "$PROMTOOL" check metrics < "$T/broken.prom" >/dev/null 2>&1; then fail "promtool accepted a counter without _total"
    else pass "promtool rejects a counter without _total (the check can fail)"; fi
else
    skip "promtool is not available (Debian package prometheus): exposition not validated"
fi
# loom_rejected_messages_total{reason} appears with the first rejected message.
for family in loom_step loom_epoch loom_samples_per_second loom_loss loom_learning_rate loom_live_workers \
              loom_workers_joined_total loom_workers_lost_total loom_reassignments_total loom_wire_sent_bytes_total \
              loom_wire_received_bytes_total loom_step_duration_seconds loom_checkpoint_age_seconds loom_run_info; do
    check "$family has HELP and TYPE lines" bash -c "grep -q '^# HELP $family ' '$T/first.prom' && grep -q '^# TYPE $family ' '$T/first.prom'"
done
check "loom_live_workers is 1" test "$(value loom_live_workers "$T/first.prom")" = 1
check "loom_learning_rate is the config's 0.05" test "$(value loom_learning_rate "$T/first.prom")" = 0.05
check "the step-time histogram has observations" test "$(value loom_step_duration_seconds_count "$T/first.prom")" -gt 0
check "loom_checkpoint_age_seconds has a value after the first checkpoint" test -n "$(value loom_checkpoint_age_seconds "$T/first.prom")"
check "bytes went both ways on the wire" \
    test "$(value loom_wire_sent_bytes_total "$T/first.prom")" -gt 0 -a "$(value loom_wire_received_bytes_total "$T/first.prom")" -gt 0
check "one worker joined, none lost" \
    test "$(value loom_workers_joined_total "$T/first.prom")" = 1 -a "$(value loom_workers_lost_total "$T/first.prom")" = 0
# The worker's own endpoint.
curl -sf --max-time 5 "http://127.0.0.1:$WPORT/metrics" > "$T/worker.prom"
check "the worker serves its own metrics: results sent ($(value loom_worker_results_total "$T/worker.prom"))" \
    test "$(value loom_worker_results_total "$T/worker.prom")" -gt 0
check "the worker's assignment-time histogram has observations" \
    test "$(value loom_worker_assignment_duration_seconds_count "$T/worker.prom")" -gt 0
check "the worker counts its wire bytes" test "$(value loom_worker_wire_received_bytes_total "$T/worker.prom")" -gt 0
if [[ -n $PROMTOOL ]]; then
    out=$("$PROMTOOL" check metrics < "$T/worker.prom" 2>&1); status=$?
    check "promtool check metrics passes on the worker's scrape${out:+ ($out)}" test $status = 0 -a -s "$T/worker.prom"
fi
# An evaluation (every epoch end: 32 steps of the tiny dataset) gives accuracy and loss per head.
wait_for_step 34 "$T/eval.prom"
check "loom_eval_accuracy of the category head after an evaluation" \
    grep -qE '^loom_eval_accuracy\{split="[a-z]+",head="category"\} [0-9.]+$' "$T/eval.prom"
check "loom_eval_loss of the category head after an evaluation" \
    grep -qE '^loom_eval_loss\{split="[a-z]+",head="category"\} [0-9.e+-]+$' "$T/eval.prom"
first=$(value loom_step "$T/first.prom")
wait_for_step $((first + 3)) "$T/second.prom"
check "a later scrape follows the run (step $first -> $(value loom_step "$T/second.prom"))" \
    test "$(value loom_step "$T/second.prom")" -gt "$first"
check "an unknown path is 404" test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/nope")" = 404
kill -TERM "$COORD"; wait "$COORD"; status=$?
check "the coordinator stops cleanly with the server running (status $status)" test $status = 0

# ---- loom train --workers 2 ------------------------------------------------------------------
PORT=$((PORT + 1))
"$LOOM" train "${ARGS[@]}" --metrics-port "$PORT" --set "checkpoint.dir=$T/train" \
    --set training.max_steps=400 --workers 2 2> "$T/train.log" &
TRAIN=$!; PIDS+=($TRAIN)
if wait_for_step 4 "$T/train.prom"; then
    check "loom train --workers 2 serves metrics: 2 live workers" test "$(value loom_live_workers "$T/train.prom")" = 2
else
    fail "loom train --workers 2: no scrape reached step 4"; tail -n 5 "$T/train.log" >&2
fi
kill -TERM "$TRAIN"; wait "$TRAIN"
summary
