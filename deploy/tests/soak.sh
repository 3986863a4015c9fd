#!/usr/bin/env bash
# Soak test (not in CI): one coordinator and a changing pool of workers train while this
# script disturbs them at random, then the final weights must be bitwise equal to those
# of an undisturbed run of the same config.
#
#   deploy/tests/soak.sh [MINUTES]      (default 10, at most 20; LOOM=... selects the binary)
#
# Disturbances, one every 0.2-1.2 s, drawn at random (seed: SOAK_SEED, default the time):
#   kill -9 a worker; start a worker (1 to 4 live); kill -9 the coordinator and restart it
#   (--resume auto); SIGTERM the coordinator (checkpoint, stop) and restart it; fill the
#   disk holding the run directory (a tmpfs) so that a checkpoint write fails, then free it
#   and restart; send malformed messages (a hand-made ZMTP 3.0 DEALER peer: garbage
#   headers, wrong magic, wrong protocol version, truncated frames).
# When the time is up the disturbances stop and the run is let finish; everything ends
# within 30 minutes. The report counts everything done and says whether the weights match.
set -uo pipefail
TEST_NAME=soak
source "$(dirname "$0")/lib.sh"
need_loom
MINUTES=${1:-10}
((MINUTES >= 1 && MINUTES <= 20)) || { echo "soak: MINUTES must be 1 to 20, got $MINUTES" >&2; exit 2; }
SEED=${SOAK_SEED:-$(date +%s)}
RANDOM=$SEED
T=$(mktemp -d /tmp/loom-soak.XXXXXX)
COORD="" WORKERS=() MOUNTED=0
cleanup() {
    [[ -n $COORD ]] && kill -KILL "$COORD" 2>/dev/null
    [[ -n ${REFERENCE:-} ]] && kill -KILL "$REFERENCE" 2>/dev/null
    local w; for w in "${WORKERS[@]}"; do kill -KILL "$w" 2>/dev/null; done
    wait 2>/dev/null
    ((MOUNTED)) && umount "$T/disk" 2>/dev/null
    [[ ${KEEP:-0} == 1 ]] || rm -rf "$T"
}
trap cleanup EXIT

# ---- the run --------------------------------------------------------------------------
# The MLP on the tiny dataset: a few ms a step, so that there are many steps (and many
# checkpoints, every 25 steps) between disturbances. Workers are declared dead after 1 s
# of silence, so that a killed one costs little. STEPS is sized so that the disturbed run
# lasts about MINUTES (here it made about 110 steps/s under disturbance, 600 undisturbed);
# the undisturbed reference runs beside it, in one process.
tiny_dataset "$T/tiny.h5"
STEPS=$((MINUTES * 60 * 110))
ARGS=(--config "$REPO/configs/smoke.yaml" --set model.file=models/mlp.yaml --set "data.path=$T/tiny.h5"
      --set training.epochs=100000 --set "training.max_steps=$STEPS" --set training.batch_size=64
      --set training.micro_batch=16 --set training.log_every_steps=500 --set training.eval_every_steps=0
      --set checkpoint.every_steps=25 --set checkpoint.keep=2
      --set cluster.heartbeat_ms=200 --set cluster.worker_timeout_ms=1000)
echo "soak: seed $SEED, $MINUTES min of disturbances, $STEPS steps"
start=$SECONDS
"$LOOM" train "${ARGS[@]}" --set "checkpoint.dir=$T/reference" > "$T/reference.log" 2>&1 &
REFERENCE=$!

# The disturbed run's directory is on a small tmpfs that can be filled (root only).
mkdir -p "$T/disk"
if mount -t tmpfs -o size=24m loom-soak "$T/disk" 2>/dev/null; then MOUNTED=1
else echo "soak: cannot mount a tmpfs (not root?): no disk-full disturbances"; fi
RUN=$T/disk/run
PORT=$((41000 + RANDOM % 4000))
ENDPOINT=tcp://127.0.0.1:$PORT

declare -A count=([worker_killed]=0 [worker_started]=0 [coordinator_killed]=0 [coordinator_stopped]=0
                  [coordinator_restarted]=0 [disk_filled]=0 [checkpoint_write_failed]=0 [start_refused_disk_full]=0 [terminated_while_starting]=0 [malformed_sent]=0
                  [coordinator_failed_other]=0)
coordinator_starts=0
start_coordinator() {
    coordinator_starts=$((coordinator_starts + 1))
    term_sent=0
    "$LOOM" coordinator "${ARGS[@]}" --set "checkpoint.dir=$RUN" --bind "$ENDPOINT" --resume auto \
        >> "$T/coordinator.log" 2>&1 &
    COORD=$!
}
start_worker() {
    "$LOOM" worker --connect "$ENDPOINT" >> "$T/workers.log" 2>&1 &
    WORKERS+=($!)
    count[worker_started]=$((count[worker_started] + 1))
}
# count_workers: drops the workers that are gone from WORKERS and sets n to the rest
# (not in a subshell: it updates the list).
count_workers() {
    local alive=() w
    for w in "${WORKERS[@]}"; do kill -0 "$w" 2>/dev/null && alive+=("$w"); done
    WORKERS=("${alive[@]}")
    n=${#WORKERS[@]}
}
# malformed N: a ZMTP 3.0 DEALER (NULL mechanism) that sends N bad Loom messages.
malformed() {
    python3 - "$PORT" "$1" "$RANDOM" <<'PY'
import random, socket, struct, sys
port, n, seed = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(seed)
s = socket.create_connection(("127.0.0.1", port), timeout=5)
greeting = b"\xff" + b"\x00" * 8 + b"\x7f" + b"\x03\x00" + b"NULL".ljust(20, b"\x00") + b"\x00" + b"\x00" * 31
s.sendall(greeting)
def frame(body, more=False, command=False):
    flags = (1 if more else 0) | (4 if command else 0)
    if len(body) > 255:
        return bytes([flags | 2]) + struct.pack(">Q", len(body)) + body
    return bytes([flags, len(body)]) + body
prop = lambda k, v: bytes([len(k)]) + k + struct.pack(">I", len(v)) + v
s.sendall(frame(b"\x05READY" + prop(b"Socket-Type", b"DEALER"), command=True))
got = b""
while len(got) < 64:
    chunk = s.recv(64 - len(got))
    if not chunk: sys.exit(1)
    got += chunk
def header(magic=b"LOOM", version=2, mtype=7):
    h = bytearray(64); h[0:4] = magic; h[4:6] = struct.pack("<H", version); h[6] = mtype
    return bytes(h)
kinds = [lambda: [bytes(rng.randrange(256) for _ in range(rng.choice([1, 10, 63, 64, 200])))],
         lambda: [header(magic=b"MOOL")],
         lambda: [header(version=9)],
         lambda: [header(mtype=77)],
         lambda: [header(mtype=5), b"\x00" * 7],
         lambda: []]
for _ in range(n):
    frames = rng.choice(kinds)() or [b""]
    for i, f in enumerate(frames):
        s.sendall(frame(f, more=i < len(frames) - 1))
s.close()
PY
}
fill_disk() {  # fills the tmpfs; the next checkpoint write fails
    dd if=/dev/zero of="$T/disk/filler" bs=1M count=64 2>/dev/null
    count[disk_filled]=$((count[disk_filled] + 1))
}
free_disk() { rm -f "$T/disk/filler"; }
# coordinator_ended: it exited (status $1); count why, free the disk, restart it.
coordinator_ended() {
    local status=$1
    if grep -q "checkpoint at step [0-9]* failed" <(tail -n 5 "$T/coordinator.log"); then
        count[checkpoint_write_failed]=$((count[checkpoint_write_failed] + 1))
    elif grep -q "No space left on device" <(tail -n 5 "$T/coordinator.log"); then
        # restarted (after a SIGKILL) while the disk was full: refused at once, nothing written
        count[start_refused_disk_full]=$((count[start_refused_disk_full] + 1))
    elif ((status == 143 && term_sent)); then
        # SIGTERM before the coordinator installed its handlers (still starting: no state yet)
        count[terminated_while_starting]=$((count[terminated_while_starting] + 1))
    elif ((status != 0 && status != 137)); then
        count[coordinator_failed_other]=$((count[coordinator_failed_other] + 1))
        echo "soak: the coordinator exited with status $status:" >&2; tail -n 3 "$T/coordinator.log" >&2
    fi
    free_disk
    start_coordinator
    count[coordinator_restarted]=$((count[coordinator_restarted] + 1))
}

start_coordinator
for _ in 1 2; do start_worker; done
deadline=$((SECONDS + MINUTES * 60))
finished=0
while ((SECONDS < deadline)); do
    sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 0.2 + r / 32767 }')"
    if ! kill -0 "$COORD" 2>/dev/null; then
        wait "$COORD"; status=$?
        if ((status == 0)) && grep -q "final checkpoint\|training finished" <(tail -n 5 "$T/coordinator.log"); then
            finished=1; break
        fi
        coordinator_ended $status
        continue
    fi
    count_workers
    case $((RANDOM % 20)) in
        0|1|2|3|4) if ((n > 1)); then
                       victim=${WORKERS[RANDOM % n]}; kill -KILL "$victim" 2>/dev/null; wait "$victim" 2>/dev/null
                       count[worker_killed]=$((count[worker_killed] + 1))
                   fi ;;
        5|6|7|8|9) if ((n < 4)); then start_worker; fi ;;
        10|11) kill -KILL "$COORD"; wait "$COORD" 2>/dev/null; count[coordinator_killed]=$((count[coordinator_killed] + 1))
               start_coordinator; count[coordinator_restarted]=$((count[coordinator_restarted] + 1)) ;;
        12) kill -TERM "$COORD"; term_sent=1; count[coordinator_stopped]=$((count[coordinator_stopped] + 1)) ;;
        13) ((MOUNTED)) && [[ ! -f $T/disk/filler ]] && fill_disk ;;
        *) k=$((1 + RANDOM % 5)); malformed $k 2>/dev/null && count[malformed_sent]=$((count[malformed_sent] + k)) ;;
    esac
    ((n == 0)) && start_worker
done
# Let it finish: free the disk, keep two workers, restart the coordinator whenever it ends.
free_disk
if ((!finished)); then
    echo "soak: disturbances over after $MINUTES min; letting the run finish"
    count_workers
    while ((n < 2)); do start_worker; count_workers; done
    while ((SECONDS - start < 30 * 60)); do
        if ! kill -0 "$COORD" 2>/dev/null; then
            wait "$COORD"; status=$?
            if ((status == 0)) && grep -q "final checkpoint\|training finished" <(tail -n 5 "$T/coordinator.log"); then finished=1; break; fi
            coordinator_ended $status
        fi
        sleep 1
    done
fi

wait "$REFERENCE" || { fail "the reference run failed:"; tail -n 5 "$T/reference.log" >&2; }

# ---- the report ----------------------------------------------------------------------------
# What the coordinators dropped, by reason (their logs; killed ones print no summary).
dropped=$(grep 'dropped a message from peer' "$T/coordinator.log" | sed 's/.*dropped a message from peer [0-9a-f]*: //' \
    | cut -d: -f1 | sort | uniq -c | awk '{n=$1; $1=""; printf "%s%s %d", sep, substr($0, 2), n; sep=", "}')
declared_dead=$(grep -c 'declared dead' "$T/coordinator.log")
step_of() { "$LOOM" inspect "$1" --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["step"])'; }
echo "soak report (seed $SEED, $MINUTES min of disturbances, $((SECONDS - start)) s in all)"
for k in worker_killed worker_started coordinator_killed coordinator_stopped coordinator_restarted \
         disk_filled checkpoint_write_failed start_refused_disk_full terminated_while_starting malformed_sent \
         coordinator_failed_other; do
    printf '  %-26s %s\n' "$k" "${count[$k]}"
done
printf '  %-26s %s\n' coordinator_starts "$coordinator_starts" workers_declared_dead "$declared_dead" \
    messages_dropped "${dropped:-none}"
if ((finished)); then
    ref=$(step_of "$T/reference/latest.h5"); got=$(step_of "$RUN/latest.h5")
    if "$LOOM" diff "$T/reference/latest.h5" "$RUN/latest.h5" > "$T/diff.txt" 2>&1; then
        pass "the disturbed run ends at step $got with weights bitwise equal to the undisturbed run's (step $ref)"
    else
        fail "the disturbed run's weights differ from the undisturbed run's:"; head -n 20 "$T/diff.txt" >&2
    fi
else
    fail "the disturbed run did not finish within 30 minutes"
fi
((count[coordinator_failed_other] == 0)) && pass "the coordinator never failed but for the disk" \
    || fail "the coordinator failed ${count[coordinator_failed_other]} time(s) for another reason"
summary
