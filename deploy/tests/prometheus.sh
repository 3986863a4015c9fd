#!/usr/bin/env bash
# deploy/prometheus/alerts.yml passes `promtool check rules` and its unit tests
# (`promtool test rules` on alerts_test.yml: each alert fires on its series and stays
# quiet on a healthy run); the rules and deploy/grafana/loom-dashboard.json use only
# metrics LoomMetrics exposes. Each check is also shown a broken copy.
set -uo pipefail
TEST_NAME=prometheus
source "$(dirname "$0")/lib.sh"
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
python3 -c 'import yaml' 2>/dev/null || python3 -m pip install -q PyYAML >/dev/null 2>&1 \
    || python3 -m pip install -q --break-system-packages PyYAML >/dev/null 2>&1
ALERTS=$REPO/deploy/prometheus/alerts.yml
DASHBOARD=$REPO/deploy/grafana/loom-dashboard.json
NAMES=$REPO/deploy/tests/prometheus_names.py

PROMTOOL=$(command -v promtool)
if [[ -z $PROMTOOL ]] && apt_install prometheus; then PROMTOOL=$(command -v promtool); fi
if [[ -n $PROMTOOL ]]; then
    out=$("$PROMTOOL" check rules "$ALERTS" 2>&1); status=$?
    check "promtool check rules alerts.yml: $(grep -o '[0-9]* rules found' <<< "$out")" test $status = 0
    ((status == 0)) || echo "$out" >&2
    out=$(cd "$REPO/deploy/prometheus" && "$PROMTOOL" test rules alerts_test.yml 2>&1); status=$?
    check "promtool test rules alerts_test.yml" test $status = 0
    ((status == 0)) || echo "$out" >&2
    cp "$REPO/deploy/prometheus/alerts_test.yml" "$T/"
    sed 's/changes(loom_step\[10m\]) == 0/changes(loom_step[10m]) == /' "$ALERTS" > "$T/alerts.yml"
    if "$PROMTOOL" check rules "$T/alerts.yml" >/dev/null 2>&1; then fail "check rules missed a broken expression"
    else pass "check rules catches a broken expression"; fi
    sed 's/loom_checkpoint_age_seconds > 3600/loom_checkpoint_age_seconds > 36000/' "$ALERTS" > "$T/alerts.yml"
    if (cd "$T" && "$PROMTOOL" test rules alerts_test.yml >/dev/null 2>&1); then fail "the rule tests missed a wrong threshold"
    else pass "the rule tests catch a wrong threshold (checkpoint age 10 h instead of 1 h)"; fi
else
    skip "promtool is not available (Debian package prometheus): rules not checked"
fi

if out=$(python3 "$NAMES" "$REPO/Sources/LoomMetrics" "$ALERTS" "$DASHBOARD" 2>&1); then
    pass "$(echo "$out" | grep -c PASS) name checks: the rules and the dashboard use exposed metrics"
else
    fail "names:"; echo "$out" | grep FAIL >&2
fi
sed 's/loom_eval_accuracy{/loom_eval_acc{/' "$DASHBOARD" > "$T/dashboard.json"
if python3 "$NAMES" "$REPO/Sources/LoomMetrics" "$ALERTS" "$T/dashboard.json" >/dev/null 2>&1; then
    fail "the name check missed a dashboard query on a metric that does not exist"
else pass "the name check catches a dashboard query on a metric that does not exist"; fi
sed 's/loom_workers_lost_total/loom_worker_lost_total/' "$ALERTS" > "$T/alerts.yml"
if python3 "$NAMES" "$REPO/Sources/LoomMetrics" "$T/alerts.yml" "$DASHBOARD" >/dev/null 2>&1; then
    fail "the name check missed an alert on a metric that does not exist"
else pass "the name check catches an alert on a metric that does not exist"; fi
summary
