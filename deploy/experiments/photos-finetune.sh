#!/usr/bin/env bash
# Fine-tuning against training from scratch on the photo benchmark (issue 19, part 5):
# ResNet-18 at 64 px, `loom train --workers 2`, the same run twice at equal epochs, once
# from a fresh initialisation and once from PyTorch-pretrained weights brought in by
# `loom import-weights`. Nothing is downloaded: the weights are made here, on a source task
# that shares no garment with the target.
#
#   1. target: COUNT photo-benchmark photos of Fashion-MNIST train garments 0..COUNT-1,
#      split 0.8/0/0.2 (configs/photos-resnet18.yaml holds out 10 % of train for validation);
#   2. source: SOURCE_COUNT photos of garments SOURCE_FIRST.. (no overlap), labelled with the
#      10 Fashion-MNIST categories, imported with `loom import images`;
#   3. pretraining in PyTorch (deploy/bench/pytorch_pretrain.py, torchvision's ResNet-18
#      names), a cosine schedule planned for PRE_EPOCHS epochs (or PRE_STEPS steps of 64 if
#      fewer) and stopped after PRE_STOP_EPOCHS of them (0 = none), two heads on the pooled
#      features: `fc` on the categories and `fc_colour` on 8 colour bins the script computes
#      from each photo's pixels (dark, light, grey, five hue sectors; no label of the
#      benchmark is read), saved as safetensors. Another task than the target's: neither
#      head transfers, only the trunk, and the colour head makes the trunk keep hue, as the
#      many colour-bound classes of ImageNet do;
#   4. `loom import-weights --require-trunk` -> a step-0 checkpoint (`fc` fills
#      resnet-18.yaml's 10-class head, `fc_colour` is listed as unused);
#   5. `loom train --config configs/photos-resnet18.yaml --workers WORKERS` from scratch and
#      with `--init-from` (plus FINETUNE_ARGS), same seed, same epochs;
#   6. `loom eval` of both runs' last checkpoints on the test split.
#
#   deploy/experiments/photos-finetune.sh          # about 20 minutes on 2 idle cores (a guess: see the lab note)
#   COUNT=1000 SOURCE_COUNT=2000 PRE_STEPS=20 EPOCHS=1 deploy/experiments/photos-finetune.sh  # a quick look
#
# Environment: COUNT (3000), SOURCE_FIRST (20000), SOURCE_COUNT (10000), PRE_EPOCHS (2),
# PRE_STEPS (0 = all epochs), PRE_STOP_EPOCHS (1, as measured: the CPU did not allow the second
# epoch; 0 = the whole schedule), EPOCHS (the config's, 3), WORKERS (2), PYTHON (a Python with
# torch, numpy and h5py; default python3), THREADS (PyTorch threads, 2), FINETUNE_ARGS (extra `loom train` options
# of the fine-tuned run only, e.g. "--freeze trunk --freeze-epochs 1"), OUT (runs/photos-finetune),
# SCRATCH (build folder, .build-release). Logs and results go to OUT (not committed).
set -euo pipefail

cd "$(dirname "$0")/../.."
COUNT=${COUNT:-3000}
SOURCE_FIRST=${SOURCE_FIRST:-20000}
SOURCE_COUNT=${SOURCE_COUNT:-10000}
PRE_EPOCHS=${PRE_EPOCHS:-2}
PRE_STEPS=${PRE_STEPS:-0}
PRE_STOP_EPOCHS=${PRE_STOP_EPOCHS:-1}
WORKERS=${WORKERS:-2}
PYTHON=${PYTHON:-python3}
THREADS=${THREADS:-2}
FINETUNE_ARGS=${FINETUNE_ARGS:-}
OUT=${OUT:-runs/photos-finetune}
SCRATCH=${SCRATCH:-.build-release}
CONFIG=configs/photos-resnet18.yaml
FM=data/fashion-mnist.h5

say() { printf '[photos-finetune %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
if ((SOURCE_FIRST < COUNT)); then
    echo "SOURCE_FIRST ($SOURCE_FIRST) must be at least COUNT ($COUNT): the source must not share garments with the target" >&2
    exit 2
fi
"$PYTHON" -c "import torch, numpy, h5py" || { echo "$PYTHON needs torch, numpy and h5py (set PYTHON)" >&2; exit 2; }
[[ -d /opt/swift/usr/bin ]] && export PATH="/opt/swift/usr/bin:$PATH"
say "building loom"
swift build -c release --product loom --scratch-path "$SCRATCH" >/dev/null
loom="$SCRATCH/release/loom"
mkdir -p "$OUT/logs"
[[ -f "$FM" ]] || "$loom" import fashion-mnist --out "$FM"

say "target: $COUNT photos of garments 0..$((COUNT - 1))"
rm -rf "$OUT/target"
"$loom" import photo-benchmark --root "$OUT/target" --count "$COUNT" --size 64 --split 0.8,0,0.2 \
    --from "$FM" --out "$OUT/target.h5" | tee "$OUT/logs/target-import.txt"

say "source: $SOURCE_COUNT photos of garments $SOURCE_FIRST..$((SOURCE_FIRST + SOURCE_COUNT - 1)), Fashion-MNIST categories"
rm -rf "$OUT/source"
"$loom" import photo-benchmark --root "$OUT/source" --first "$SOURCE_FIRST" --count "$SOURCE_COUNT" --size 64 \
    --from "$FM" --out "$OUT/source-streetstyle.h5" > "$OUT/logs/source-generate.txt"
"$PYTHON" deploy/bench/pytorch_pretrain.py manifest --root "$OUT/source" --fashion-mnist "$FM" --out "$OUT/source.csv"
"$loom" import images --manifest "$OUT/source.csv" --root "$OUT/source/streetstyle27k" --size 64 \
    --out "$OUT/source.h5" | tee "$OUT/logs/source-import.txt"

say "pretraining ResNet-18 in PyTorch (categories + colour bins, $PRE_EPOCHS epoch(s) planned, stop after $PRE_STOP_EPOCHS (0 = none), steps cap $PRE_STEPS (0 = none), $THREADS thread(s))"
"$PYTHON" deploy/bench/pytorch_pretrain.py train --data "$OUT/source.h5" --epochs "$PRE_EPOCHS" --max-steps "$PRE_STEPS" \
    --stop-after-epochs "$PRE_STOP_EPOCHS" \
    --threads "$THREADS" \
    --out "$OUT/resnet18-source.safetensors" > "$OUT/logs/pretrain.txt" 2>&1
grep -v "^  step" "$OUT/logs/pretrain.txt"
"$loom" import-weights "$OUT/resnet18-source.safetensors" --model configs/models/resnet-18.yaml \
    --out "$OUT/init.h5" --require-trunk | tee "$OUT/logs/import-weights.txt"

overrides=(--set "data.path=$OUT/target.h5")
[[ -n "${EPOCHS:-}" ]] && overrides+=(--set "training.epochs=$EPOCHS")
for run in scratch finetuned; do
    extra=()
    # shellcheck disable=SC2206  # FINETUNE_ARGS is a list of words on purpose
    [[ $run == finetuned ]] && extra=(--init-from "$OUT/init.h5" $FINETUNE_ARGS)
    say "training $run with $WORKERS workers"
    rm -rf "${OUT:?}/$run"
    "$loom" train --config "$CONFIG" "${overrides[@]}" --set "checkpoint.dir=$OUT/$run" "${extra[@]}" \
        --workers "$WORKERS" > "$OUT/logs/train-$run.txt" 2>&1
    grep -E "validation \(|test \(" "$OUT/logs/train-$run.txt" | cut -d' ' -f4- || true
    "$loom" eval "$OUT/$run/latest.h5" | tee "$OUT/logs/eval-$run.txt"
done
# The criterion: the mean of the three heads' test accuracies (each head's is printed too;
# `train` prints them for the last weights, the ones `loom eval` read above).
for run in scratch finetuned; do
    awk -v run="$run" '/^test accuracy \(/ { n++; sum += $4; heads = heads sprintf(" %s %.2f", $3, 100 * $4) }
        END { printf "%-9s mean test accuracy %.2f %% over %d heads:%s\n", run, 100 * sum / n, n, heads }' \
        "$OUT/logs/train-$run.txt"
done | tee "$OUT/logs/summary.txt"
say "done: logs in $OUT/logs"
