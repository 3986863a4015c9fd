#!/usr/bin/env python3
"""The tail's chain, per step, from a LOOM_TIMELINE directory (docs/SCALING.md, "The tail on
the bed is CPU, not link"): for the ranges pushed late in the step (the last bucket), the
last push, the last gradient in at a server, the last range stepped and the last slice in
at a worker; and which range the worker whose next weights were whole last got last.

    python3 deploy/bench/tail-chain.py DIR
"""
import collections
import glob
import os
import statistics
import sys


def load(d):
    ev = []
    for f in glob.glob(os.path.join(d, '*.tsv')):
        for line in open(f):
            p = line.rstrip('\n').split('\t')
            if len(p) >= 6:
                ev.append((int(p[0]), p[1], p[2], int(p[3]), int(p[4]), int(p[5])))
    ev.sort()
    return ev


def main(d, late_ms=44.0):
    ev = load(d)
    start = {e[3]: e[0] for e in ev if e[1] == 'c' and e[2] == 'step-start'}
    by = collections.defaultdict(list)
    for e in ev:
        by[e[3]].append(e)
    rows, last_ranges = [], collections.Counter()
    for st in sorted(by):
        if st not in start or st + 1 not in start or st < 3:
            continue
        t0, es, nxt = start[st], by[st], by[st + 1]
        ms = lambda t: (t - t0) / 1e6
        pushes = [e for e in es if e[2] == 'pushed']
        firsts = collections.defaultdict(lambda: float('inf'))
        for e in pushes:
            firsts[(e[4], e[5])] = min(firsts[(e[4], e[5])], e[0])
        late = {r for r, t in firsts.items() if ms(t) > late_ms}
        pick = lambda kind, evs: [e[0] for e in evs if e[2] == kind and (e[4], e[5]) in late]
        p, g, s, w = pick('pushed', es), pick('gradient-in', es), pick('range-stepped', es), pick('slice-in', nxt)
        whole = [e for e in nxt if e[2] == 'weights-complete']
        if not (p and g and s and w and whole):
            continue
        last = max(whole)
        mine = [e for e in nxt if e[2] == 'slice-in' and e[1] == last[1] and e[0] <= last[0]]
        if mine:
            last_ranges[(max(mine)[4], max(mine)[5])] += 1
        rows.append((ms(max(p)), ms(max(g)), ms(max(s)), ms(max(w)), ms(last[0]), ms(start[st + 1])))
    if not rows:
        sys.exit('no steps with late pushes in ' + d)
    names = ['last late push', 'last gradient in', 'last range stepped', 'last slice in', 'last weights whole', 'next step start']
    cols = list(zip(*rows))
    print('%d steps; ms from the coordinator\'s step start, median (min, max)' % len(rows))
    for n, c in zip(names, cols):
        print('  %-20s %7.2f (%7.2f, %7.2f)' % (n, statistics.median(c), min(c), max(c)))
    gaps = [('push -> gradient in', 0, 1), ('gradient in -> stepped', 1, 2), ('stepped -> slice in', 2, 3)]
    for n, a, b in gaps:
        print('  %-24s %5.2f' % (n, statistics.median([r[b] - r[a] for r in rows])))
    print('  the last-whole worker\'s last range:', ', '.join('[%d, %d) x%d' % (r[0], r[1], k) for r, k in last_ranges.most_common(4)))


if __name__ == '__main__':
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
