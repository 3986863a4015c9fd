#!/usr/bin/env bash
# Loom across hosts, on the namespaced test bed of deploy/tests/hosts.sh: 4 hosts with 1 Gbit/s
# links, coordinator and workers in different namespaces, over TCP with CURVE and without
# shared memory.
#   - every host on CUBIC (LOOM_BED_CC), a bad LOOM_BED_CC refused;
#   - bandwidth: a TCP transfer between two hosts is held to the link's tbf rate;
#   - 4 hosts train bitwise the same weights as 1 host;
#   - a worker's link is cut: it is declared dead, the run goes on, it rejoins when the link
#     returns; the coordinator's link is cut: the workers reconnect and training resumes;
#     the weights at the end are bitwise those of a one-process run of as many steps;
#   - hosts.sh as a command runs a scenario (scenarios/flap.sh) and removes its bed;
#   - shard servers across hosts (scenarios/servers.sh), CURVE on every link: bitwise, also with one killed; the
#     same with cluster.wire bf16 on 2 hosts;
#   - fewer servers than hosts, a 2-slot worker and then the coordinator SIGKILLed and resumed
#     (scenarios/restart.sh): bitwise.
# Skips (with the reason) where network namespaces cannot be made. About 30 s (up to 2 min beside a build).
set -uo pipefail
TEST_NAME=multihost
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/hosts.sh"
T=$(mktemp -d /tmp/loom-multihost-test.XXXXXX)
cleanup() { bed_down; [[ ${KEEP:-0} == 1 ]] || rm -rf "$T"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

command -v ip >/dev/null && command -v tc >/dev/null || apt_install iproute2
if ! why=$(bed_available); then
    skip "no multi-host test bed here: $why"
    summary; exit
fi
need_loom

# wait_until SECONDS COMMAND...: polls COMMAND every 0.1 s.
wait_until() { local n=$(($1 * 10)); shift; for _ in $(seq 1 $n); do "$@" && return 0; sleep 0.1; done; return 1; }

# ---- the bed cleans up after itself -------------------------------------------------------------
HOSTS=$REPO/deploy/tests/hosts.sh
beds_of() { ip netns list | awk '{print $1}' | grep -c "^loomhb-$1-"; }
# COMMAND writes its pid once the bed is up (hosts.sh starts it after the last namespace), and
# leaves a process of its own in the background that its end does not stop (as a scenario's
# loop cutting links would be): its pid in NAME.bg.
command_of() { echo "sleep 61 & echo \$! > $T/$1.bg; echo \$\$ > $T/$1.pid; exec sleep 60"; }
# gone NAME: both processes have ended (a zombie has: an orphan's reaper may be slow or absent).
gone() {
    local p
    for p in "$(cat "$T/$1.pid")" "$(cat "$T/$1.bg")"; do
        [[ $p =~ ^[0-9]+$ ]] || return 1
        [[ -e /proc/$p ]] && [[ $(awk '{print $3}' "/proc/$p/stat" 2>/dev/null) != Z ]] && return 1
    done
    return 0
}
started() { [[ -s $T/$1.pid ]]; }
bash "$HOSTS" 2 --rate 10gbit -- bash -c "$(command_of term)" 2>/dev/null & H=$!
wait_until 10 started term
check "hosts.sh 2 makes 3 namespaces (2 hosts and the switch)" test "$(beds_of $H)" = 3
check "hosts.sh --rate 10gbit shapes host 1 to 10 Gbit/s" \
    bash -c "tc -n loomhb-$H-h1 qdisc show dev eth0 | grep -q 'tbf.*rate 10Gbit'"
kill -TERM $H; wait $H
check "hosts.sh stopped by SIGTERM removes them and stops its command, and what the command started" \
    eval "[[ $(beds_of $H) == 0 ]] && gone term"
bash "$HOSTS" 2 -- bash -c "$(command_of kill)" 2>/dev/null & H=$!
wait_until 10 started kill
kill -KILL $H; wait $H 2>/dev/null
killed_left=$(beds_of $H)
bed_sweep 2>/dev/null
check "a bed left by SIGKILL ($killed_left namespaces) is swept at the next start, with its command's processes" \
    eval "[[ $killed_left == 3 && $(beds_of $H) == 0 ]] && gone kill"
kill "$(cat "$T/kill.pid")" "$(cat "$T/kill.bg")" 2>/dev/null   # in case the sweep failed: ours to stop

bed_up 4 1gbit || { fail "could not make a 4-host test bed"; summary; exit 1; }
pass "a 4-host bed: namespaces $(bed_ns 0) .. $(bed_ns 3), addresses $(bed_addr 0) .. $(bed_addr 3)"
check "nothing of the bed is in the machine's own namespace" \
    bash -c "! ip -o addr show | grep -qF ' $BED_SUBNET.'"
check "host 1's link is shaped to 1 Gbit/s both ways" bash -c \
    "tc -n $(bed_ns 1) qdisc show dev eth0 | grep -q 'tbf.*rate 1Gbit' && tc -n $(bed_sw) qdisc show dev p1 | grep -q 'tbf.*rate 1Gbit'"

if grep -qw cubic /proc/sys/net/ipv4/tcp_available_congestion_control; then
    all_cubic() { for i in 0 1 2 3; do [[ $(bed_exec $i sysctl -n net.ipv4.tcp_congestion_control) == cubic ]] || return 1; done; }
    check "every host uses CUBIC, whatever the machine's default ($(cat /proc/sys/net/ipv4/tcp_congestion_control))" all_cubic
fi
err=$(LOOM_BED_CC=nonesuch bash "$REPO/deploy/tests/hosts.sh" 1 -- true 2>&1); status=$?
check "LOOM_BED_CC=nonesuch: no bed (status $status), the error names it" \
    test "$status" != 0 -a -n "$(grep -F 'LOOM_BED_CC=nonesuch' <<< "$err")"

# ---- bandwidth --------------------------------------------------------------------------------
# 100 MB from host 1 to host 2 at 1 Gbit/s is 0.8 s. The rate is what the receiver saw from
# first byte to last. The upper bound is the check that tc holds the link (plus the 4 ms
# bucket); the lower bound only that the link carries traffic at its rate's order (a busy
# machine's timer slack costs some per cent, see docs/notes/2026-12-06-multihost-test-bed.md).
transfer() {  # transfer FROM TO BYTES -> "<bytes> <seconds> <bits/s>"
    local port=$((7000 + RANDOM % 1000))
    bed_exec "$2" python3 "$REPO/deploy/tests/linkrate.py" recv "$(bed_addr "$2")" $port > "$T/rate.out" &
    local r=$!
    bed_exec "$1" python3 "$REPO/deploy/tests/linkrate.py" send "$(bed_addr "$2")" $port "$3"
    wait $r; cat "$T/rate.out"
}
read -r bytes secs bps < <(transfer 1 2 100000000)
check "100 MB over a 1 Gbit/s link took $secs s: $((bps / 1000000)) Mbit/s, not above the rate" \
    test "${bps:-0}" -gt 0 -a "${bps:-0}" -le 1060000000
check "... and at least half the rate ($((bps / 1000000)) Mbit/s >= 500)" test "${bps:-0}" -ge 500000000
bed_rate 1 200mbit; bed_rate 2 200mbit
read -r bytes secs bps < <(transfer 1 2 25000000)
check "25 MB at 200 Mbit/s took $secs s: $((bps / 1000000)) Mbit/s, within 200 x [0.5, 1.06]" \
    test "${bps:-0}" -ge 100000000 -a "${bps:-0}" -le 212000000
bed_rate 1 25gbit
check "bed_rate 1 25gbit shapes both ends to 25 Gbit/s" bash -c \
    "tc -n $(bed_ns 1) qdisc show dev eth0 | grep -q 'tbf.*rate 25Gbit' && tc -n $(bed_sw) qdisc show dev p1 | grep -q 'tbf.*rate 25Gbit'"
bed_rate 1 1gbit; bed_rate 2 1gbit
bed_cut 2
bed_exec 2 timeout 3 python3 "$REPO/deploy/tests/linkrate.py" recv "$(bed_addr 2)" 7999 > /dev/null 2>&1 &
if bed_exec 1 timeout 2 python3 "$REPO/deploy/tests/linkrate.py" send "$(bed_addr 2)" 7999 1000 2>/dev/null; then
    fail "a cut link still carried a connection"
else pass "a cut link carries nothing"; fi
wait; bed_restore 2

# ---- Loom on the bed ----------------------------------------------------------------------------
tiny_dataset "$T/tiny.h5"
bed_keys "$T/keys" 4 || { fail "loom keygen"; summary; exit 1; }
PORT=$((40000 + RANDOM % 5000))
ARGS=(--config "$REPO/configs/smoke.yaml" --set "data.path=$T/tiny.h5" --set training.epochs=1000
      --set training.log_every_steps=1)
step_of() { "$LOOM" inspect "$1" --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["step"])'; }
last_step() { tail -n 1 "$1/metrics.csv" 2>/dev/null | cut -d, -f1 | grep -E '^[0-9]+$' || echo 0; }
# cluster NAME STEPS HOST...: coordinator on host 0, one worker on each HOST; waits for the end.
cluster() {
    local name=$1 steps=$2 h k=0 pids=(); shift 2
    bed_coordinator 0 $PORT "$T/keys" "$T/$name.coord.log" "${ARGS[@]}" --set "checkpoint.dir=$T/$name" \
        --set "training.max_steps=$steps" --min-workers $#
    local coord=$BED_PID
    for h in "$@"; do bed_worker "$h" 0 $PORT "$T/keys" $k "$T/$name.w$k.log"; pids+=($BED_PID); k=$((k + 1)); done
    wait $coord; local status=$?
    for h in "${pids[@]}"; do wait "$h"; done
    return $status
}

same() { "$LOOM" diff "$1" "$2" > "$T/diff.out" 2>&1 || { cat "$T/diff.out" >&2; return 1; }; }

cluster one 20 0; status=$?
check "1 host (coordinator and worker on host 0, TCP, CURVE) trains 20 steps (status $status)" \
    test "$status" = 0 -a "$(step_of "$T/one/latest.h5")" = 20
cluster four 20 0 1 2 3; status=$?
check "4 hosts train 20 steps (status $status)" test "$status" = 0 -a "$(step_of "$T/four/latest.h5")" = 20
admitted_from() { grep -oE "accepted client key .* from [0-9.]+: authorized key" "$1" | awk '{print $(NF-2)}' | tr -d : | sort -u | xargs; }
check "the 4 workers were admitted by their CURVE keys from the 4 hosts' addresses ($(admitted_from "$T/four.coord.log"))" \
    test "$(admitted_from "$T/four.coord.log")" = "$(bed_addr 0) $(bed_addr 1) $(bed_addr 2) $(bed_addr 3)"
check "no worker used shared memory" \
    bash -c "grep 'joined' '$T/four.coord.log' | grep -q 'shared memory no' && ! grep 'joined' '$T/four.coord.log' | grep -q 'shared memory yes'"
check "4 hosts give bitwise the weights of 1 host (loom diff)" same "$T/one/latest.h5" "$T/four/latest.h5"

# ---- cuts ----------------------------------------------------------------------------------------
# A dedicated coordinator host (0) and workers on hosts 1..3; the run is long and is stopped by
# SIGTERM once every event was seen, then compared with a one-process run of as many steps.
bed_coordinator 0 $PORT "$T/keys" "$T/cut.coord.log" "${ARGS[@]}" --set "checkpoint.dir=$T/cut" \
    --set training.max_steps=100000 --min-workers 3
COORD=$BED_PID
WPIDS=()
for h in 1 2 3; do bed_worker "$h" 0 $PORT "$T/keys" $h "$T/cut.w$h.log"; WPIDS+=($BED_PID); done
CL=$T/cut.coord.log
count() { grep -c -- "$1" "$CL"; }
past() { (( $(last_step "$T/cut") >= $1 )); }
if ! wait_until 60 past 5; then fail "the run did not reach step 5"; tail -n 5 "$CL" >&2; summary; exit 1; fi

W2=${WPIDS[1]}
# What was done when, beside the logs' timestamps (KEEP=1 keeps $T).
event() { echo "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ) $*" >> "$T/events.log"; "$@"; }
event bed_cut 2
dead() { grep "declared dead" "$CL" | grep -q ":$W2)"; }
check "host 2's link cut: its worker (pid $W2) is declared dead" wait_until 20 dead
s1=$(last_step "$T/cut")
check "the run goes on without it (step $s1 -> $((s1 + 5)))" wait_until 30 past $((s1 + 5))
# live_again N: the coordinator has logged "3 worker(s) live" since line N of its log.
live_again() { tail -n +$(($1 + 1)) "$CL" | grep -q "; 3 worker(s) live"; }
lines=$(wc -l < "$CL")
event bed_restore 2
back() { tail -n +$((lines + 1)) "$CL" | grep -E 'joined:|taken back' | grep -q ":$W2)"; }
check "host 2's link restored: the same worker (pid $W2) is back" wait_until 30 back
check "... and 3 workers are live again" wait_until 30 live_again $lines
check "... and the run goes on with it" wait_until 30 past $(( $(last_step "$T/cut") + 3 ))

lost_before=$(count "declared dead")
event bed_cut 0
all_dead() { (( $(count "declared dead") >= lost_before + 3 )); }
check "the coordinator's link cut: it declares its 3 workers dead" wait_until 20 all_dead
reconnecting() { local h; for h in 1 2 3; do grep -q "reconnecting with a fresh socket" "$T/cut.w$h.log" || return 1; done; }
check "the 3 workers notice and reconnect with fresh sockets" wait_until 20 reconnecting
s2=$(last_step "$T/cut")
sleep 1
check "training stands still while the coordinator is cut off (step $s2)" test "$(last_step "$T/cut")" -le $((s2 + 1))
lines=$(wc -l < "$CL")
event bed_restore 0
check "the coordinator's link restored: the 3 workers are back" wait_until 30 live_again $lines
check "... and training resumes (step $s2 -> $((s2 + 5)))" wait_until 30 past $((s2 + 5))
kill -TERM $COORD; wait $COORD; status=$?
for p in "${WPIDS[@]}"; do wait "$p"; done
K=$(step_of "$T/cut/latest.h5")
check "the coordinator stops with a checkpoint (status $status, step $K)" test "$status" = 0 -a -n "$K"
"$LOOM" train "${ARGS[@]}" --set "checkpoint.dir=$T/ref" --set "training.max_steps=$K" --workers 0 \
    > "$T/ref.log" 2>&1
check "after both cuts the weights are bitwise those of a one-process run of $K steps" \
    same "$T/ref/latest.h5" "$T/cut/latest.h5"
bed_down

# ---- a scenario through the command line ----------------------------------------------------------
out=$(bash "$HOSTS" 3 --rate 1gbit -- bash "$REPO/deploy/tests/scenarios/flap.sh" 8 0.7 2>&1); status=$?
if [[ $status == 0 ]] && grep -q "flap: 2 passed, 0 failed" <<< "$out"; then
    pass "hosts.sh 3 -- scenarios/flap.sh: a worker's link flapping every 0.7 s, weights bitwise ($(grep -o 'declared dead [0-9]* time(s)' <<< "$out"))"
else
    fail "hosts.sh 3 -- scenarios/flap.sh (status $status)"; tail -n 15 <<< "$out" >&2
fi
out2=$(bash "$HOSTS" 3 --rate 1gbit -- bash "$REPO/deploy/tests/scenarios/servers.sh" 20 2>&1); status=$?
if [[ $status == 0 ]] && grep -q "servers: 6 passed, 0 failed" <<< "$out2"; then
    pass "hosts.sh 3 -- scenarios/servers.sh: 3 shard servers across hosts, CURVE on every link, and one killed mid-run, weights bitwise"
else
    fail "hosts.sh 3 -- scenarios/servers.sh (status $status)"; tail -n 15 <<< "$out2" >&2
fi
out3=$(WIRE=bf16 bash "$HOSTS" 2 --rate 1gbit -- bash "$REPO/deploy/tests/scenarios/servers.sh" 12 2>&1); status=$?
if [[ $status == 0 ]] && grep -q "servers: 6 passed, 0 failed" <<< "$out3"; then
    pass "WIRE=bf16 hosts.sh 2 -- scenarios/servers.sh: bf16 through 2 shard servers, and one killed mid-run, weights bitwise those of the bf16 one-process run"
else
    fail "WIRE=bf16 hosts.sh 2 -- scenarios/servers.sh (status $status)"; tail -n 15 <<< "$out3" >&2
fi
out4=$(OVERLAP=true WIRE=bf16 bash "$HOSTS" 3 --rate 1gbit -- bash "$REPO/deploy/tests/scenarios/servers.sh" 12 2>&1); status=$?
if [[ $status == 0 ]] && grep -q "servers: 6 passed, 0 failed" <<< "$out4"; then
    pass "OVERLAP=true WIRE=bf16 hosts.sh 3 -- scenarios/servers.sh: overlap through 3 shard servers (pushes standing for pulls), and one killed mid-run, weights bitwise"
else
    fail "OVERLAP=true WIRE=bf16 hosts.sh 3 -- scenarios/servers.sh (status $status)"; tail -n 15 <<< "$out4" >&2
fi
out5=$(bash "$HOSTS" 4 --rate 1gbit -- bash "$REPO/deploy/tests/scenarios/restart.sh" 24 2>&1); status=$?
if [[ $status == 0 ]] && grep -q "restart: 5 passed, 0 failed" <<< "$out5"; then
    pass "hosts.sh 4 -- scenarios/restart.sh: 3 servers on 4 hosts, a 2-slot worker and then the coordinator SIGKILLed, resumed, weights bitwise"
else
    fail "hosts.sh 4 -- scenarios/restart.sh (status $status)"; tail -n 15 <<< "$out5" >&2
fi
prefix=$(grep -oE "prefix $BED_PREFIX_ROOT[0-9]+-" <<< "$out" | cut -d' ' -f2)
check "the scenario's bed ($prefix) is gone" test -n "$prefix" -a "$(ip netns list | grep -c "^$prefix")" = 0
summary
