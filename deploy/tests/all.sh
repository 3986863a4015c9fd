#!/usr/bin/env bash
# Runs every operations test (deploy/tests/*.sh) against the release build and prints one
# total line. Called at the end of deploy/test.sh; run one alone with `bash deploy/tests/NAME.sh`.
# About 4 minutes on 2 cores, most of it the Slurm test (plus its apt install on a fresh machine)
# and the multi-host test (about 30 s).
set -uo pipefail
cd "$(dirname "$0")"
passed=0 failed=0 failing=()
for t in lint k8s systemd logs metrics prometheus ssh hostsargs multihost slurm; do
    start=$SECONDS
    out=$(bash "$t.sh" 2>&1); status=$?
    echo "$out" | grep -E ': (PASS|FAIL|SKIP) |passed, ' | sed 's/^/  /'
    ((status == 0)) || { echo "$out" | tail -n 25 | sed 's/^/  | /'; failing+=("$t"); }
    line=$(echo "$out" | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -n 1)
    p=$(sed -E 's/.* ([0-9]+) passed.*/\1/' <<< "$line"); f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<< "$line")
    passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
    ((status == 0 || ${f:-0} > 0)) || failed=$((failed + 1))
    echo "deploy/tests/$t.sh: $((SECONDS - start)) s"
done
((${#failing[@]} == 0)) || echo "failing: ${failing[*]}" >&2
echo "ops: $passed passed, $failed failed"
((failed == 0))
