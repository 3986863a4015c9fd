#!/usr/bin/env bash
# The photo benchmark end to end (issue 18, part 5): the whole real path from image files to
# predictions on image files.
#
# Builds loom (release), imports Fashion-MNIST if missing, writes COUNT photo-benchmark JPEGs
# with a StreetStyle-27k manifest into data/photo-benchmark/ and imports them (crop box,
# area resize to SIZE x SIZE, HDF5), trains configs/photos.yaml with a coordinator and WORKERS
# worker processes, calibrates on the validation split, evaluates on the test split, and
# predicts from 1,000 of the JPEG files (throughput printed).
#
#   deploy/experiments/photos.sh              # about 10 minutes on 2 idle cores
#   COUNT=2000 EPOCHS=2 deploy/experiments/photos.sh   # a quick look
#
# Environment: COUNT (photos, default 10000), SIZE (default 64), EPOCHS (default: the
# config's), WORKERS (default 2), SCRATCH (build folder, default .build-release).
# Logs go to runs/photos/ (not committed).
set -euo pipefail

cd "$(dirname "$0")/../.."
COUNT=${COUNT:-10000}
SIZE=${SIZE:-64}
WORKERS=${WORKERS:-2}
SCRATCH=${SCRATCH:-.build-release}
OUT=runs/photos
ROOT=data/photo-benchmark
DATA=data/photos.h5

say() { printf '[photos %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
[[ -d /opt/swift/usr/bin ]] && export PATH="/opt/swift/usr/bin:$PATH"
deploy/bootstrap.sh
say "building loom"
swift build -c release --product loom --scratch-path "$SCRATCH" >/dev/null
loom="$SCRATCH/release/loom"
mkdir -p "$OUT/logs"

say "writing $COUNT photos into $ROOT and importing them into $DATA"
rm -rf "$ROOT"
"$loom" import photo-benchmark --root "$ROOT" --count "$COUNT" --size "$SIZE" --out "$DATA" | tee "$OUT/logs/import.txt"

overrides=(--set "data.path=$DATA" --set "model.input=[3, $SIZE, $SIZE]" --set "checkpoint.dir=$OUT/run")
[[ -n "${EPOCHS:-}" ]] && overrides+=(--set "training.epochs=$EPOCHS")
say "training configs/photos.yaml with $WORKERS workers"
rm -rf "$OUT/run"
"$loom" train --config configs/photos.yaml "${overrides[@]}" --workers "$WORKERS" 2>&1 | tee "$OUT/logs/train.txt" | grep -v " step " || true
"$loom" calibrate "$OUT/run/latest.h5" | tee "$OUT/logs/calibrate.txt"
"$loom" eval "$OUT/run/latest.h5" | tee "$OUT/logs/eval.txt"

say "predicting from 1,000 JPEG files"
head -1001 "$ROOT/streetstyle27k.manifest" > "$OUT/predict-1000.csv"   # a StreetStyle manifest: url + box
"$loom" predict "$OUT/run/latest.h5" --manifest "$OUT/predict-1000.csv" --root "$ROOT" --csv > "$OUT/predictions.csv" 2> "$OUT/logs/predict.txt"
grep "images/s" "$OUT/logs/predict.txt"
say "done: $OUT/predictions.csv; logs in $OUT/logs"
