# Shared helpers of the deploy/tests/*.sh scripts (sourced, not run).
#   REPO    the repository root
#   LOOM    the loom binary under test (default: the release build, built by deploy/test.sh)
#   TINY    tiny_dataset PATH: a 2048-sample dataset in Loom's layout that trains in a blink
# Each test prints "name: PASS ..." lines and ends with "N passed, N failed".

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
[[ -d /opt/swift/usr/bin ]] && export PATH="/opt/swift/usr/bin:$PATH"
LOOM=${LOOM:-$REPO/.build/release/loom}
PASSED=0
FAILED=0
SKIPPED=0

pass() { PASSED=$((PASSED + 1)); echo "${TEST_NAME:-test}: PASS $*"; }
fail() { FAILED=$((FAILED + 1)); echo "${TEST_NAME:-test}: FAIL $*" >&2; }
skip() { SKIPPED=$((SKIPPED + 1)); echo "${TEST_NAME:-test}: SKIP $*"; }
# check "what" command...: passes when the command succeeds.
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }
# check_like_reference REF RUN WHAT: the run in directory RUN ends with the weights of REF
# (loom diff of their latest.h5; WHAT names the reference in the check's line), and every
# checkpoint RUN kept passes loom inspect.
check_like_reference() {
    local ref=$1 run=$2 what=$3 bad=0 count=0 f
    if "$LOOM" diff "$ref/latest.h5" "$run/latest.h5" > "$run.diff.out" 2>&1; then
        pass "... with the weights of $what"
    else
        fail "... the weights differ from a one-process run"; cat "$run.diff.out" >&2
    fi
    for f in "$run"/ckpt-*.h5; do
        count=$((count + 1))
        "$LOOM" inspect "$f" > /dev/null 2>&1 || { bad=$((bad + 1)); echo "${TEST_NAME:-test}: $f does not inspect" >&2; }
    done
    check "... every one of its $count checkpoints passes loom inspect" test "$bad" = 0
}
summary() {
    echo "${TEST_NAME:-test}: $PASSED passed, $FAILED failed, $SKIPPED skipped"
    [[ $FAILED -eq 0 ]]
}

need_loom() {
    if [[ ! -x $LOOM ]]; then
        echo "${TEST_NAME:-test}: no loom binary at $LOOM: build it (swift build -c release --product loom) or set LOOM" >&2
        exit 1
    fi
}

# apt_install PKG...: installs the missing ones (idempotent); fails when apt cannot.
apt_install() {
    local missing=() p
    for p in "$@"; do
        [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == "install ok installed" ]] || missing+=("$p")
    done
    ((${#missing[@]} == 0)) && return 0
    command -v apt-get >/dev/null && [[ $(id -u) -eq 0 ]] || return 1
    echo "${TEST_NAME:-test}: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 && return 0
    apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1
}

# tiny_dataset PATH: 2048 train + 64 test 28x28x1 images, class c brightens the c-th band.
tiny_dataset() {
    python3 - "$1" <<'PY'
import sys, h5py, numpy as np
rng = np.random.default_rng(11)
# Loom verifies a dataset's fingerprint before training on it: 64-bit FNV-1a over, per split
# by name, "<split> <N>x<H>x<W>x<C>\0", the image bytes, "labels/<name>\0" and the labels
# as little-endian int32 (docs/DATASETS.md).
def fnv(h, data):
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h
h = 0xcbf29ce484222325
with h5py.File(sys.argv[1], "w") as f:
    for k, v in {"name": "tiny-bands", "source": "deploy/tests", "license": "none"}.items():
        f.attrs[k] = v
    a = f.create_group("attributes/category")
    a.attrs["kind"] = "softmax"
    a.attrs["class_names"] = [f"band{c}" for c in range(10)]
    splits = {}
    for split, n in (("train", 2048), ("test", 64)):
        labels = rng.integers(0, 10, n).astype(np.int32)
        images = rng.integers(20, 110, (n, 28, 28, 1)).astype(np.uint8)
        for i, c in enumerate(labels):
            rows = [r for r in range(28) if r * 10 // 28 == c]
            images[i, rows] += 130
        f[f"{split}/images"] = images
        f[f"{split}/labels/category"] = labels
        splits[split] = (images, labels)
    for split in sorted(splits):
        images, labels = splits[split]
        h = fnv(h, f"{split} {len(labels)}x28x28x1".encode() + b"\0")
        h = fnv(h, images.tobytes())
        h = fnv(h, b"labels/category\0")
        h = fnv(h, labels.astype("<i4").tobytes())
    f.attrs["fingerprint"] = f"{h:016x}"
PY
}

# The config every test trains: configs/smoke.yaml on a tiny dataset, run dir under $1.
# Usage: smoke_args DATASET RUN_DIR [STEPS] -> prints the --config/--set arguments.
smoke_args() {
    echo "--config $REPO/configs/smoke.yaml --set data.path=$1 --set checkpoint.dir=$2 --set training.max_steps=${3:-20}"
}
