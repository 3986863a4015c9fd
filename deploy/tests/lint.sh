#!/usr/bin/env bash
# Lints the systemd units (systemd-analyze verify, no PID 1 needed), the Dockerfile (a
# python check of its stages and runtime libraries: hadolint is not packaged), and the
# shell scripts of deploy/ (bash -n). Each linter is also shown a broken copy, to prove it
# can fail.
set -uo pipefail
TEST_NAME=lint
source "$(dirname "$0")/lib.sh"
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT

# ---- systemd ----------------------------------------------------------------------------
# verify UNIT-FILE...: systemd-analyze verify, failing on any message (it reports unknown
# directives and bad values as warnings with exit status 0). The binary path is pointed at
# the built loom (verify checks that ExecStart is executable).
verify() {
    local out
    out=$(cd "$T" && SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "$@" 2>&1)
    [[ $? -eq 0 && -z $out ]] || { echo "$out" >&2; return 1; }
}
install_unit() {  # install_unit SRC DEST-NAME [sed-expr]
    sed -e "s|/usr/local/bin/loom|$BIN|" ${3:+-e "$3"} "$REPO/deploy/systemd/$1" > "$T/$2"
}
command -v systemd-analyze >/dev/null || apt_install systemd >/dev/null 2>&1
if command -v systemd-analyze >/dev/null && systemd-analyze --version >/dev/null 2>&1; then
    BIN=$LOOM; [[ -x $BIN ]] || BIN=/bin/true
    install_unit loom-coordinator.service loom-coordinator.service
    install_unit loom-worker@.service loom-worker@1.service
    check "systemd-analyze verify loom-coordinator.service" verify "$T/loom-coordinator.service"
    check "systemd-analyze verify loom-worker@1.service" verify "$T/loom-worker@1.service"
    install_unit loom-coordinator.service broken.service 's/^Restart=on-failure/Restart=sometimes/'
    if verify "$T/broken.service" 2>/dev/null; then fail "verify missed a bad Restart= value"; else pass "verify catches a bad Restart= value"; fi
    missing=""
    for v in $(grep -ho '\${\?LOOM_[A-Z_]*' "$REPO/deploy/systemd/loom-coordinator.service" | tr -d '${' | sort -u); do
        grep -q "^$v=" "$REPO/deploy/systemd/coordinator.env.example" || missing+=" $v"
    done
    for v in $(grep -ho '\${\?LOOM_[A-Z_]*' "$REPO/deploy/systemd/loom-worker@.service" | tr -d '${' | sort -u); do
        grep -q "^$v=" "$REPO/deploy/systemd/worker.env.example" || missing+=" $v"
    done
    check "the example environment files set every variable the units use${missing:+ (missing:$missing)}" test -z "$missing"
else
    skip "systemd-analyze is not available here"
fi

# ---- Dockerfile -------------------------------------------------------------------------
DOCKER_CHECK=$REPO/deploy/tests/dockerfile_check.py
loom=(); [[ -x $LOOM ]] && loom=("$LOOM")
if out=$(python3 "$DOCKER_CHECK" "$REPO/deploy/docker/Dockerfile" "$REPO" "${loom[@]}" 2>&1); then
    pass "Dockerfile: $(echo "$out" | tail -n 1 | sed 's/^docker: //') checks"
else
    fail "Dockerfile:"; echo "$out" | grep FAIL >&2
fi
sed 's/ libhdf5-103-1 / /' "$REPO/deploy/docker/Dockerfile" > "$T/Dockerfile"
if python3 "$DOCKER_CHECK" "$T/Dockerfile" "$REPO" >/dev/null 2>&1; then fail "the Dockerfile check missed a missing runtime library"
else pass "the Dockerfile check catches a missing runtime library"; fi

# ---- shell scripts ----------------------------------------------------------------------
for f in "$REPO"/deploy/slurm/loom.sbatch "$REPO"/deploy/ssh/*.sh "$REPO"/deploy/k8s/*.sh "$REPO"/deploy/tests/*.sh; do
    [[ -f $f ]] && check "bash -n ${f#$REPO/}" bash -n "$f"
done
summary
