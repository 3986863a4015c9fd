#!/usr/bin/env bash
# Profiles the test bed's processes (coordinator, servers, workers: the 2N+1 processes of an
# N-host `loom bench --hosts N` run) with perf, then sorts the samples into where the CPU
# went (deploy/bench/perf-categories.py; docs/notes/2026-12-07-bed-cpu.md). Needs root and perf.
#   sudo bash deploy/bench/bed-profile.sh LOOM OUT [loom bench options...]
#     LOOM: the loom binary; OUT: prefix of the files written (OUT.data, OUT.script, OUT.txt).
#     Options are added to: bench --hosts 8 --link 1gbit --compute-ms 50 --steps 300
#     --servers hosts --micro-batch 128 --overlap on (e.g. --wire bf16 --server-links plain).
# perf records 6 s, starting 8 s after the last bed process appeared (well inside the timed steps).
set -uo pipefail
[[ $# -ge 2 ]] || { sed -n '2,9p' "$0" >&2; exit 2; }
LOOM=$1 OUT=$2; shift 2
HOSTS=8
command -v perf > /dev/null || { echo "bed-profile: perf is not installed" >&2; exit 1; }
"$LOOM" bench --hosts "$HOSTS" --link 1gbit --compute-ms 50 --steps 300 --servers hosts --micro-batch 128 \
    --overlap on "$@" > "$OUT.bench" 2>&1 &
bench=$!
trap 'kill "$bench" 2>/dev/null' INT TERM
# The bed's processes: every loom of the run names the bed's temporary keys directory.
bed_pids() {
    local p c
    for p in /proc/[0-9]*; do
        c=$( { tr '\0' ' ' < "$p/cmdline"; } 2> /dev/null) || continue
        [[ $c == *loom-hosts-bench*keys* ]] && echo "${p#/proc/}"
    done | paste -sd, -
}
pids=
for _ in $(seq 1 240); do
    pids=$(bed_pids)
    [[ $(tr ',' '\n' <<< "$pids" | grep -c .) -ge $((2 * HOSTS + 1)) ]] && break
    sleep 0.5
done
[[ -n $pids ]] || { echo "bed-profile: the bed's processes did not appear" >&2; wait "$bench"; exit 1; }
sleep 8
perf record -g -F 2999 -p "$pids" -o "$OUT.data" -- sleep 6 2> /dev/null
wait "$bench" || { echo "bed-profile: the bench failed:" >&2; tail -n 5 "$OUT.bench" >&2; exit 1; }
cpu=$(grep "CPU per step at $HOSTS host" "$OUT.bench")
echo "$cpu"
ms=$(sed -E 's/.*host\(s\): ([0-9.]+) ms.*/\1/' <<< "$cpu")
perf script -i "$OUT.data" -F comm,pid,tid,ip,sym,dso 2> /dev/null > "$OUT.script"
python3 "$(dirname "$0")/perf-categories.py" "$OUT.script" "$ms" | tee "$OUT.txt"
