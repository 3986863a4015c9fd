#!/bin/sh
# Whether the convolution kernels of the work tree give the same bits as those of a git
# revision (default HEAD) on the compact ResNet's shapes and a few odd ones (harness.c with
# DUMP), on every instruction path this CPU has, the work tree's also under
# AddressSanitizer; then the timing of both, alternating (CPU-seconds, best of R).
# Needs clang (CC=/opt/swift/usr/bin/clang will do) and git.
# Usage: deploy/bench/resnet-compact/compare.sh [revision] [repetitions]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
cc=${CC:-clang}
rev=${1:-HEAD}
out=$(mktemp -d)
mkdir "$out/old"
for f in $(git -C "$root" ls-tree --name-only "$rev" Sources/CKernels/); do
    case "$f" in *.c | *.h) git -C "$root" show "$rev:$f" > "$out/old/$(basename "$f")" ;; esac
done
src="$root/Sources/CKernels"
flags="-O2 -ffp-contract=off -w -I$src/include"
combined=""
grep -q loom_winograd_backward "$src/include/CKernelsWinograd.h" && combined=-DWG_COMBINED
files="Winograd.c ConvKernels.c ChannelConvKernels.c ThreadScratch.c Kernels.c CPUFeatures.c"
$cc $flags -I"$out/old" -I"$src" "$here/harness.c" $(for f in $files; do echo "$out/old/$f"; done) -o "$out/old-h" -lm -lpthread
$cc $flags $combined -I"$src" "$here/harness.c" $(for f in $files; do echo "$src/$f"; done) -o "$out/new-h" -lm -lpthread
$cc $flags $combined -g -fsanitize=address -I"$src" "$here/harness.c" $(for f in $files; do echo "$src/$f"; done) \
    -o "$out/asan-h" -lm -lpthread 2>/dev/null
DUMP="$out/old" "$out/old-h"
status=0
DUMP="$out/new" "$out/new-h" > "$out/new.log"
DUMP="$out/asan" "$out/asan-h" >> "$out/new.log"
if grep MISMATCH "$out/new.log"; then status=1; fi
for path in 0 1 2; do
    [ -f "$out/new.$path" ] || { echo "path $path: not on this CPU"; continue; }
    if cmp -s "$out/old.$path" "$out/new.$path" && cmp -s "$out/new.$path" "$out/asan.$path"; then
        echo "path $path: the same bits as $rev ($(wc -c < "$out/new.$path") bytes)"
    else
        echo "path $path: DIFFERENT from $rev"
        status=1
    fi
done
if cmp -s "$out/new.0" "$out/new.$(ls "$out"/new.[0-9] | wc -l | awk '{print $1 - 1}')"; then
    echo "paths: sse2 and the widest give the same bits"
fi
for r in 1 2 3; do
    echo "== $rev"; "$out/old-h" "${2:-20}" | tail -1
    echo "== work tree"; "$out/new-h" "${2:-20}" | tail -1
done
rm -rf "$out"
exit $status
