#!/usr/bin/env bash
# What `kubectl kustomize deploy/k8s` renders: the coordinator a resuming Job, workers a
# scalable Deployment, no Secret (make-secrets.sh writes those), restricted pod security,
# requests and limits, version-tagged images, and consistent references (names, ports,
# volume mounts, labels/selectors, ConfigMap/Secret keys, PVC claims). The checker is also
# shown broken copies, so that its passing means something.
set -uo pipefail
TEST_NAME=k8s
source "$(dirname "$0")/lib.sh"
python3 -c 'import yaml' 2>/dev/null || python3 -m pip install -q PyYAML >/dev/null 2>&1 \
    || python3 -m pip install -q --break-system-packages PyYAML >/dev/null 2>&1
CHECKER=$REPO/deploy/tests/k8s_manifests.py
loom=()
[[ -x $LOOM ]] && loom=("$LOOM")

command -v kubectl >/dev/null \
    || skip "kubectl is not installed: the checker renders kustomization.yaml by itself"
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
    printf 'apiVersion: v1\nkind: Secret\nmetadata: {name: loom-worker-keys}\nstringData: {loom.key: REPLACE-me}\n' > "$T/k8s/leaked-secrets.yaml"
    if python3 "$CHECKER" "$T/k8s" >/dev/null 2>&1; then fail "the checker missed: $3"; else pass "the checker catches: $3"; fi
}
broken 's/claimName: loom-state/claimName: loom-stat/' coordinator.yaml "a PVC claim name that does not exist"
broken 's/secretName: loom-worker-keys/secretName: loom-keys/' worker.yaml "a Secret name that does not exist"
broken 's/--connect=tcp:\/\/loom-coordinator:5555/--connect=tcp:\/\/loom-coordinator:5556/' worker.yaml "a worker port the Service lacks"
broken '/selector:/,/ports:/ s/component: coordinator/component: coord/' service.yaml "a Service selector matching no pod"
broken 's/key: reference-cnn.yaml/key: reference.yaml/' coordinator.yaml "a ConfigMap key that does not exist"
broken 's/port: metrics$/port: metric/' coordinator.yaml "a probe on an undeclared port"
broken '/--metrics-bind=0.0.0.0/d' coordinator.yaml "a metrics port on loopback that probes cannot reach"
broken 's/mountPath: \/etc\/loom\/config$/mountPath: \/etc\/loom\/conf/' coordinator.yaml "a config file that is not mounted"
broken 's/restartPolicy: OnFailure/restartPolicy: Never/' coordinator.yaml "a coordinator that is not restarted after a crash"
broken 's/podReplacementPolicy: Failed/podReplacementPolicy: TerminatingOrFailed/' coordinator.yaml "two coordinators at once while one stops"
broken 's/runAsNonRoot: true/runAsNonRoot: false/' worker.yaml "a pod that may run as root"
broken '0,/drop: \[ALL\]/ s/drop: \[ALL\]/drop: [NET_RAW]/' worker.yaml "a container keeping its capabilities"
broken '0,/readOnlyRootFilesystem: true/ s/readOnlyRootFilesystem: true/readOnlyRootFilesystem: false/' coordinator.yaml "a writable root file system"
broken 's/cpu: "2"/cpu: 500m/' coordinator.yaml "a CPU request above its limit"
broken 's/newTag: "0.1.0"/newTag: latest/' kustomization.yaml "an image tagged latest"
broken 's/  coordinator.pub: \$(value/  coord.pub: $(value/' make-secrets.sh "a Secret key make-secrets.sh does not write"
broken 's/^  - pvc.yaml/  - pvc.yaml\n  - leaked-secrets.yaml/' kustomization.yaml "a Secret applied by -k (placeholders over real keys)"
summary
