#!/usr/bin/env bash
# The main job, from a fresh machine: install what is missing, build Loom in release mode,
# import Fashion-MNIST, train the three-block CNN with a local coordinator and 2 workers,
# then show the final checkpoint and write an HTML report of the run (runs/<name>/report.html).
#
#   deploy/quickstart.sh            # resume the run in runs/fashion-mnist if there is one
#   deploy/quickstart.sh --fresh    # start a new run (the old run directory is kept, renamed)
#   WORKERS=4 deploy/quickstart.sh  # more local workers
#   deploy/quickstart.sh --set training.epochs=2   # any config override
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -d /opt/swift/usr/bin ]] && export PATH="/opt/swift/usr/bin:$PATH"

config=${CONFIG:-configs/fashion-mnist.yaml}
workers=${WORKERS:-2}
fresh=0
overrides=()
while (($#)); do
  case "$1" in
    --fresh) fresh=1 ;;
    --set) overrides+=(--set "$2"); shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "quickstart: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done

deploy/bootstrap.sh
echo "==> building Loom (release)"
swift build -c release --product loom 2>&1 | grep -E "error:|Build complete" || true
loom=$(swift build -c release --show-bin-path)/loom
[[ -x "$loom" ]] || { echo "quickstart: build failed" >&2; exit 1; }

if [[ ! -f data/fashion-mnist.h5 ]]; then
  echo "==> importing Fashion-MNIST"
  "$loom" import fashion-mnist --out data/fashion-mnist.h5
else
  echo "==> reusing data/fashion-mnist.h5"
fi

rundir=$("$loom" train --config "$config" "${overrides[@]}" --print-run-dir)
if ((fresh)) && [[ -d "$rundir" ]]; then
  old="$rundir.$(date +%Y%m%d-%H%M%S)"
  echo "==> --fresh: keeping the previous run as $old"
  mv "$rundir" "$old"
fi

echo "==> training with a local coordinator and $workers workers (checkpoints in $rundir)"
"$loom" train --config "$config" "${overrides[@]}" --workers "$workers" --resume auto

echo "==> final checkpoint"
"$loom" inspect "$rundir/latest.h5"

echo "==> report: curves, confusion matrix, reliability diagram, feature map"
if "$loom" report "$rundir" --out "$rundir/report.html" --log-level warning; then
  echo "open $rundir/report.html in a browser (docs/REPORT.md says what it shows)"
fi
