#!/bin/sh
# Builds deploy/bench/depthwise/harness.c with Loom's C kernels and runs it: the bit checks
# on every instruction path this CPU has, under AddressSanitizer, then the timing on the
# widest path. Needs clang (the Swift toolchain's will do: CC=/opt/swift/usr/bin/clang).
# Usage: deploy/bench/depthwise/run.sh [batch] [repetitions]; output in $OUT (a temporary
# directory by default).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src="$here/../../../Sources/CKernels"
cc=${CC:-clang}
out=${OUT:-$(mktemp -d)}
flags="-O2 -ffp-contract=off -w -I$src/include -I$src"
files="$here/harness.c $src/LayerKernels.c $src/Kernels.c $src/CPUFeatures.c"
$cc $flags -fsanitize=address -g $files -o "$out/harness-asan" -lm
$cc $flags $files -o "$out/harness" -lm
for path in 0 1 2; do
    # A path the CPU lacks stops at its first instruction: skip it.
    if NOPERF=1 "$out/harness" 1 1 "$path" >/dev/null 2>&1 || [ $? -eq 1 ]; then
        NOPERF=1 "$out/harness-asan" 3 1 "$path"
    fi
done
NOCHECK=1 "$out/harness" "${1:-32}" "${2:-20}"
