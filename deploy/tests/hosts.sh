#!/usr/bin/env bash
# A multi-host test bed on one machine: N network namespaces ("hosts") on a bridge that lives
# in a namespace of its own, each host's link shaped with tc (tbf), links that can be cut and
# restored. Nothing outside these namespaces is touched: no interface, address or route of the
# machine's own namespace. Needs root (or CAP_NET_ADMIN), iproute2 and the sch_tbf qdisc.
#
# As a command (the bed lives as long as the command, and is removed when it ends or is
# killed by a signal; a bed left behind by SIGKILL is swept by the next start):
#   bash deploy/tests/hosts.sh N [--rate 1gbit|10gbit|25gbit|none] [-- COMMAND...]
#     without COMMAND: prints the hosts and opens a shell; `exit` removes the bed.
#     COMMAND (and the shell) get LOOM_BED=<prefix> LOOM_BED_N=N in the environment, and
#     may `source deploy/tests/hosts.sh` to drive the bed (bed_cut 2, bed_exec 1 loom worker ...).
# As a library (source it): bed_up N [RATE], bed_down, and the functions below.
#
# Layout of a bed with prefix P (P = loomhb-<pid of the owning shell>-):
#   namespace P sw   bridge br0, ports p0 .. p(N-1)
#   namespace P h<i> eth0 = 10.200.0.(i+1)/24, the other end of p<i>; lo up
# Every host's TCP congestion control is LOOM_BED_CC (default cubic; see bed_cc).
# Host 0 is the coordinator's host by convention. A link's rate applies in both directions:
# tbf on the host's eth0 (what it sends) and on the switch port p<i> (what it receives).
# Cutting a link takes the switch port down: the host keeps its address and route, its
# packets go nowhere (as with a pulled cable), and TCP connections survive a short cut.

BED_PREFIX_ROOT=loomhb-
BED_SUBNET=10.200.0

bed_ns() { echo "${LOOM_BED:?no bed: call bed_up first}h$1"; }
bed_sw() { echo "${LOOM_BED:?no bed: call bed_up first}sw"; }
bed_addr() { echo "$BED_SUBNET.$(($1 + 1))"; }
# bed_exec I COMMAND...: runs COMMAND on host I (in the foreground; add & yourself).
bed_exec() { local i=$1; shift; ip netns exec "$(bed_ns "$i")" "$@"; }

# bed_available: succeeds when namespaces, veth, bridges and tbf work here; else prints why.
bed_available() {
    [[ $(id -u) -eq 0 ]] || { echo "not root: network namespaces need root (CAP_NET_ADMIN)"; return 1; }
    command -v ip >/dev/null || { echo "no 'ip' command (install iproute2)"; return 1; }
    command -v tc >/dev/null || { echo "no 'tc' command (install iproute2)"; return 1; }
    local probe="${BED_PREFIX_ROOT}probe-$$" err
    if ! err=$(ip netns add "$probe" 2>&1); then echo "cannot create a network namespace: $err"; return 1; fi
    if ! err=$(ip -n "$probe" link add pa type veth peer name pb 2>&1 \
        && ip -n "$probe" link add br0 type bridge 2>&1 \
        && tc -n "$probe" qdisc add dev pa root tbf rate 1gbit burst 128kb latency 50ms 2>&1); then
        ip netns del "$probe" 2>/dev/null
        echo "namespaces work but veth, bridge or tbf do not: $err"; return 1
    fi
    ip netns del "$probe"
}

# bed_kill_ns NS: ends every process inside namespace NS (TERM, then KILL after 2 s). They
# are the bed's own: nothing else is ever started in its namespaces.
bed_kill_ns() {
    local pids
    pids=$(ip netns pids "$1" 2>/dev/null) || return 0
    [[ -z $pids ]] && return 0
    kill -TERM $pids 2>/dev/null
    for _ in $(seq 1 20); do
        pids=$(ip netns pids "$1" 2>/dev/null); [[ -z $pids ]] && return 0; sleep 0.1
    done
    kill -KILL $pids 2>/dev/null; sleep 0.2
}

# bed_kill_tagged PREFIX: ends every process (but this shell) whose environment holds
# LOOM_BED=PREFIX: a bed's command and whatever it started, in the namespaces or not, also
# those orphaned when the command itself was killed (a scenario's background loop cutting
# links, a reference run); TERM, then KILL after 2 s. Reads /proc/*/environ (root).
bed_kill_tagged() {
    local tag="LOOM_BED=$1" pids p left
    pids=$(grep -lzxF "$tag" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3 | grep -vx -e "$$" -e "$BASHPID")
    [[ -z $pids ]] && return 0
    kill -TERM $pids 2>/dev/null
    for _ in $(seq 1 20); do
        left=""; for p in $pids; do kill -0 "$p" 2>/dev/null && left+=" $p"; done
        [[ -z $left ]] && return 0; sleep 0.1
    done
    echo "hosts: processes of bed $1 still running 2 s after SIGTERM:$left; killing them" >&2
    kill -KILL $left 2>/dev/null
}

# bed_sweep: removes the beds whose owning shell is gone (left behind by SIGKILL), and the
# processes they left behind.
bed_sweep() {
    local ns owner
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$BED_PREFIX_ROOT"); do
        owner=$(sed -E "s/^$BED_PREFIX_ROOT(probe-)?([0-9]+)-?.*/\2/" <<< "$ns")
        [[ $owner =~ ^[0-9]+$ ]] && kill -0 "$owner" 2>/dev/null && continue
        echo "hosts: removing stale namespace $ns (its owner $owner is gone)" >&2
        [[ $ns == "$BED_PREFIX_ROOT$owner-sw" ]] && bed_kill_tagged "$BED_PREFIX_ROOT$owner-"
        bed_kill_ns "$ns"; ip netns del "$ns" 2>/dev/null
    done
}

# bed_up N [RATE]: makes the bed (hosts 0..N-1) owned by this shell, after a sweep.
bed_up() {
    local n=$1 rate=${2:-none} i sw
    [[ $n =~ ^[1-9][0-9]*$ && $n -le 250 ]] || { echo "hosts: N must be 1..250, got '$n'" >&2; return 2; }
    bed_sweep
    export LOOM_BED="$BED_PREFIX_ROOT$BASHPID-" LOOM_BED_N=$n
    sw=$(bed_sw)
    ip netns add "$sw" || return 1
    ip -n "$sw" link set lo up
    ip -n "$sw" link add br0 type bridge && ip -n "$sw" link set br0 up || return 1
    for ((i = 0; i < n; i++)); do
        ip netns add "$(bed_ns $i)" || return 1
        ip -n "$sw" link add "p$i" type veth peer name "e$i" || return 1
        ip -n "$sw" link set "e$i" netns "$(bed_ns $i)" || return 1
        ip -n "$sw" link set "p$i" master br0 && ip -n "$sw" link set "p$i" up || return 1
        ip -n "$(bed_ns $i)" link set "e$i" name eth0 || return 1
        ip -n "$(bed_ns $i)" addr add "$(bed_addr $i)/24" dev eth0 || return 1
        ip -n "$(bed_ns $i)" link set eth0 up && ip -n "$(bed_ns $i)" link set lo up || return 1
        bed_rate "$i" "$rate" || return 1
        bed_cc "$i" || return 1
    done
}

# bed_cc I: sets host I's TCP congestion control to LOOM_BED_CC (default cubic, the Linux
# default; `host` keeps what this machine's kernel gives new namespaces). A namespace
# inherits the machine's default, which differs between machines: with BBR (this VM's
# default), the shard servers' bursts after an idle compute met a congestion window of 6-10
# segments and arrived 15-140 ms late now and then (docs/SCALING.md, "TCP congestion control
# on the bed"). Unset and unavailable, it warns and keeps the machine's default; asked for by
# name and unavailable, it fails.
bed_cc() {
    local cc=${LOOM_BED_CC:-cubic} have
    [[ $cc == host ]] && return 0
    ip netns exec "$(bed_ns "$1")" sysctl -qw "net.ipv4.tcp_congestion_control=$cc" 2>/dev/null && return 0
    have=$(cat /proc/sys/net/ipv4/tcp_available_congestion_control 2>/dev/null)
    if [[ -z ${LOOM_BED_CC:-} ]]; then
        echo "hosts: warning: TCP congestion control cubic is not available here (have: $have); host $1 keeps the machine's default" >&2
        return 0
    fi
    echo "hosts: LOOM_BED_CC=$cc: no such TCP congestion control here (have: $have; or 'host')" >&2
    return 1
}

# bed_rate I RATE: shapes host I's link to RATE (tc units: 1gbit, 10gbit, 25gbit, 500mbit)
# in both directions; RATE=none removes the shaping. The bucket holds 4 ms at RATE (at least
# 64 KiB, so one 64 KiB GSO segment always fits; with 1 ms a busy machine's timer slack
# held a 1gbit link to 0.81-0.89 Gbit/s), the queue 50 ms.
bed_rate() {
    local i=$1 rate=$2 bytes burst dev ns
    for dev in "$(bed_ns "$i") eth0" "$(bed_sw) p$i"; do
        set -- $dev; ns=$1
        tc -n "$ns" qdisc del dev "$2" root 2>/dev/null
        [[ $rate == none ]] && continue
        bytes=$(bed_rate_bytes "$rate") || { echo "hosts: bad rate '$rate' (e.g. 1gbit, 10gbit, 25gbit, 500mbit)" >&2; return 2; }
        burst=$((bytes / 250)); ((burst < 65536)) && burst=65536
        tc -n "$ns" qdisc add dev "$2" root tbf rate "$rate" burst "$burst" latency 50ms || return 1
    done
}

# bed_rate_bytes RATE: bytes per second of a tc rate (kbit, mbit, gbit; decimal, as tc): a
# positive whole number and its unit, nothing else.
bed_rate_bytes() {
    local r=${1,,}
    [[ $r =~ ^[1-9][0-9]{0,5}(k|m|g)bit$ ]] || return 1
    case $r in
        *gbit) echo $(( ${r%gbit} * 1000000000 / 8 )) ;;
        *mbit) echo $(( ${r%mbit} * 1000000 / 8 )) ;;
        *kbit) echo $(( ${r%kbit} * 1000 / 8 )) ;;
        *) return 1 ;;
    esac
}

# bed_cut I / bed_restore I: pull and put back host I's cable (its switch port).
bed_cut() { ip -n "$(bed_sw)" link set "p$1" down; }
bed_restore() { ip -n "$(bed_sw)" link set "p$1" up; }

# bed_down: ends the bed's processes and removes its namespaces (idempotent).
bed_down() {
    [[ -n ${LOOM_BED:-} ]] || return 0
    local ns
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -F "$LOOM_BED"); do
        bed_kill_ns "$ns"; ip netns del "$ns" 2>/dev/null
    done
    unset LOOM_BED LOOM_BED_N
}

# ---- Loom on the bed -----------------------------------------------------------------------
# bed_keys DIR N: CURVE keys for a coordinator (DIR/coordinator) and workers DIR/w0..w(N-1),
# each worker admitted by the coordinator and holding the coordinator's public key.
bed_keys() {
    local dir=$1 n=$2 i
    "${LOOM:?LOOM: the loom binary}" keygen --out "$dir/coordinator" >/dev/null || return 1
    mkdir -p "$dir/coordinator/authorized"
    for ((i = 0; i < n; i++)); do
        "$LOOM" keygen --out "$dir/w$i" >/dev/null || return 1
        cp "$dir/w$i/loom.pub" "$dir/coordinator/authorized/w$i.pub"
        cp "$dir/coordinator/loom.pub" "$dir/w$i/coordinator.pub"
    done
}

# bed_coordinator HOST PORT KEYS LOG ARGS...: `loom coordinator` on HOST, bound to its address
# with CURVE, shared memory off; sets BED_PID (the loom process: ip netns exec execs it).
# ARGS: --config and --set options.
bed_coordinator() {
    local h=$1 port=$2 keys=$3 log=$4; shift 4
    ip netns exec "$(bed_ns "$h")" "$LOOM" coordinator --bind "tcp://$(bed_addr "$h"):$port" --keys "$keys/coordinator" \
        --set cluster.shared_memory=false "$@" > "$log" 2>&1 &
    BED_PID=$!
}

# bed_worker HOST COORD_HOST PORT KEYS K LOG [ARGS...]: `loom worker` number K on HOST,
# connected to COORD_HOST over TCP with CURVE and --no-shared-memory; sets BED_PID.
bed_worker() {
    local h=$1 c=$2 port=$3 keys=$4 k=$5 log=$6; shift 6
    ip netns exec "$(bed_ns "$h")" "$LOOM" worker --connect "tcp://$(bed_addr "$c"):$port" --keys "$keys/w$k" \
        --no-shared-memory --exit-on-shutdown "$@" > "$log" 2>&1 &
    BED_PID=$!
}

# bed_server HOST COORD_HOST PORT KEYS K SPORT LOG [ARGS...]: `loom server` on HOST, connected
# to COORD_HOST's coordinator with the CURVE keys of worker K (KEYS/wK), bound for workers at
# HOST's address, port SPORT, with CURVE there too (the same pair; it admits the workers the
# coordinator admits, and workers learn its key from the coordinator); sets BED_PID.
# ARGS may add --plaintext-workers --insecure (workers' links without CURVE, to compare).
bed_server() {
    local h=$1 c=$2 port=$3 keys=$4 k=$5 sport=$6 log=$7; shift 7
    ip netns exec "$(bed_ns "$h")" "$LOOM" server --connect "tcp://$(bed_addr "$c"):$port" --keys "$keys/w$k" \
        --bind "tcp://$(bed_addr "$h"):$sport" --exit-on-shutdown "$@" > "$log" 2>&1 &
    BED_PID=$!
}

# ---- command-line use ----------------------------------------------------------------------
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    set -uo pipefail
    usage() { echo "usage: hosts.sh N [--rate RATE] [-- COMMAND...]   (see the header of $0)" >&2; exit 2; }
    refuse() { echo "hosts: $*; usage: hosts.sh N [--rate RATE] [-- COMMAND...]" >&2; exit 2; }
    [[ $# -ge 1 ]] || usage
    [[ $1 == -h || $1 == --help ]] && { sed -n '2,24p' "$0"; exit 0; }
    N=$1; shift; RATE=none
    while [[ $# -gt 0 ]]; do
        case $1 in
            --rate) [[ $# -ge 2 && $2 != --* ]] || refuse "--rate needs a value (1gbit, 10gbit, 25gbit, 500mbit, none)"
                    RATE=$2; shift 2 ;;
            --) shift; break ;;
            -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
            *) refuse "unknown option '$1'" ;;
        esac
    done
    [[ $N =~ ^[1-9][0-9]*$ && $N -le 250 ]] || { echo "hosts: N must be 1..250, got '$N'" >&2; exit 2; }
    [[ $RATE == none ]] || bed_rate_bytes "$RATE" >/dev/null \
        || { echo "hosts: bad rate '$RATE' (a positive whole number of kbit, mbit or gbit, e.g. 1gbit, 500mbit; or none)" >&2; exit 2; }
    why=$(bed_available) || { echo "hosts: cannot make a test bed here: $why" >&2; exit 1; }
    CHILD=""
    # On the way out, whatever the command started and left running (a background loop, a
    # process the command's own SIGTERM orphaned) is stopped too: it carries LOOM_BED.
    trap '[[ -n ${LOOM_BED:-} ]] && bed_kill_tagged "$LOOM_BED"; bed_down' EXIT
    # A signal stops COMMAND too (it runs in the background so that the trap runs at once),
    # giving it up to 5 s to run its own clean-up before the rest is stopped.
    stop_child() {
        [[ -n $CHILD ]] || return 0
        kill -TERM $CHILD 2>/dev/null
        for _ in $(seq 1 50); do kill -0 $CHILD 2>/dev/null || return 0; sleep 0.1; done
    }
    trap 'stop_child; exit 130' INT
    trap 'stop_child; exit 143' TERM
    bed_up "$N" "$RATE" || { echo "hosts: could not make the bed" >&2; exit 1; }
    echo "hosts: $N host(s), prefix $LOOM_BED, rate $RATE:" >&2
    for ((i = 0; i < N; i++)); do echo "  host $i: namespace $(bed_ns $i), address $(bed_addr $i)" >&2; done
    if [[ $# -gt 0 ]]; then
        "$@" <&0 & CHILD=$!
        wait $CHILD; exit
    fi
    echo "hosts: a shell with LOOM_BED set; 'source $0' for bed_exec, bed_cut, bed_restore, bed_rate; exit to remove" >&2
    "${SHELL:-bash}"
fi
