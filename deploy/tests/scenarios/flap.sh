#!/usr/bin/env bash
# A scenario for the test bed, and an example of writing one: a worker's link flaps (down
# and up every FLAP seconds) through a run that checkpoints at every step; the final weights
# must be bitwise those of a one-process run. Run it inside a bed of 3 or more hosts:
#   sudo bash deploy/tests/hosts.sh 3 --rate 1gbit -- bash deploy/tests/scenarios/flap.sh [STEPS] [FLAP]
# Prints "flap: PASS ..." / "flap: FAIL ..." lines; exit status 0 when all passed.
set -uo pipefail
TEST_NAME=flap
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../hosts.sh"
STEPS=${1:-30} FLAP=${2:-0.7}
[[ -n ${LOOM_BED:-} && ${LOOM_BED_N:-0} -ge 3 ]] || { echo "flap: run me inside a bed of 3 or more hosts (see the header)" >&2; exit 2; }
need_loom
T=$(mktemp -d /tmp/loom-flap.XXXXXX)
FLAPPER=""
cleanup() { [[ -n $FLAPPER ]] && kill "$FLAPPER" 2>/dev/null; bed_restore 1; [[ ${KEEP:-0} == 1 ]] || rm -rf "$T"; }
trap cleanup EXIT

tiny_dataset "$T/tiny.h5"
bed_keys "$T/keys" 3 || exit 1
ARGS=(--config "$REPO/configs/smoke.yaml" --set "data.path=$T/tiny.h5" --set training.epochs=1000
      --set "training.max_steps=$STEPS" --set checkpoint.every_steps=1)
bed_coordinator 0 5555 "$T/keys" "$T/coord.log" "${ARGS[@]}" --set "checkpoint.dir=$T/run" --min-workers 2
COORD=$BED_PID
bed_worker 1 0 5555 "$T/keys" 1 "$T/w1.log"; W1=$BED_PID
bed_worker 2 0 5555 "$T/keys" 2 "$T/w2.log"; W2=$BED_PID
# Host 1's cable flaps until the run ends.
( while :; do sleep "$FLAP"; bed_cut 1; sleep "$FLAP"; bed_restore 1; done ) & FLAPPER=$!
wait "$COORD"; status=$?
kill "$FLAPPER"; wait "$FLAPPER" 2>/dev/null; FLAPPER=""; bed_restore 1
wait "$W2"
# Worker 1 may be between sessions when the run ends; it is the bed's to stop.
kill "$W1" 2>/dev/null; wait "$W1" 2>/dev/null
check "the run ends (status $status) with host 1's link flapping every $FLAP s" test "$status" = 0
lost=$(grep -c "declared dead:" "$T/coord.log")
echo "flap: host 1's worker was declared dead $lost time(s); $(grep -c 'joined:' "$T/coord.log") join(s)"
"$LOOM" train "${ARGS[@]}" --set "checkpoint.dir=$T/ref" --workers 0 > "$T/ref.log" 2>&1
if "$LOOM" diff "$T/ref/latest.h5" "$T/run/latest.h5" > "$T/diff.out" 2>&1; then
    pass "the weights after $STEPS steps are bitwise those of a one-process run"
else
    fail "the weights differ from a one-process run"; cat "$T/diff.out" >&2
fi
summary
