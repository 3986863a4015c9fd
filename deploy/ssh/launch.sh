#!/usr/bin/env bash
# Starts a Loom run over SSH: the coordinator on the first host of HOSTS, workers on the
# others, after exchanging CURVE public keys. Ctrl-C (or SIGTERM) stops everything: the
# coordinator writes a checkpoint first; a later launch continues from it (--resume auto).
#
#   deploy/ssh/launch.sh [options] HOSTS CONFIG [-- loom options, e.g. --set training.epochs=30]
#
# HOSTS, one host per line ('#' starts a comment):
#   gpu-less-a.example.org             # the first line: the coordinator (and no worker)
#   node-b workers=8                   # 8 workers on node-b
#   node-c                             # one worker per core of node-c (its `nproc`)
# A `workers=N` on the first line also starts N workers beside the coordinator.
# MPI and DeepSpeed hostfiles work as they are: `node-b slots=8` is `node-b workers=8`, on
# the first line too (their first host computes as well), and Open MPI's `max_slots=N` is
# accepted and ignored (Loom starts exactly `slots` workers, never more).
#
# Every host needs the loom binary and, on the coordinator, CONFIG and its dataset (paths
# relative to --workdir). Keys: each host makes its pair once in --keys-dir (loom keygen);
# the coordinator's allow-list gets every worker host's public key and every worker host
# gets the coordinator's. Secret keys never leave their host.
#
# Options:
#   --port P            coordinator port (default 5555)
#   --metrics-port P    serve Prometheus metrics on the coordinator host (every interface)
#   --address A         address workers connect to (default: the first host's name)
#   --loom PATH         loom on the hosts (default: loom)
#   --keys-dir DIR      key directory on the hosts (default: .loom/keys, relative to the home)
#   --workdir DIR       working directory on the hosts (default: the home directory)
#   --ssh "CMD"         ssh command (default: "ssh -o BatchMode=yes"; e.g. "ssh -p 2222 -i key")
#   --dry-run           print the commands, run nothing
set -uo pipefail

usage() { sed -n '2,/^set -uo/p' "$0" | sed -e '/^set -uo/d' -e 's/^# \{0,1\}//' >&2; exit 2; }
die() { echo "launch.sh: $*" >&2; exit 2; }
note() { echo "launch.sh: $*" >&2; }

PORT=5555 METRICS_PORT="" ADDRESS="" LOOM=loom KEYS=.loom/keys WORKDIR="" SSH="ssh -o BatchMode=yes" DRY=0
while [[ $# -gt 0 ]]; do
    case $1 in
        --port) PORT=$2; shift 2 ;;
        --metrics-port) METRICS_PORT=$2; shift 2 ;;
        --address) ADDRESS=$2; shift 2 ;;
        --loom) LOOM=$2; shift 2 ;;
        --keys-dir) KEYS=$2; shift 2 ;;
        --workdir) WORKDIR=$2; shift 2 ;;
        --ssh) SSH=$2; shift 2 ;;
        --dry-run) DRY=1; shift ;;
        -h|--help) usage ;;
        --) break ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) break ;;
    esac
done
[[ $# -ge 2 ]] || usage
HOSTS_FILE=$1 CONFIG=$2; shift 2
[[ ${1:-} == -- ]] && shift
EXTRA=("$@")
[[ -r $HOSTS_FILE ]] || die "cannot read the hosts file $HOSTS_FILE"
[[ $PORT =~ ^[0-9]+$ ]] || die "--port must be a number, got $PORT"

# ---- hosts ---------------------------------------------------------------------------------
HOSTS=() COUNTS=()
lineno=0
while IFS= read -r line || [[ -n $line ]]; do
    lineno=$((lineno + 1))
    line=${line%%#*}
    read -ra words <<< "$line"
    ((${#words[@]} > 0)) || continue
    host=${words[0]} count=auto given=""
    for opt in "${words[@]:1}"; do
        case $opt in
            workers=*|slots=*)
                [[ $opt =~ ^[a-z]+=([0-9]+)$ ]] \
                    || die "$HOSTS_FILE:$lineno: expected ${opt%%=*}=N with N a number, got '$opt'"
                [[ -z $given ]] || die "$HOSTS_FILE:$lineno: '$given' and '$opt' both give the number of workers; keep one"
                count=$((10#${BASH_REMATCH[1]})) given=$opt ;;
            max_slots=*)   # Open MPI's oversubscription limit: Loom starts exactly slots= workers
                [[ $opt =~ ^max_slots=[0-9]+$ ]] || die "$HOSTS_FILE:$lineno: expected max_slots=N, got '$opt'" ;;
            *) die "$HOSTS_FILE:$lineno: expected 'host [workers=N]' or 'host slots=N', got '$opt' in '$line'" ;;
        esac
    done
    HOSTS+=("$host"); COUNTS+=("$count")
done < "$HOSTS_FILE"
((${#HOSTS[@]} >= 1)) || die "$HOSTS_FILE names no host"
[[ ${COUNTS[0]} == auto ]] && COUNTS[0]=0          # the coordinator host runs no worker unless asked
COORD=${HOSTS[0]}
ADDRESS=${ADDRESS:-$COORD}
TAG=loom-launch-$$-$RANDOM

# q WORD...: the words quoted for a remote shell.
q() { local out="" w; for w in "$@"; do out+="${out:+ }$(printf '%q' "$w")"; done; printf '%s' "$out"; }
# remote HOST CMD: runs CMD (a shell string) on HOST; with --dry-run prints it.
remote() {
    local host=$1; shift
    local sq="'\\''"
    if ((DRY)); then echo "$SSH $(q "$host") '${*//\'/$sq}'"; return 0; fi
    $SSH "$host" "$*"
}
cd_work() { [[ -n $WORKDIR ]] && echo "cd $(q "$WORKDIR") && " || echo ""; }
LOOMQ=$(q "$LOOM")
# A relative key directory is relative to the home directory on every host, whatever --workdir.
if [[ $KEYS == /* ]]; then KEYSQ=$(q "$KEYS"); else KEYSQ="\"\$HOME\"/$(q "$KEYS")"; fi

# ---- keys ----------------------------------------------------------------------------------
# Every distinct host: a key pair (once). Then the coordinator admits each worker host's
# public key, and each worker host trusts the coordinator's.
declare -A SEEN=()
for host in "${HOSTS[@]}"; do
    [[ -n ${SEEN[$host]:-} ]] && continue
    SEEN[$host]=1
    remote "$host" "test -f $KEYSQ/loom.key || $LOOMQ keygen --out $KEYSQ >/dev/null" \
        || die "$host: cannot make a key pair in $KEYS with $LOOM keygen"
done
pub() {  # pub HOST: the host's public key
    if ((DRY)); then remote "$1" "cat $KEYSQ/loom.pub" >&2; echo "PUBLIC-KEY-OF-$1"; return; fi
    remote "$1" "cat $KEYSQ/loom.pub"
}
push() {  # push HOST CMD TEXT: runs CMD on HOST with TEXT on its standard input
    if ((DRY)); then remote "$1" "$2"; return; fi
    remote "$1" "$2" <<< "$3"
}
coordinator_pub=$(pub "$COORD") || die "$COORD: cannot read $KEYS/loom.pub"
for i in "${!HOSTS[@]}"; do
    host=${HOSTS[$i]}
    [[ ${COUNTS[$i]} == 0 ]] && continue
    key=$(pub "$host") || die "$host: cannot read $KEYS/loom.pub"
    name=$(echo "$host" | tr -c 'A-Za-z0-9._\n-' _)
    push "$COORD" "mkdir -p $KEYSQ/authorized && cat > $KEYSQ/authorized/$(q "$name.pub")" "$key" \
        || die "$COORD: cannot write $KEYS/authorized/$name.pub"
    push "$host" "cat > $KEYSQ/coordinator.pub" "$coordinator_pub" \
        || die "$host: cannot write $KEYS/coordinator.pub"
done

# ---- start ---------------------------------------------------------------------------------
PIDFILE=/tmp/$TAG
coordinator_cmd=("$LOOM" coordinator --config "$CONFIG" --bind "tcp://0.0.0.0:$PORT" --resume auto)
[[ -n $METRICS_PORT ]] && coordinator_cmd+=(--metrics-port "$METRICS_PORT" --metrics-bind 0.0.0.0)
coordinator_cmd+=("${EXTRA[@]}")
worker_cmd=("$LOOM" worker --connect "tcp://$ADDRESS:$PORT" --exit-on-shutdown)

LOCAL_PIDS=()
start() {  # start HOST ROLE CMD: runs CMD on HOST in the background, its pid kept in a remote file
    local host=$1 role=$2 cmd=$3
    if ((DRY)); then remote "$host" "$cmd"; return; fi
    # Process substitution, not a pipe: $! is then ssh itself, whose status is the command's.
    remote "$host" "$cmd" > >(sed -u "s/^/[$host $role] /") 2>&1 < /dev/null &
    LOCAL_PIDS+=($!)
}
start "$COORD" coordinator "$(cd_work)echo \$\$ > $PIDFILE.coordinator; exec $(q "${coordinator_cmd[@]}") --keys $KEYSQ"
COORD_PIPE=${LOCAL_PIDS[0]:-}
for i in "${!HOSTS[@]}"; do
    host=${HOSTS[$i]} n=${COUNTS[$i]}
    [[ $n == 0 ]] && continue
    [[ $n == auto ]] && n='$(nproc)'
    start "$host" workers "$(cd_work)for i in \$(seq 1 $n); do $(q "${worker_cmd[@]}") --keys $KEYSQ & echo \$! >> $PIDFILE.workers; done; wait"
done
((DRY)) && exit 0
note "coordinator on $COORD (tcp://$ADDRESS:$PORT), workers on: $(for i in "${!HOSTS[@]}"; do [[ ${COUNTS[$i]} != 0 ]] && printf '%s(%s) ' "${HOSTS[$i]}" "${COUNTS[$i]}"; done)"

# ---- stop ----------------------------------------------------------------------------------
stop_remote() {  # stop_remote SIGNAL: signals the coordinator, then the workers, on every host
    remote "$COORD" "test -f $PIDFILE.coordinator && kill -$1 \$(cat $PIDFILE.coordinator) 2>/dev/null" || true
}
cleanup_remote() {
    declare -A done_=()
    for host in "${HOSTS[@]}"; do
        [[ -n ${done_[$host]:-} ]] && continue
        done_[$host]=1
        remote "$host" "test -f $PIDFILE.workers && kill -TERM \$(cat $PIDFILE.workers) 2>/dev/null; rm -f $PIDFILE.workers $PIDFILE.coordinator" || true
    done
}
STOPPING=0
on_signal() {
    ((STOPPING)) && return
    STOPPING=1
    note "stopping: the coordinator writes a checkpoint, then everything stops"
    stop_remote TERM
}
trap on_signal INT TERM

# Wait for the coordinator (a signal interrupts `wait`: keep waiting).
STATUS=0
while kill -0 "$COORD_PIPE" 2>/dev/null; do wait "$COORD_PIPE"; STATUS=$?; done
wait "$COORD_PIPE" 2>/dev/null; last=$?; [[ $last -ne 127 ]] && STATUS=$last
# The coordinator sent `shutdown`; workers with --exit-on-shutdown leave by themselves.
for _ in $(seq 1 20); do
    alive=0; for p in "${LOCAL_PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    ((alive)) || break; sleep 0.5
done
cleanup_remote
for p in "${LOCAL_PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
note "coordinator exited with status $STATUS"
exit "$STATUS"
