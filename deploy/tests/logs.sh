#!/usr/bin/env bash
# --log-format json: a short `loom train --workers 2` run, one worker killed mid-run, must
# write only JSON objects to stderr, each with ts, level and msg (coordinator and workers);
# and every coordinator line about one worker names it (peer id and host:pid).
set -uo pipefail
TEST_NAME=logs
source "$(dirname "$0")/lib.sh"
need_loom
T=$(mktemp -d /tmp/loom-logs-test.XXXXXX)
trap '[[ ${KEEP:-0} == 1 ]] || rm -rf "$T"' EXIT
tiny_dataset "$T/tiny.h5"

"$LOOM" train --config "$REPO/configs/smoke.yaml" --set "data.path=$T/tiny.h5" --set "checkpoint.dir=$T/run" \
    --set training.max_steps=40 --set training.epochs=1000 --set training.log_every_steps=1 \
    --workers 2 --log-format json 2> "$T/stderr" > "$T/stdout" &
TRAIN=$!
# Kill one worker once training is under way, so the lost-worker lines are written too.
for _ in $(seq 1 300); do grep -q '"msg":"step 5' "$T/stderr" 2>/dev/null && break; sleep 0.1; done
victim=$(pgrep -P "$TRAIN" | head -n 1)
[[ -n $victim ]] && kill -9 "$victim"
wait "$TRAIN"; status=$?
check "the run finished (status $status) after losing a worker" test $status = 0

python3 - "$T/stderr" <<'PY'
import json, re, sys
lines = open(sys.argv[1]).read().splitlines()
bad, missing, unnamed, processes = [], [], [], set()
# A line about one worker: "worker X joined/updated/declared dead/...", "refusing worker X",
# "... reassigned to worker X", "dropped a message from peer X".
about_one = re.compile(r"(^worker |refusing worker |to worker |from peer |peer \S+ keeps)")
named = re.compile(r"[0-9a-f]{6,} \([^ ()]+:\d+\)|peer [0-9a-f]{6,}")
for n, line in enumerate(lines, 1):
    try:
        o = json.loads(line)
    except ValueError:
        bad.append(f"line {n}: {line[:120]}")
        continue
    if not all(isinstance(o.get(k), str) and o[k] for k in ("ts", "level", "msg")):
        missing.append(f"line {n}: {line[:120]}")
    processes.add(o.get("process"))
    if o.get("process") == "coordinator" and about_one.search(o.get("msg", "")) and not named.search(o["msg"]):
        unnamed.append(f"line {n}: {o['msg'][:120]}")
dead = [l for l in lines if "declared dead" in l]
checks = [
    (f"all {len(lines)} stderr lines are JSON objects", not bad and lines, bad[:3]),
    ("every line has ts, level and msg", not missing, missing[:3]),
    ("lines say which process wrote them", processes and None not in processes, sorted(map(str, processes))),
    ("the killed worker's loss was logged", bool(dead), ""),
    ("every coordinator line about one worker names it", not unnamed, unnamed[:3]),
]
for what, ok, detail in checks:
    print(f"logs: {'PASS' if ok else 'FAIL'} {what}{'' if ok else ': ' + str(detail)}")
sys.exit(0 if all(ok for _, ok, _ in checks) else 1)
PY
py=$?
# lib.sh counts: fold the python checks in.
n=5; if ((py == 0)); then PASSED=$((PASSED + n)); else FAILED=$((FAILED + 1)); fi
summary
