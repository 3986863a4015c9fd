#!/usr/bin/env bash
# The Kubernetes manifests parse and refer to each other consistently (names, ports,
# volume mounts, labels/selectors, ConfigMap/Secret keys, PVC claims), and the checker
# catches a broken reference (so its passing means something).
set -uo pipefail
TEST_NAME=k8s
source "$(dirname "$0")/lib.sh"
python3 -c 'import yaml' 2>/dev/null || python3 -m pip install -q PyYAML >/dev/null 2>&1 \
    || python3 -m pip install -q --break-system-packages PyYAML >/dev/null 2>&1
CHECKER=$REPO/deploy/tests/k8s_manifests.py
loom=()
[[ -x $LOOM ]] && loom=("$LOOM")

if out=$(python3 "$CHECKER" "$REPO/deploy/k8s" "${loom[@]}" 2>&1); then
    pass "$(echo "$out" | tail -n 1 | sed 's/^k8s: //') manifest checks"
else
    fail "manifest checks:"; echo "$out" | grep FAIL >&2
fi

T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
# broken COPY-EDIT WHAT: the checker must fail on a copy with one reference broken.
broken() {
    rm -rf "$T/k8s"; cp -r "$REPO/deploy/k8s" "$T/k8s"
    sed -i "$1" "$T/k8s/$2"
    if python3 "$CHECKER" "$T/k8s" >/dev/null 2>&1; then fail "the checker missed: $3"; else pass "the checker catches: $3"; fi
}
broken 's/claimName: loom-state/claimName: loom-stat/' coordinator.yaml "a PVC claim name that does not exist"
broken 's/secretName: loom-worker-keys/secretName: loom-keys/' worker.yaml "a Secret name that does not exist"
broken 's/--connect=tcp:\/\/loom-coordinator:5555/--connect=tcp:\/\/loom-coordinator:5556/' worker.yaml "a worker port the Service lacks"
broken '/selector:/,/ports:/ s/component: coordinator/component: coord/' service.yaml "a Service selector matching no pod"
broken 's/key: reference-cnn.yaml/key: reference.yaml/' coordinator.yaml "a ConfigMap key that does not exist"
broken 's/port: metrics$/port: metric/' coordinator.yaml "a probe on an undeclared port"
broken 's/mountPath: \/etc\/loom\/config$/mountPath: \/etc\/loom\/conf/' coordinator.yaml "a config file that is not mounted"
summary
