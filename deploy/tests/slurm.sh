#!/usr/bin/env bash
# deploy/slurm/loom.sbatch on a real single-node Slurm cluster started here (munged,
# slurmctld, slurmd on loopback, as root), for CI. Two submissions:
#   1. a short run to the end: checkpoint (loom inspect) and metrics.csv are checked;
#   2. the same run, sent USR1 mid-way (`scancel --batch --signal=USR1`): the script
#      checkpoints, stops and requeues the job, which resumes from the checkpoint and ends
#      with weights bitwise identical to run 1 (`loom diff`).
# Skips (exit 0) only when Slurm cannot be installed (no apt, not root).
set -uo pipefail
TEST_NAME=slurm
source "$(dirname "$0")/lib.sh"
need_loom

if ! apt_install slurm-wlm munge; then
    skip "slurm-wlm and munge cannot be installed here (needs apt-get as root)"
    summary; exit 0
fi

T=$(mktemp -d /tmp/loom-slurm-test.XXXXXX)
export SLURM_CONF=$T/slurm.conf
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    [[ ${KEEP:-0} == 1 ]] || rm -rf "$T"
}
trap cleanup EXIT

# ---- munge: a throwaway key and socket of our own ------------------------------------------
mkdir -p "$T/munge"
dd if=/dev/urandom of="$T/munge/munge.key" bs=1024 count=1 2>/dev/null
chmod 700 "$T/munge"; chmod 400 "$T/munge/munge.key"
MUNGE_SOCKET=$T/munge/munge.socket
munged --foreground --force --key-file="$T/munge/munge.key" --socket="$MUNGE_SOCKET" \
    --pid-file="$T/munge/munged.pid" --log-file="$T/munge/munged.log" --seed-file="$T/munge/munged.seed" \
    >"$T/munge/munged.out" 2>&1 &
PIDS+=($!)

# ---- slurm.conf: this host, its real CPUs and memory ---------------------------------------
NODE=$(hostname -s)
CPUS=$(nproc)
MEM=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 512 ))
mkdir -p "$T/state" "$T/spool"
cat > "$SLURM_CONF" <<EOF
ClusterName=loomtest
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$((16817 + RANDOM % 1000))
SlurmdPort=$((17817 + RANDOM % 1000))
AuthType=auth/munge
CredType=cred/munge
# cred_expire: also how long a requeued job waits before it may start again (default 120 s).
AuthInfo=socket=$MUNGE_SOCKET,cred_expire=10
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/slurmctld.log
SlurmdLogFile=$T/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
JobRequeue=1
KillWait=10
InactiveLimit=0
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=loom Nodes=$NODE Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
EOF

for _ in $(seq 1 50); do [[ -S $MUNGE_SOCKET ]] && break; sleep 0.1; done
slurmctld -D -i -f "$SLURM_CONF" >"$T/slurmctld.out" 2>&1 &
PIDS+=($!)
slurmd -D -N "$NODE" -f "$SLURM_CONF" >"$T/slurmd.out" 2>&1 &
PIDS+=($!)

node_ready() { sinfo -h -N -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; }
for _ in $(seq 1 60); do node_ready && break; sleep 1; done
if ! node_ready; then
    fail "the single-node cluster did not come up; slurmctld.log:"
    tail -n 20 "$T/slurmctld.log" "$T/slurmd.log" >&2
    summary; exit 1
fi
pass "slurmctld + slurmd + munged up ($CPUS CPUs, ${MEM} MB on $NODE)"

# ---- the run -----------------------------------------------------------------------------
tiny_dataset "$T/tiny.h5"
STEPS=60
export LOOM LOOM_KEYS=$T/keys
getent hosts "$NODE" >/dev/null || export LOOM_HOST=127.0.0.1
SBATCH=$REPO/deploy/slurm/loom.sbatch

# submit NAME RUNDIR: submits a 2-task job (coordinator + 1 worker), prints the job id.
submit() {
    sbatch --parsable --job-name="$1" --ntasks=2 --time=10 --chdir="$REPO" --output="$T/$1.out" \
        "$SBATCH" "$REPO/configs/smoke.yaml" --set "data.path=$T/tiny.h5" --set "checkpoint.dir=$2" \
        --set "training.max_steps=$STEPS" --set training.epochs=1000 --set checkpoint.every_steps=5 --set training.log_every_steps=1
}
job_state() { scontrol show job "$1" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2; }
# wait_done JOB SECONDS: until the job has ended (COMPLETED, FAILED...).
wait_done() {
    local s
    for _ in $(seq 1 "$2"); do
        s=$(job_state "$1")
        case $s in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY) echo "$s"; return ;; esac
        sleep 1
    done
    echo "TIMEOUT_WAITING($s)"
}
final_step() { "$LOOM" inspect "$1/latest.h5" --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["step"])'; }

# 1. A run to the end.
job=$(submit loom-full "$T/full") || { fail "sbatch refused the script"; summary; exit 1; }
state=$(wait_done "$job" 240)
if [[ $state == COMPLETED ]]; then pass "job $job ran to completion"; else
    fail "job $job ended $state; its output:"; tail -n 30 "$T/loom-full.out" >&2; fi
check "loom inspect reads the final checkpoint at step $STEPS" test "$(final_step "$T/full")" = "$STEPS"
check "metrics.csv has a row for step $STEPS" \
    python3 -c "import csv,sys; rows=list(csv.DictReader(open('$T/full/metrics.csv'))); sys.exit(0 if rows and int(float(rows[-1]['step']))==$STEPS else 1)"
check "the workers connected with CURVE keys from the shared directory" grep -q "authorized key" "$T/loom-full.out"

# 2. The same run, signalled mid-way, requeued, resumed.
job=$(submit loom-requeue "$T/requeue")
signalled=0
for _ in $(seq 1 240); do
    if [[ -f $T/requeue/metrics.csv ]] && (( $(wc -l < "$T/requeue/metrics.csv") > 12 )); then
        scancel --batch --signal=USR1 "$job" && signalled=1
        break
    fi
    sleep 0.25
done
check "USR1 sent to job $job mid-run" test $signalled = 1
state=$(wait_done "$job" 300)
check "the signalled job was requeued and then completed (state $state)" test "$state" = COMPLETED
check "the job's output shows the requeue" grep -q "requeueing job $job" "$T/loom-requeue.out"
resumed=$(grep -o 'resumed from [^ ]* at step [0-9]*' "$T/loom-requeue.out" | tail -n 1 | awk '{print $NF}')
check "the requeued job resumed from a checkpoint (step ${resumed:-none}) before the end" \
    test -n "$resumed" -a "${resumed:-0}" -gt 0 -a "${resumed:-0}" -lt "$STEPS"
check "the resumed run went on to step $STEPS" test "$(final_step "$T/requeue")" = "$STEPS"
check "the final weights equal the uninterrupted run's (loom diff)" \
    "$LOOM" diff "$T/full/latest.h5" "$T/requeue/latest.h5" >/dev/null

if (( FAILED > 0 )); then
    echo "--- slurmctld.log (tail)" >&2; tail -n 15 "$T/slurmctld.log" >&2
    echo "--- loom-requeue.out (tail)" >&2; tail -n 30 "$T/loom-requeue.out" >&2
fi
scancel --user=root 2>/dev/null
summary
