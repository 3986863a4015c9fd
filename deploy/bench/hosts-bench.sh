#!/usr/bin/env bash
# One host count of `loom bench --hosts` on the namespaced test bed (deploy/tests/hosts.sh):
# makes a bed of N hosts with links of RATE, runs `loom bench --bed-coordinator` on host 0
# (TCP, CURVE) and one `loom worker` on every host (host 0's beside the coordinator), and
# prints the coordinator's JSON line of figures. The bed is removed at the end, also on a
# signal. Needs root. `loom bench --hosts` calls it; by hand:
#   sudo LOOM=.build/release/loom bash deploy/bench/hosts-bench.sh N RATE COORDINATOR_ARGS... -- WORKER_ARGS...
#     COORDINATOR_ARGS: loom bench options (--model, --batch = the global batch, --micro-batch,
#     --hosts N, --steps, --servers S with LOOM_SERVERS=S in the environment, --overlap on|off); WORKER_ARGS: loom worker options (--stand-in-ms MS, --slots K).
#     LOOM_SERVER_LINKS=plain: the servers serve workers without CURVE (default curve).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../tests/hosts.sh"
[[ $# -ge 3 ]] || { sed -n '2,10p' "$0" >&2; exit 2; }
N=$1 RATE=$2; shift 2
COORD=(); while [[ $# -gt 0 && $1 != -- ]]; do COORD+=("$1"); shift; done
[[ ${1:-} == -- ]] && shift
WORKER=("$@")
: "${LOOM:?LOOM: the loom binary}"
why=$(bed_available) || { echo "hosts-bench: no test bed here: $why" >&2; exit 1; }
T=$(mktemp -d /tmp/loom-hosts-bench.XXXXXX)
trap 'bed_down; [[ ${KEEP:-0} == 1 ]] || rm -rf "$T"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
bed_up "$N" "$RATE" || { echo "hosts-bench: could not make a bed of $N hosts" >&2; exit 1; }
bed_keys "$T/keys" "$N" || exit 1
PORT=$((40000 + RANDOM % 5000))
# With LOOM_TIMELINE=DIR: every process writes when its step events happened to DIR/c.tsv,
# DIR/s<h>.tsv, DIR/w<h>.tsv (deploy/bench/timeline.py reads them; docs/SCALING.md).
TL=${LOOM_TIMELINE:-}
[[ -n $TL ]] && { mkdir -p "$TL" && rm -f "$TL"/[csw]*.tsv; }
tl() { [[ -n $TL ]] && echo "--$1" "$TL/$2.tsv"; }
bed_exec 0 "$LOOM" bench --bed-coordinator "tcp://$(bed_addr 0):$PORT" --bed-keys "$T/keys/coordinator" \
    --bed-checkpoint "$T/ckpt.h5" $(tl bed-timeline c) "${COORD[@]}" > "$T/figures.json" 2> "$T/coordinator.log" &
C=$!
# With LOOM_SERVERS=S (loom bench --hosts --servers): a shard server on hosts 0..S-1, beside
# that host's worker, with that worker's CURVE keys towards the coordinator and towards
# workers; LOOM_SERVER_LINKS=plain (loom bench --server-links plain) serves workers without.
SERVER_ARGS=(--log-level "${LOOM_BED_LOG_LEVEL:-warning}")
case ${LOOM_SERVER_LINKS:-curve} in
    curve) ;;
    plain) SERVER_ARGS+=(--plaintext-workers --insecure) ;;
    *) echo "hosts-bench: LOOM_SERVER_LINKS must be curve or plain, got '$LOOM_SERVER_LINKS'" >&2; exit 2 ;;
esac
for ((h = 0; h < ${LOOM_SERVERS:-0}; h++)); do
    bed_server "$h" 0 "$PORT" "$T/keys" "$h" $((PORT + 1)) "$T/s$h.log" "${SERVER_ARGS[@]}" $(tl timeline "s$h")
done
for ((h = 0; h < N; h++)); do bed_worker "$h" 0 "$PORT" "$T/keys" "$h" "$T/w$h.log" "${WORKER[@]}" $(tl timeline "w$h"); done
wait $C; status=$?
if [[ $status != 0 ]]; then
    echo "hosts-bench: the coordinator failed (status $status):" >&2; tail -n 20 "$T/coordinator.log" >&2
    tail -n 5 "$T/w0.log" >&2; exit 1
fi
wait
cat "$T/figures.json"
