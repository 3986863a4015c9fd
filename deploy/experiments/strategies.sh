#!/usr/bin/env bash
# The fashion-attribute strategy comparison (issue 5, part 10).
#
# Builds loom (release), imports Fashion-MNIST and derives the attribute benchmark when they
# are missing, trains the five strategies of configs/experiments/strategies/ with a local
# coordinator and 2 worker processes, calibrates the temperature-scaling one on its validation
# split, and writes the comparison with `loom report` (which evaluates every final checkpoint on
# the test split): docs/RESULTS.md (Markdown) and runs/strategies/report.html (the pictures).
#
#   deploy/experiments/strategies.sh                 # everything (about 10 minutes on 2 idle cores, 20 under load)
#   deploy/experiments/strategies.sh --regenerate    # re-derive data/fashion-mnist-attr.h5 first
#   deploy/experiments/strategies.sh --no-train      # only re-report the finished runs, rewrite RESULTS.md
#
# Environment: WORKERS (default 2), SCRATCH (build folder, default .build-release),
# RESULTS (default docs/RESULTS.md), STRATEGIES (default "sgd sgdr focal sgdr-focal sgdr-temperature").
# Logs and report.html go to runs/strategies/ (not committed).
set -euo pipefail

cd "$(dirname "$0")/../.."
WORKERS=${WORKERS:-2}
SCRATCH=${SCRATCH:-.build-release}
RESULTS=${RESULTS:-docs/RESULTS.md}
STRATEGIES=${STRATEGIES:-"sgd sgdr focal sgdr-focal sgdr-temperature"}
CONFIGS=configs/experiments/strategies
OUT=runs/strategies
DATA=data/fashion-mnist-attr.h5

regenerate=0
train=1
for arg in "$@"; do
    case "$arg" in
        --regenerate) regenerate=1 ;;
        --no-train) train=0 ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "strategies.sh: unknown argument '$arg' (known: --regenerate, --no-train, --help)" >&2; exit 2 ;;
    esac
done

say() { printf '[strategies %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
mkdir -p "$OUT/logs"
COMMANDS="$OUT/commands.txt"   # every loom command run, in order, for RESULTS.md
TIMES="$OUT/times.tsv"         # strategy <TAB> phase <TAB> wall seconds
if [ "$train" = 1 ]; then
    : > "$COMMANDS"; : > "$TIMES"
else   # keep the training commands and times of the last full run
    for f in "$COMMANDS" "$TIMES"; do
        { grep -E '^loom train|[[:space:]]train[[:space:]]' "$f" 2>/dev/null || true; } > "$f.tmp"; mv "$f.tmp" "$f"
    done
fi

# Runs a loom command, recording it and its wall time: stdout to OUTFILE, stderr (the log) to
# OUTFILE.err.
#   timed STRATEGY PHASE OUTFILE loom-args...
timed() {
    local strategy=$1 phase=$2 log=$3; shift 3
    echo "loom $*" >> "$COMMANDS"
    local start=$EPOCHREALTIME
    if ! "$LOOM" "$@" > "$log" 2> "$log.err"; then
        echo "strategies.sh: 'loom $*' failed; the last lines of $log.err:" >&2
        tail -n 20 "$log.err" "$log" >&2
        exit 1
    fi
    printf '%s\t%s\t%s\n' "$strategy" "$phase" "$(python3 -c "print(round($EPOCHREALTIME - $start, 1))")" >> "$TIMES"
}

say "building loom (release, scratch path $SCRATCH)"
swift build -c release --scratch-path "$SCRATCH" --product loom 2>&1 | tail -n 3
LOOM="$(swift build -c release --scratch-path "$SCRATCH" --show-bin-path)/loom"

if [ ! -f data/fashion-mnist.h5 ]; then
    say "importing Fashion-MNIST"
    "$LOOM" import fashion-mnist --out data/fashion-mnist.h5
fi
if [ ! -f "$DATA" ] || [ "$regenerate" = 1 ]; then
    say "deriving the attribute benchmark $DATA"
    "$LOOM" import fashion-mnist --attributes --from data/fashion-mnist.h5 --out "$DATA"
fi

if [ "$train" = 1 ]; then
    LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
    echo "$LOAD_BEFORE" > "$OUT/load-before.txt"
    for s in $STRATEGIES; do
        config="$CONFIGS/$s.yaml"
        dir=$("$LOOM" train --config "$config" --print-run-dir)
        # A fresh run every time: an old run directory would be resumed into or clash.
        rm -rf "$dir"
        say "training $s ($config, --workers $WORKERS)"
        timed "$s" train "$OUT/logs/$s.train.log" train --config "$config" --workers "$WORKERS"
        grep '^test accuracy' "$OUT/logs/$s.train.log" || true
    done
    cut -d' ' -f1-3 /proc/loadavg > "$OUT/load-after.txt"
fi

ckpt() { echo "$("$LOOM" train --config "$CONFIGS/$1.yaml" --print-run-dir)/latest.h5"; }

# Same config apart from name and directory, so Loom's determinism promise says the weights
# are bitwise identical: checked here, before calibration rewrites one of the files.
if [[ " $STRATEGIES " == *" sgdr "* && " $STRATEGIES " == *" sgdr-temperature "* ]]; then
    if "$LOOM" diff "$(ckpt sgdr)" "$(ckpt sgdr-temperature)" > "$OUT/logs/sgdr-vs-temperature.diff" 2>&1; then
        echo identical > "$OUT/determinism.txt"
    else
        echo different > "$OUT/determinism.txt"
    fi
    say "sgdr vs sgdr-temperature weights: $(cat "$OUT/determinism.txt")"
fi

if [[ " $STRATEGIES " == *" sgdr-temperature "* ]]; then
    say "calibrating sgdr-temperature on its validation split"
    timed sgdr-temperature calibrate "$OUT/logs/sgdr-temperature.calibrate.log" calibrate "$(ckpt sgdr-temperature)"
    cat "$OUT/logs/sgdr-temperature.calibrate.log"
fi

say "writing $RESULTS and $OUT/report.html (loom report evaluates every final checkpoint on the test split)"
# Sections other experiments wrote by hand, from the marker line on, are kept at the end.
kept=$(sed -n '/^<!-- kept by strategies.sh -->$/,$p' "$RESULTS" 2>/dev/null || true)
dirs=()
for s in $STRATEGIES; do dirs+=("$(dirname "$(ckpt "$s")")"); done
echo "loom report ${dirs[*]} --out $OUT/report.html --markdown $RESULTS" >> "$COMMANDS"
"$LOOM" report "${dirs[@]}" --out "$OUT/report.html" --markdown "$RESULTS" 2> "$OUT/logs/report.err" \
    || { tail -n 20 "$OUT/logs/report.err" >&2; exit 1; }

# What loom report cannot know: the determinism check above, the commands, the machine.
{
    echo
    echo "Strategies: $STRATEGIES (configs in \`$CONFIGS/\`, trained with \`--workers $WORKERS\`); the pictures"
    echo "(curves, confusion matrices, reliability diagrams) are in \`$OUT/report.html\`, not committed."
    if [ -f "$OUT/determinism.txt" ]; then
        echo
        echo "sgdr and sgdr-temperature differ only in name and run directory: \`loom diff\` found their final"
        echo "weights **$(cat "$OUT/determinism.txt")** before calibration."
    fi
    echo
    echo "## Commands"
    echo
    echo '```sh'
    echo "deploy/experiments/strategies.sh    # what produced this page; it ran, in order:"
    cat "$COMMANDS"
    echo '```'
    echo
    echo "## Wall time of each command (seconds)"
    echo
    echo "| strategy | phase | seconds |"
    echo "| --- | --- | ---: |"
    sed 's/\t/ | /g; s/^/| /; s/$/ |/' "$TIMES"
    echo
    echo "Load average before training: $(cat "$OUT/load-before.txt" 2>/dev/null || echo n/a); after: $(cat "$OUT/load-after.txt" 2>/dev/null || echo n/a) (2 = both cores busy)."
    echo
    echo "## Machine and code"
    echo
    echo "- loom commit \`$(git rev-parse HEAD)\`; $(git status --porcelain --untracked-files=no -- Sources Package.swift | wc -l) uncommitted change(s) in Sources/ or Package.swift."
    echo
    echo '```'
    {
        echo "$ nproc"; nproc
        echo "$ lscpu | grep -E 'Model name|Thread|Core|Socket|MHz'"; lscpu | grep -E 'Model name|Thread|Core|Socket|MHz' || true
        echo "$ free -g"; free -g
    }
    echo '```'
} >> "$RESULTS"
if [[ -n "$kept" ]]; then printf '\n%s\n' "$kept" >> "$RESULTS"; fi
say "done: $RESULTS, $OUT/report.html"
