#!/usr/bin/env bash
# deploy/ssh/launch.sh: its command construction (--dry-run), then, where sshd can be
# installed and started (openssh-server, a throwaway host key and client key for root on
# 127.0.0.1), two real launches against `localhost` twice: a run to the end, and a run
# stopped by a signal (what Ctrl-C does: checkpoint, then nothing left running).
set -uo pipefail
TEST_NAME=ssh
source "$(dirname "$0")/lib.sh"
LAUNCH=$REPO/deploy/ssh/launch.sh
T=$(mktemp -d /tmp/loom-ssh-test.XXXXXX)
SSHD_PID=""
cleanup() { [[ -n $SSHD_PID ]] && kill "$SSHD_PID" 2>/dev/null; [[ ${KEEP:-0} == 1 ]] || rm -rf "$T"; }
trap cleanup EXIT

# ---- command construction ----------------------------------------------------------------
printf '# cluster\ncoord-a\nnode-b workers=3   # three\nnode-c\n' > "$T/hosts"
dry=$(bash "$LAUNCH" --dry-run --port 6001 "$T/hosts" run.yaml -- --set training.epochs=2 2>&1)
has() { grep -qF -- "$1" <<< "$dry"; }
lines() { grep -cF -- "$1" <<< "$dry"; }
check "the coordinator starts on the first host" has "coord-a 'echo \$\$ > "
check "the coordinator binds the port, resumes and gets the extra options" \
    has "exec loom coordinator --config run.yaml --bind tcp://0.0.0.0:6001 --resume auto --set training.epochs=2"
check "workers connect to the first host" has "loom worker --connect tcp://coord-a:6001 --exit-on-shutdown"
check "workers=3 starts three workers on node-b" has "node-b 'for i in \$(seq 1 3);"
check "a host without workers= gets one worker per core" has "node-c 'for i in \$(seq 1 \$(nproc));"
check "the coordinator's host runs no worker unless asked" test "$(grep -c "coord-a 'for i" <<< "$dry")" = 0
check "every host makes its key pair once" test "$(lines 'loom keygen --out')" = 3
both() { has "$1" && has "$2"; }
check "the coordinator admits node-b's and node-c's public keys" both "authorized/node-b.pub" "authorized/node-c.pub"
check "node-b and node-c get the coordinator's public key" \
    test "$(grep -cE "node-[bc] 'cat > \"\\\$HOME\"/.loom/keys/coordinator.pub'" <<< "$dry")" = 2
dry2=$(bash "$LAUNCH" --dry-run --address 10.0.0.5 --ssh "ssh -p 2222" --keys-dir /etc/loom/keys "$T/hosts" run.yaml 2>&1)
dry=$dry2
check "--address, --ssh and --keys-dir are used" both "ssh -p 2222 node-b" "tcp://10.0.0.5:5555 --exit-on-shutdown --keys /etc/loom/keys"
printf 'coord-a\nnode-b cores=3\n' > "$T/bad-hosts"
out=$(bash "$LAUNCH" --dry-run "$T/bad-hosts" run.yaml 2>&1); status=$?
check "a bad hosts line is refused, naming file and line" \
    bash -c "[[ $status -eq 2 ]] && grep -qF '$T/bad-hosts:2' <<< \"\$0\"" "$out"

# MPI / DeepSpeed hostfiles: slots=N is workers=N, on the first line too; max_slots ignored.
printf '# DeepSpeed\nnode-a slots=2\nnode-b slots=4 max_slots=8\nnode-c\n' > "$T/mpi-hosts"
dry=$(bash "$LAUNCH" --dry-run "$T/mpi-hosts" run.yaml 2>&1); status=$?
check "an MPI/DeepSpeed hostfile is accepted (status $status)" test $status = 0
check "slots=2 on the first line: the coordinator and two workers on node-a" \
    both "node-a 'echo \$\$ > " "node-a 'for i in \$(seq 1 2);"
check "slots=4 max_slots=8 starts four workers on node-b" has "node-b 'for i in \$(seq 1 4);"
check "a host without slots= still gets one worker per core" has "node-c 'for i in \$(seq 1 \$(nproc));"
refused() {  # refused LINE WHAT: a hosts file with LINE second is refused, naming file, line and WHAT
    printf 'coord-a\n%s\n' "$1" > "$T/bad-hosts"
    out=$(bash "$LAUNCH" --dry-run "$T/bad-hosts" run.yaml 2>&1); status=$?
    check "'$1' is refused: $2" bash -c "[[ $status -eq 2 ]] && grep -qF '$T/bad-hosts:2' <<< \"\$0\" && grep -qF \"\$1\" <<< \"\$0\"" "$out" "$2"
}
refused 'node-b slots=four' "expected slots=N with N a number"
refused 'node-b slots=2 workers=2' "both give the number of workers"
refused 'node-b slots=2 extra' "got 'extra'"

# ---- for real, over sshd on loopback ---------------------------------------------------------
if ! apt_install openssh-server openssh-client || [[ ! -x /usr/sbin/sshd ]]; then
    skip "openssh-server cannot be installed here: real launches not tried"
    summary; exit
fi
need_loom
PORT=$((22000 + RANDOM % 2000))
ssh-keygen -q -t ed25519 -N '' -f "$T/host_key" && ssh-keygen -q -t ed25519 -N '' -f "$T/client_key"
cp "$T/client_key.pub" "$T/authorized_keys"; chmod 600 "$T/authorized_keys"
cat > "$T/sshd_config" <<EOF
Port $PORT
ListenAddress 127.0.0.1
HostKey $T/host_key
AuthorizedKeysFile $T/authorized_keys
PidFile $T/sshd.pid
PermitRootLogin prohibit-password
PasswordAuthentication no
StrictModes no
UsePAM no
EOF
mkdir -p /run/sshd
/usr/sbin/sshd -D -e -f "$T/sshd_config" 2>"$T/sshd.log" &
SSHD_PID=$!
SSH="ssh -p $PORT -i $T/client_key -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
for _ in $(seq 1 50); do $SSH localhost true 2>/dev/null && break; sleep 0.2; done
if ! $SSH localhost true 2>/dev/null; then
    skip "sshd would not start here ($(tail -n 1 "$T/sshd.log")): real launches not tried"
    summary; exit
fi
pass "sshd on 127.0.0.1:$PORT accepts the test key"

tiny_dataset "$T/tiny.h5"
printf 'localhost\nlocalhost workers=2\n' > "$T/hosts"
launch() {  # launch RUN_DIR STEPS: launch.sh with the tiny run, in the background
    bash "$LAUNCH" --ssh "$SSH" --loom "$LOOM" --keys-dir "$T/keys" --workdir "$REPO" --port $((PORT + 1)) \
        "$T/hosts" configs/smoke.yaml -- --set "data.path=$T/tiny.h5" --set "checkpoint.dir=$1" \
        --set "training.max_steps=$2" --set training.epochs=1000 --set training.log_every_steps=1 > "$1.log" 2>&1 &
    LAUNCHED=$!
}
step_of() { "$LOOM" inspect "$1/latest.h5" --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["step"])'; }

launch "$T/full" 20
wait "$LAUNCHED"; status=$?
check "a launch runs to the end and exits 0 (status $status)" test $status = 0
check "its checkpoint is at step 20" test "$(step_of "$T/full")" = 20
check "workers were admitted by their CURVE key" grep -q "authorized key" "$T/full.log"
check "two workers joined" test "$(grep -c 'joined' "$T/full.log")" -ge 2

# The stopped launch uses a DeepSpeed-style hostfile: coordinator and 2 workers on one host.
printf 'localhost slots=2\n' > "$T/hosts"
launch "$T/stop" 100000
for _ in $(seq 1 600); do
    [[ -f $T/stop/metrics.csv ]] && (( $(wc -l < "$T/stop/metrics.csv") > 5 )) && break
    sleep 0.1
done
kill -TERM "$LAUNCHED"   # as Ctrl-C (a background job of a script ignores SIGINT)
wait "$LAUNCHED"; status=$?
check "a stopped launch exits 0 (status $status)" test $status = 0
check "the coordinator checkpointed and stopped" grep -q "stopped at step" "$T/stop.log"
check "the stop checkpoint is readable (step $(step_of "$T/stop"))" test -n "$(step_of "$T/stop")"
check "localhost slots=2 started two workers" test "$(grep -c 'joined' "$T/stop.log")" -ge 2
sleep 1
none_left() { ! pgrep -f "loom (worker|coordinator) .*[-]-keys $T/keys" >/dev/null; }
check "no loom process of the launch is left" none_left
summary
