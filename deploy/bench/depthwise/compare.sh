#!/bin/sh
# Whether the depthwise kernels of the work tree give the same bits as those of a git
# revision (default HEAD), on 300 shapes (dump.c), on every instruction path this CPU has,
# the work tree's also under AddressSanitizer. Needs clang (CC=/opt/swift/usr/bin/clang will
# do) and git. Usage: deploy/bench/depthwise/compare.sh [revision]
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
flags="-O1 -ffp-contract=off -w -I$src/include"
files="LayerKernels.c Kernels.c CPUFeatures.c"
# The revision's headers first, the work tree's for anything it lacks.
$cc $flags -I"$out/old" -I"$src" "$here/dump.c" $(for f in $files; do echo "$out/old/$f"; done) -o "$out/dump-old" -lm
$cc $flags -I"$src" "$here/dump.c" $(for f in $files; do echo "$src/$f"; done) -o "$out/dump-new" -lm
$cc $flags -g -fsanitize=address -I"$src" "$here/dump.c" $(for f in $files; do echo "$src/$f"; done) \
    -o "$out/dump-asan" -lm 2>/dev/null
status=0
for path in 0 1 2; do
    # A path the CPU lacks stops at its first instruction: skip it.
    "$out/dump-new" "$path" "$out/new$path" 2>/dev/null || { echo "path $path: not on this CPU"; continue; }
    "$out/dump-old" "$path" "$out/old$path"
    "$out/dump-asan" "$path" "$out/asan$path"
    if cmp -s "$out/old$path" "$out/new$path" && cmp -s "$out/new$path" "$out/asan$path"; then
        echo "path $path: the same bits as $rev ($(wc -c < "$out/new$path") bytes)"
    else
        echo "path $path: DIFFERENT from $rev"
        status=1
    fi
done
rm -rf "$out"
exit $status
