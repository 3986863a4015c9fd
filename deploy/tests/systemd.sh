#!/usr/bin/env bash
# The systemd units are hardened and still work.
#   1. `systemd-analyze security --offline=true` scores both units at 3.0 or less, and
#      scores a copy without the sandbox lines above 3.0 (so the check can fail).
#   2. A coordinator and two workers run a short training under the units' own sandbox:
#      ExecStart, EnvironmentFile, paths and every sandbox directive, applied without
#      systemd by deploy/tests/unit_sandbox.py (bubblewrap + seccomp; PID 1 here is often
#      not systemd, so `systemd-run` is not an option). A probe in the same sandbox shows
#      the restrictions are in force.
set -uo pipefail
TEST_NAME=systemd
source "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/loom-systemd-test.XXXXXX)
PIDS=()
cleanup() { local p; for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$T"; }
trap cleanup EXIT
UNITS=$REPO/deploy/systemd

# ---- 1. exposure scores ------------------------------------------------------------------
command -v systemd-analyze >/dev/null || apt_install systemd >/dev/null 2>&1
# exposure UNIT-FILE: the overall exposure level systemd-analyze gives it (e.g. 1.2).
exposure() {
    (cd "$(dirname "$1")" && systemd-analyze security --offline=true --no-pager "$(basename "$1")" 2>/dev/null) \
        | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p'
}
if systemd-analyze --version >/dev/null 2>&1; then
    mkdir -p "$T/units"
    cp "$UNITS/loom-coordinator.service" "$T/units/"
    cp "$UNITS/loom-worker@.service" "$T/units/loom-worker@1.service"
    for u in loom-coordinator.service loom-worker@1.service; do
        e=$(exposure "$T/units/$u")
        check "$u: exposure ${e:-unknown} <= 3.0" awk -v e="$e" 'BEGIN { exit !(e != "" && e <= 3.0) }'
    done
    mkdir -p "$T/bare"
    sed '/^# Sandbox/,/^UMask=/d' "$UNITS/loom-coordinator.service" > "$T/bare/loom-coordinator.service"
    e=$(exposure "$T/bare/loom-coordinator.service")
    check "the score catches a unit without its sandbox (exposure $e > 3.0)" awk -v e="$e" 'BEGIN { exit !(e > 3.0) }'
else
    skip "systemd-analyze is not available: exposure not scored"
fi

# ---- 2. running under the sandbox ----------------------------------------------------------
need_loom
PY=/usr/bin/python3   # python3-seccomp is for Debian's Python
if ! { command -v bwrap >/dev/null && $PY -c 'import seccomp' 2>/dev/null; }; then
    apt_install bubblewrap python3-seccomp >/dev/null 2>&1
fi
if ! { command -v bwrap >/dev/null && $PY -c 'import seccomp' 2>/dev/null && bwrap --ro-bind / / true 2>/dev/null; }; then
    skip "bubblewrap and python3-seccomp are needed to run the units' sandbox (or bwrap cannot run here)"
    summary; exit
fi
S=$T/root                     # stands for /: $S/etc/loom, $S/var/lib/loom
mkdir -p "$S/etc/loom" "$S/var/lib/loom/data"
cp "$REPO/configs/smoke.yaml" "$S/etc/loom/run.yaml"
cp -r "$REPO/configs/models" "$S/etc/loom/models"
"$LOOM" keygen --out "$S/etc/loom/keys" >/dev/null
"$LOOM" keygen --out "$S/etc/loom/worker-keys" >/dev/null
mkdir -p "$S/etc/loom/keys/authorized"
cp "$S/etc/loom/worker-keys/loom.pub" "$S/etc/loom/keys/authorized/worker.pub"
cp "$S/etc/loom/keys/loom.pub" "$S/etc/loom/worker-keys/coordinator.pub"
tiny_dataset "$S/var/lib/loom/data/tiny.h5"
PORT=$((35000 + RANDOM % 5000))
cat > "$S/etc/loom/coordinator.env" <<EOF
LOOM_CONFIG=/etc/loom/run.yaml
LOOM_BIND=tcp://127.0.0.1:$PORT
LOOM_KEYS=/etc/loom/keys
LOOM_METRICS_PORT=$((PORT + 1))
LOOM_METRICS_BIND=127.0.0.1
LOOM_ARGS=--set data.path=data/tiny.h5 --set checkpoint.dir=runs/smoke --set training.max_steps=12 --set training.eval_every_steps=0
EOF
cat > "$S/etc/loom/worker.env" <<EOF
LOOM_CONNECT=tcp://127.0.0.1:$PORT
LOOM_KEYS=/etc/loom/worker-keys
LOOM_ARGS=
EOF
# sandboxed UNIT [-- COMMAND...]: the unit's ExecStart (or COMMAND) under its sandbox, with
# /etc/loom, /var/lib/loom and /usr/local/bin/loom standing in $S and $LOOM. The env files
# name /etc/loom/... paths: the mapping rewrites those too, as it does in the unit.
sandboxed() {
    local unit=$1; shift
    $PY "$REPO/deploy/tests/unit_sandbox.py" "$unit" --map "/usr/local/bin/loom=$LOOM" \
        --map "/etc/loom=$S/etc/loom" --map "/var/lib/loom=$S/var/lib/loom" "$@"
}
for f in "$S"/etc/loom/*.env; do sed -i "s|/etc/loom|$S/etc/loom|g" "$f"; done
cp "$UNITS/loom-worker@.service" "$T/loom-worker@1.service"

cat > "$T/probe.py" <<'EOF'
import ctypes, errno, os, socket
out = []
def tried(name, f):
    try:
        f(); out.append(f"{name}=ok")
    except OSError as e:
        out.append(f"{name}={errno.errorcode.get(e.errno, e.errno)}")
tried("write_etc", lambda: open("/etc/loom-probe", "w"))
tried("packet", lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW).close())
tried("inet", lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM).close())
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
p = libc.mmap(None, 4096, 7, 0x22, -1, 0)
out.append("mmap_wx=" + ("ok" if p not in (None, 2**64 - 1) else errno.errorcode[ctypes.get_errno()]))
out.append("mount=" + ("ok" if libc.mount(b"none", b"/mnt", b"tmpfs", 0, None) == 0 else errno.errorcode[ctypes.get_errno()]))
caps = [l.split()[1] for l in open("/proc/self/status") if l.startswith("CapBnd")][0]
out.append(f"capbnd={caps} uid={os.getuid()} root_home={len(os.listdir('/root'))}")
print(" ".join(out))
EOF
cp "$T/probe.py" "$S/etc/loom/probe.py"
probe=$(sandboxed "$UNITS/loom-coordinator.service" -- $PY "$S/etc/loom/probe.py" 2>&1)
echo "systemd: sandbox probe: $probe"
for want in write_etc=EROFS packet=EAFNOSUPPORT inet=ok mmap_wx=EPERM mount=EPERM capbnd=0000000000000000 uid=10001 root_home=0; do
    check "the sandbox is in force: $want" grep -q -- "$want" <<< "$probe"
done

sandboxed "$UNITS/loom-coordinator.service" > "$T/coord.log" 2>&1 &
COORD=$!; PIDS+=($COORD)
for i in 1 2; do
    sandboxed "$T/loom-worker@1.service" > "$T/worker$i.log" 2>&1 &
    PIDS+=($!)
done
scraped=""
for _ in $(seq 1 600); do
    kill -0 "$COORD" 2>/dev/null || break
    [[ -z $scraped ]] && scraped=$(curl -sf --max-time 2 "http://127.0.0.1:$((PORT + 1))/healthz" 2>/dev/null)
    sleep 0.2
done
if kill -0 "$COORD" 2>/dev/null; then
    fail "the sandboxed coordinator did not finish 12 steps in 120 s"; tail -n 20 "$T/coord.log" >&2
else
    wait "$COORD"; status=$?
    check "the sandboxed coordinator finishes its run (exit status $status)" test "$status" = 0
    ((status == 0)) || { tail -n 20 "$T/coord.log" >&2; tail -n 10 "$T/worker1.log" >&2; }
fi
check "its metrics endpoint answered /healthz (${scraped:-no answer})" test "$scraped" = ok
check "both sandboxed workers joined and none was lost" grep -q 'workers joined 2, lost 0' "$T/coord.log"
ckpt=$(find "$S/var/lib/loom/runs" -name '*.h5' 2>/dev/null | head -n 1)
check "it wrote a checkpoint in its StateDirectory (${ckpt#$S})" test -n "$ckpt"
[[ -n $ckpt ]] && check "UMask=0077: the checkpoint is mode 600 ($(stat -c %a "$ckpt"))" test "$(stat -c %a "$ckpt")" = 600
summary
