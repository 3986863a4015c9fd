#!/usr/bin/env bash
# A scenario for the test bed: sharded aggregation across hosts. The coordinator on host 0,
# and on every host a `loom worker` and a `loom server` (S = the bed's host count, or SERVERS);
# over TCP with CURVE on every link (workers and servers to the coordinator, workers to the
# servers). Checks, against a one-process run of as many steps:
#   - the weights after STEPS steps are bitwise those of a one-process run, every server
#     reached by the workers with CURVE;
#   - a server killed mid-run (host 1's, after step 8, or after STEPS/2 for runs under 16
#     steps): the run rolls back to its last checkpoint, a replacement server on the same
#     host takes the slice, and the weights are still bitwise. STEPS must be 4 or more.
# With WIRE=bf16 in the environment both runs and the reference are `cluster.wire: bf16`.
# With OVERLAP=true both runs are `cluster.overlap: true` (the reference is the same bits).
# Run it inside a bed of 2 or more hosts:
#   sudo bash deploy/tests/hosts.sh 3 --rate 1gbit -- bash deploy/tests/scenarios/servers.sh [STEPS] [SERVERS]
# Prints "servers: PASS ..." / "servers: FAIL ..." lines; exit status 0 when all passed.
set -uo pipefail
TEST_NAME=servers
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../hosts.sh"
N=${LOOM_BED_N:-0}
STEPS=${1:-30} SERVERS=${2:-$N} WIRE=${WIRE:-fp32} OVERLAP=${OVERLAP:-false}
[[ -n ${LOOM_BED:-} && $N -ge 2 ]] || { echo "servers: run me inside a bed of 2 or more hosts (see the header)" >&2; exit 2; }
[[ $STEPS =~ ^[0-9]+$ && $STEPS -ge 4 ]] || { echo "servers: STEPS must be 4 or more (a server is killed mid-run, after a checkpoint), got $STEPS" >&2; exit 2; }
[[ $SERVERS -ge 2 && $SERVERS -le $N ]] || { echo "servers: SERVERS must be 2..$N (one per host), got $SERVERS" >&2; exit 2; }
[[ $WIRE == fp32 || $WIRE == bf16 ]] || { echo "servers: WIRE must be fp32 or bf16, got $WIRE" >&2; exit 2; }
[[ $OVERLAP == true || $OVERLAP == false ]] || { echo "servers: OVERLAP must be true or false, got $OVERLAP" >&2; exit 2; }
need_loom
T=$(mktemp -d /tmp/loom-servers.XXXXXX)
cleanup() { local h; for h in $(seq 0 $((N - 1))); do bed_kill_ns "$(bed_ns "$h")"; done; [[ ${KEEP:-0} == 1 ]] || rm -rf "$T"; }
trap cleanup EXIT

tiny_dataset "$T/tiny.h5"
bed_keys "$T/keys" "$N" || exit 1
# The kill comes after step KILL_AT, mid-run, with a checkpoint before it to roll back to.
KILL_AT=$(( STEPS >= 16 ? 8 : STEPS / 2 ))
EVERY=$(( KILL_AT > 5 ? 5 : KILL_AT - 1 ))
ARGS=(--config "$REPO/configs/smoke.yaml" --set "data.path=$T/tiny.h5" --set training.epochs=1000
      --set "training.max_steps=$STEPS" --set "checkpoint.every_steps=$EVERY" --set training.log_every_steps=1
      --set cluster.worker_timeout_ms=2000 --set "cluster.wire=$WIRE")
PORT=$((40000 + RANDOM % 5000))
"$LOOM" train "${ARGS[@]}" --set "checkpoint.dir=$T/ref" --workers 0 > "$T/ref.log" 2>&1
same() { "$LOOM" diff "$T/ref/latest.h5" "$T/$1/latest.h5" > "$T/diff.out" 2>&1 || { cat "$T/diff.out" >&2; return 1; }; }
last_step() { tail -n 1 "$T/$1/metrics.csv" 2>/dev/null | cut -d, -f1 | grep -E '^[0-9]+$' || echo 0; }

# finish PID: waits up to 30 s for a process of this scenario to end after its coordinator
# did, then stops it (a replacement server started as the run ended never hears a shutdown).
finish() {
    local pid=$1 i
    for i in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && { echo "servers: pid $pid still running 30 s after the coordinator ended: stopped" >&2; kill -TERM "$pid"; }
    wait "$pid" 2>/dev/null
}

# run NAME KILL: a run with SERVERS servers and N workers; with KILL=1 host 1's server is killed
# after step KILL_AT and another started there. Returns the coordinator's status.
run() {
    local name=$1 kill_one=$2 h pids=() victim
    bed_coordinator 0 $PORT "$T/keys" "$T/$name.coord.log" "${ARGS[@]}" --set "checkpoint.dir=$T/$name" \
        --set "cluster.servers=$SERVERS" --set "cluster.overlap=$OVERLAP" --min-workers "$N"
    local coord=$BED_PID
    for ((h = 0; h < SERVERS; h++)); do
        bed_server "$h" 0 $PORT "$T/keys" "$h" $((PORT + 1)) "$T/$name.s$h.log"; pids+=($BED_PID)
        [[ $h == 1 ]] && victim=$BED_PID
    done
    for ((h = 0; h < N; h++)); do bed_worker "$h" 0 $PORT "$T/keys" "$h" "$T/$name.w$h.log"; pids+=($BED_PID); done
    if [[ $kill_one == 1 ]]; then
        for _ in $(seq 1 600); do (( $(last_step "$name") >= KILL_AT )) && break; sleep 0.1; done
        kill -KILL "$victim"; wait "$victim" 2>/dev/null
        echo "servers: killed host 1's server (pid $victim) at step $(last_step "$name")"
        bed_server 1 0 $PORT "$T/keys" 1 $((PORT + 2)) "$T/$name.s1b.log"; pids+=($BED_PID)
    fi
    wait "$coord"; local status=$?
    for h in "${pids[@]}"; do [[ $h == "$victim" && $kill_one == 1 ]] || finish "$h"; done
    return $status
}

run plain 0; status=$?
check "$SERVERS servers on $SERVERS hosts, $N workers, wire $WIRE: the run ends (status $status)" test "$status" = 0
check "... with the weights of a one-process run of $STEPS steps (loom diff)" same plain
check "... every server serving workers with CURVE (its key in the coordinator's map)" \
    test "$(grep -c "workers reach it with CURVE" "$T/plain.coord.log")" -ge "$SERVERS"
run kill 1; status=$?
check "a server killed mid-run: the run ends (status $status)" test "$status" = 0
check "... after rolling back to its last checkpoint" grep -q "rolling back from step" "$T/kill.coord.log"
check "... with the weights of a one-process run of $STEPS steps (loom diff)" same kill
summary
