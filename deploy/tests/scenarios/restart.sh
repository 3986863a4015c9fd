#!/usr/bin/env bash
# A scenario for the test bed: the coordinator SIGKILLed mid-run and restarted with
# `--resume auto`, with S = N - 1 shard servers (fewer servers than hosts: the last host has a
# worker only) and a `loom worker --slots 2` on host 2 that is SIGKILLed and replaced first.
# A checkpoint at every step. Checks:
#   - the restarted run ends, says it resumed, and its weights are bitwise those of a
#     one-process run of STEPS steps (loom diff); every checkpoint passes `loom inspect`;
#   - the old run's workers and servers, heartbeating into the new coordinator until they say
#     hello again, are noted once per peer, not logged as a warning per heartbeat.
#   sudo bash deploy/tests/hosts.sh 4 --rate 1gbit -- bash deploy/tests/scenarios/restart.sh [STEPS]
# Prints "restart: PASS ..." / "restart: FAIL ..." lines; exit status 0 when all passed.
set -uo pipefail
TEST_NAME=restart
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../hosts.sh"
N=${LOOM_BED_N:-0}
STEPS=${1:-24}
[[ -n ${LOOM_BED:-} && $N -ge 3 ]] || { echo "restart: run me inside a bed of 3 or more hosts (see the header)" >&2; exit 2; }
[[ $STEPS =~ ^[0-9]+$ && $STEPS -ge 16 ]] || { echo "restart: STEPS must be a number >= 16, got '$STEPS'" >&2; exit 2; }
need_loom
T=$(mktemp -d /tmp/loom-restart.XXXXXX)
cleanup() { local h; for h in $(seq 0 $((N - 1))); do bed_kill_ns "$(bed_ns "$h")"; done; [[ ${KEEP:-0} == 1 ]] || rm -rf "$T"; }
trap cleanup EXIT
S=$((N - 1))

tiny_dataset "$T/tiny.h5"
bed_keys "$T/keys" "$N" || exit 1
ARGS=(--config "$REPO/configs/smoke.yaml" --set "data.path=$T/tiny.h5" --set training.epochs=1000
      --set "training.max_steps=$STEPS" --set checkpoint.every_steps=1 --set checkpoint.keep=1000
      --set training.log_every_steps=1 --set cluster.worker_timeout_ms=2000)
RUN=(--set "checkpoint.dir=$T/run" --set "cluster.servers=$S" --min-workers "$N")
PORT=$((40000 + RANDOM % 5000))
"$LOOM" train "${ARGS[@]}" --set "checkpoint.dir=$T/ref" --workers 0 > "$T/ref.log" 2>&1 || { fail "the one-process reference run"; exit 1; }
last_step() { tail -n 1 "$T/run/metrics.csv" 2>/dev/null | cut -d, -f1 | grep -E '^[0-9]+$' || echo 0; }
wait_step() { for _ in $(seq 1 1200); do (( $(last_step) >= $1 )) && return 0; sleep 0.05; done; return 1; }

bed_coordinator 0 $PORT "$T/keys" "$T/c1.log" "${ARGS[@]}" "${RUN[@]}"; COORD=$BED_PID
for ((h = 0; h < S; h++)); do bed_server "$h" 0 $PORT "$T/keys" "$h" $((PORT + 1)) "$T/s$h.log"; done
for ((h = 0; h < N; h++)); do
    if [[ $h == 2 ]]; then bed_worker 2 0 $PORT "$T/keys" 2 "$T/w2.log" --slots 2; SLOTS=$BED_PID
    else bed_worker "$h" 0 $PORT "$T/keys" "$h" "$T/w$h.log"; fi
done
wait_step 4; kill -KILL "$SLOTS"; echo "restart: host 2's 2-slot worker killed at step $(last_step)"
bed_worker 2 0 $PORT "$T/keys" 2 "$T/w2b.log" --slots 2
wait_step 10; kill -KILL "$COORD"; wait "$COORD" 2>/dev/null
echo "restart: the coordinator killed at step $(last_step); restarted with --resume auto"
bed_coordinator 0 $PORT "$T/keys" "$T/c2.log" "${ARGS[@]}" "${RUN[@]}" --resume auto; COORD=$BED_PID
wait "$COORD"; status=$?
check "the restarted coordinator's run ends (status $status)" test "$status" = 0
check "... saying it resumed from a checkpoint" grep -q "resumed from $T/run/ckpt-" "$T/c2.log"
check_like_reference "$T/ref" "$T/run" "a one-process run of $STEPS steps ($S servers on $N hosts, a 2-slot worker killed; loom diff)"
noted=$(grep -c 'heartbeats from peer .* which has not said hello' "$T/c2.log")
warned=$(grep -c 'dropped a message .*unknown peer: heartbeat' "$T/c2.log")
check "... the old peers' heartbeats noted once per peer ($noted line(s), at most $((N + S))), none a warning each ($warned)" \
    test "$noted" -le $((N + S)) -a "$warned" = 0
summary
