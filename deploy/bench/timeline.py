#!/usr/bin/env python3
"""Where a step's time goes on the multi-host bed, from the processes' timelines.

    LOOM_TIMELINE=/tmp/tl loom bench --hosts 8 ... --servers hosts --overlap on
    python3 deploy/bench/timeline.py /tmp/tl [--steps FIRST:LAST] [--step K]

Every process of the bed wrote its step events (`StepTimeline`: CLOCK_MONOTONIC ns, role,
event, step, a, b) to DIR/c.tsv (the coordinator), DIR/s<h>.tsv (servers), DIR/w<h>.tsv
(workers). This prints, per step, the milestones of the step's critical path in ms from the
coordinator's step start, and their medians over the steps (docs/SCALING.md, "A step's
timeline"). With --step K it lists every event of step K in order.

Python standard library only.
"""
import collections
import glob
import os
import statistics
import sys


def load(directory):
    events = []
    for path in sorted(glob.glob(os.path.join(directory, "*.tsv"))):
        with open(path) as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) != 6:
                    continue
                ns, role, event, step, a, b = parts
                events.append((int(ns), role, event, int(step), int(a), int(b)))
    events.sort()
    return events


def ms(t, t0):
    return (t - t0) / 1e6


def main(argv):
    if not argv or argv[0].startswith("-"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    events = load(argv[0])
    if not events:
        print(f"timeline: no events in {argv[0]}/*.tsv", file=sys.stderr)
        return 1
    args = dict(zip(argv[1::2], argv[2::2]))
    by = collections.defaultdict(list)          # (role, event, step) -> [(ns, a, b)]
    for ns, role, event, step, a, b in events:
        by[(role, event, step)].append((ns, a, b))
    roles = sorted({e[1] for e in events})
    workers = [r for r in roles if r.startswith("w")]
    servers = [r for r in roles if r.startswith("s")]
    starts = {step: v[0][0] for (role, event, step), v in by.items() if role == "c" and event == "step-start"}
    steps = sorted(starts)
    if "--step" in args:
        k = int(args["--step"])
        t0 = starts[k]
        t1 = starts.get(k + 1, float("inf"))
        for ns, role, event, step, a, b in events:
            if t0 <= ns <= t1:
                print(f"{ms(ns, t0):8.2f}  {role:4s} {event:17s} step {step:4d}  {a:8d} {b:8d}")
        return 0
    lo, hi = (args.get("--steps") or f"{steps[2] if len(steps) > 3 else steps[0]}:{steps[-2]}").split(":")
    chosen = [k for k in steps if int(lo) <= k <= int(hi) and k + 1 in starts]

    def first(role, event, step):
        v = by.get((role, event, step))
        return v[0][0] if v else None

    def last(role, event, step):
        v = by.get((role, event, step))
        return v[-1][0] if v else None

    columns = collections.OrderedDict()

    def put(name, value):
        columns.setdefault(name, []).append(value)

    for k in chosen:
        t0 = starts[k]
        # A worker starts its block when both its assignment and the last slice of weights k are in.
        started = []
        for w in workers:
            assigned = first(w, "assigned", k)
            complete = last(w, "weights-complete", k)
            if assigned is None:
                continue
            started.append(max(assigned, complete or assigned))
        assigned = [first(w, "assigned", k) for w in workers if first(w, "assigned", k)]
        pushes = [(ns, a, b) for w in workers for (ns, a, b) in by.get((w, "pushed", k), [])]
        results = [last(w, "result-sent", k) for w in workers if last(w, "result-sent", k)]
        result_in = [ns for ns, _, _ in by.get(("c", "result-in", k), [])]
        grads_in = [ns for s in servers for ns, _, _ in by.get((s, "gradient-in", k), [])]
        stepped = [ns for s in servers for ns, _, _ in by.get((s, "range-stepped", k), [])]
        updated_sent = [last(s, "updated-sent", k) for s in servers if last(s, "updated-sent", k)]
        updated_in = [ns for ns, _, _ in by.get(("c", "updated-in", k), [])]
        # The next step's weights: the last slice that made each worker's version k + 1 whole.
        complete_next = [last(w, "weights-complete", k + 1) for w in workers if last(w, "weights-complete", k + 1)]
        put("first assigned", ms(min(assigned), t0) if assigned else float("nan"))
        put("last assigned", ms(max(assigned), t0) if assigned else float("nan"))
        put("first start", ms(min(started), t0) if started else float("nan"))
        put("last start", ms(max(started), t0) if started else float("nan"))
        if pushes:
            put("last push", ms(max(p[0] for p in pushes), t0))
        put("first result sent", ms(min(results), t0) if results else float("nan"))
        put("last result sent", ms(max(results), t0) if results else float("nan"))
        put("last result in", ms(max(result_in), t0) if result_in else float("nan"))
        put("last gradient in", ms(max(grads_in), t0) if grads_in else float("nan"))
        put("last range stepped", ms(max(stepped), t0) if stepped else float("nan"))
        put("last updated sent", ms(max(updated_sent), t0) if updated_sent else float("nan"))
        put("last updated in", ms(max(updated_in), t0) if updated_in else float("nan"))
        put("step end", ms(first("c", "step-end", k), t0) if first("c", "step-end", k) else float("nan"))
        put("next weights whole", ms(max(complete_next), t0) if complete_next else float("nan"))
        put("next step start", ms(starts[k + 1], t0))
        if pushes and complete_next:
            # The step's tail: from the last gradient pushed to the last worker holding k + 1.
            put("tail (next weights whole - last push)", (max(complete_next) - max(p[0] for p in pushes)) / 1e6)
        put("holds (last result - start), max", max(r - s for r, s in zip(
            [last(w, "result-sent", k) or 0 for w in workers], started)) / 1e6 if started else float("nan"))
        # The step's critical path (docs/SCALING.md, "The tail"): when the last worker
        # started, how long it held, then what the next step waited for after its last
        # push: the coordinator (step end, then its assignments) or the weights.
        # How long a worker whose weights were whole waited for its assignment (the
        # coordinator's start of the step), the most of any worker: 0 with early assignments.
        lags = [max(0, first(w, "assigned", k) - last(w, "weights-complete", k)) for w in workers
                if first(w, "assigned", k) and last(w, "weights-complete", k)]
        if lags:
            put("path: start lag (assigned - own weights whole), max", max(lags) / 1e6)
        if started and pushes:
            end = first("c", "step-end", k)
            put("path: last start", ms(max(started), t0))
            put("path: last push - last start", (max(p[0] for p in pushes) - max(started)) / 1e6)
            if end:
                put("path: step end - last push", (end - max(p[0] for p in pushes)) / 1e6)
                if complete_next:
                    put("path: next weights whole - step end", (max(complete_next) - end) / 1e6)
            put("path: step (next start - start)", ms(starts[k + 1], t0))
        put("messages pushed", len(pushes))
        put("weights ranges in", sum(len(by.get((w, "slice-in", k + 1), [])) for w in workers))
    print(f"steps {chosen[0]}..{chosen[-1]} ({len(chosen)}), {len(workers)} workers, {len(servers)} servers; ms from the coordinator's step start")
    print(f"{'milestone':36s} {'median':>8s} {'min':>8s} {'max':>8s}")
    for name, values in columns.items():
        values = [v for v in values if v == v]
        if not values:
            continue
        print(f"{name:36s} {statistics.median(values):8.2f} {min(values):8.2f} {max(values):8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
