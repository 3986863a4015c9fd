#!/usr/bin/env bash
# A scenario for the test bed: faults that land on checkpoints, with shard servers. The
# coordinator on host 0, a `loom server` and a `loom worker` on every host (S = the bed's host
# count), a checkpoint at every step, so that every step ends in a gather of the slices and an
# HDF5 write. FAULT is one of:
#   flap    host 1's cable is pulled for 0.4 s six times, each the moment a checkpoint file is
#           being written, then once for 4 s (longer than cluster.worker_timeout_ms 2000): its
#           server is lost during a gather and comes back by itself;
#   kill    host 1's server is SIGKILLed the moment a checkpoint file is being written, a
#           replacement started on host 1; the replacement is SIGKILLed mid-run at step 20,
#           another started;
#   cohost  host 1's cable (its worker and its server together) is cut for 4 s, then host 2's
#           for 1 s.
# Checks: the run ends; the final weights are bitwise those of a one-process run (loom diff);
# every checkpoint the run kept passes `loom inspect`; no temporary file is left; with flap,
# the workers of the uncut hosts never take the coordinator for silent.
#   sudo bash deploy/tests/hosts.sh 3 --rate 1gbit -- bash deploy/tests/scenarios/faults.sh FAULT [STEPS]
# Prints "faults: PASS ..." / "faults: FAIL ..." lines; exit status 0 when all passed.
set -uo pipefail
TEST_NAME=faults
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../hosts.sh"
N=${LOOM_BED_N:-0}
FAULT=${1:-} STEPS=${2:-40}
[[ -n ${LOOM_BED:-} && $N -ge 3 ]] || { echo "faults: run me inside a bed of 3 or more hosts (see the header)" >&2; exit 2; }
[[ $FAULT == flap || $FAULT == kill || $FAULT == cohost ]] || { echo "faults: FAULT must be flap, kill or cohost, got '$FAULT'" >&2; exit 2; }
[[ $STEPS =~ ^[0-9]+$ && $STEPS -ge 30 ]] || { echo "faults: STEPS must be a number >= 30, got '$STEPS'" >&2; exit 2; }
need_loom
T=$(mktemp -d /tmp/loom-faults.XXXXXX)
cleanup() { local h; bed_restore 1; bed_restore 2; for h in $(seq 0 $((N - 1))); do bed_kill_ns "$(bed_ns "$h")"; done; [[ ${KEEP:-0} == 1 ]] || rm -rf "$T"; }
trap cleanup EXIT

tiny_dataset "$T/tiny.h5"
bed_keys "$T/keys" "$N" || exit 1
ARGS=(--config "$REPO/configs/smoke.yaml" --set "data.path=$T/tiny.h5" --set training.epochs=1000
      --set "training.max_steps=$STEPS" --set checkpoint.every_steps=1 --set checkpoint.keep=1000
      --set training.log_every_steps=1 --set cluster.worker_timeout_ms=2000)
PORT=$((40000 + RANDOM % 5000))
"$LOOM" train "${ARGS[@]}" --set "checkpoint.dir=$T/ref" --workers 0 > "$T/ref.log" 2>&1 || { fail "the one-process reference run"; exit 1; }
last_step() { tail -n 1 "$T/run/metrics.csv" 2>/dev/null | cut -d, -f1 | grep -E '^[0-9]+$' || echo 0; }
wait_step() { for _ in $(seq 1 1200); do (( $(last_step) >= $1 )) && return 0; sleep 0.05; done; return 1; }
# wait_write: until a checkpoint's temporary file exists (the coordinator is writing one).
wait_write() { for _ in $(seq 1 4000); do compgen -G "$T/run/.ckpt-*.tmp-*" >/dev/null && return 0; sleep 0.005; done; return 1; }

bed_coordinator 0 $PORT "$T/keys" "$T/coord.log" "${ARGS[@]}" --set "checkpoint.dir=$T/run" \
    --set "cluster.servers=$N" --min-workers "$N"
COORD=$BED_PID
for ((h = 0; h < N; h++)); do
    bed_server "$h" 0 $PORT "$T/keys" "$h" $((PORT + 1)) "$T/s$h.log"; [[ $h == 1 ]] && VICTIM=$BED_PID
done
for ((h = 0; h < N; h++)); do bed_worker "$h" 0 $PORT "$T/keys" "$h" "$T/w$h.log"; done
case $FAULT in
flap)
    wait_step 5
    for _ in 1 2 3 4 5 6; do wait_write; bed_cut 1; sleep 0.4; bed_restore 1; sleep 0.3; done
    wait_step 15; wait_write; bed_cut 1; echo "faults: host 1's cable pulled for 4 s at step $(last_step)"; sleep 4; bed_restore 1 ;;
kill)
    wait_step 8; wait_write; kill -KILL "$VICTIM"
    echo "faults: host 1's server killed at step $(last_step), during a checkpoint write"
    bed_server 1 0 $PORT "$T/keys" 1 $((PORT + 2)) "$T/s1b.log"
    wait_step 20; kill -KILL "$BED_PID"; echo "faults: its replacement killed at step $(last_step)"
    bed_server 1 0 $PORT "$T/keys" 1 $((PORT + 3)) "$T/s1c.log" ;;
cohost)
    wait_step 8; bed_cut 1; echo "faults: host 1's cable (worker and server) pulled for 4 s at step $(last_step)"
    sleep 4; bed_restore 1
    wait_step 20; bed_cut 2; sleep 1; bed_restore 2 ;;
esac
wait "$COORD"; status=$?
check "$FAULT on $N hosts: the run ends (status $status)" test "$status" = 0
echo "faults: $(grep -c 'declared lost' "$T/coord.log") server(s) lost, $(grep -c 'rolling back' "$T/coord.log") roll-back(s)"
check_like_reference "$T/ref" "$T/run" "a one-process run of $STEPS steps (loom diff)"
check "... and no temporary file is left in the run directory" test -z "$(ls -A "$T/run" | grep '\.tmp-')"
if [[ $FAULT == flap ]]; then
    # Only host 1 was cut: the workers of the other hosts, waiting on its server's slice, still
    # hear the coordinator and never take it for silent.
    deaf=$(grep -l 'coordinator at .* silent for' "$T/w0.log" $(for ((h = 2; h < N; h++)); do echo "$T/w$h.log"; done) 2>/dev/null | tr '\n' ' ')
    check "... and the workers of the uncut hosts never took the coordinator for silent ${deaf:+(they did: $deaf)}" test -z "$deaf"
fi
summary
