#!/bin/sh
# Builds deploy/bench/winograd/harness.c with Loom's C kernels and runs it: the bit and error
# checks on every instruction path this CPU has, then the timing on the widest path (Winograd
# against the grid and channel kernels, forward and dx, CPU-seconds, best of R).
# Needs clang (the Swift toolchain's will do: CC=/opt/swift/usr/bin/clang).
# Usage: deploy/bench/winograd/run.sh [repetitions]; output in $OUT (a temporary directory by default).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src="$here/../../../Sources/CKernels"
cc=${CC:-clang}
out=${OUT:-$(mktemp -d)}
flags="-O2 -ffp-contract=off -w -I$src/include -I$src"
files="$here/harness.c $src/Winograd.c $src/ConvKernels.c $src/ChannelConvKernels.c $src/ThreadScratch.c $src/Kernels.c $src/CPUFeatures.c"
$cc $flags $files -o "$out/harness" -lm -lpthread
NOPERF=1 "$out/harness"
NOCHECK=1 "$out/harness" "${1:-7}"
