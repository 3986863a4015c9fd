#!/usr/bin/env python3
"""The Prometheus rules and the Grafana dashboard use only metrics Loom exposes.

Usage: prometheus_names.py SOURCES_DIR ALERTS_YML DASHBOARD_JSON
The names Loom exposes are the string literals `loom_...` of SOURCES_DIR (LoomMetrics),
with `_bucket`, `_sum` and `_count` for the histograms; deploy/tests/metrics.sh checks
that they appear in live scrapes. Prints PASS/FAIL lines, exits non-zero on a failure.
"""
import json
import os
import re
import sys

import yaml

failed = 0


def check(name, ok, detail=""):
    global failed
    failed += not ok
    print(f"prometheus: {'PASS' if ok else 'FAIL'} {name}{'' if ok else ': ' + detail}",
          file=sys.stdout if ok else sys.stderr)


def exposed(sources):
    names, histograms = set(), set()
    for f in sorted(os.listdir(sources)):
        if f.endswith(".swift"):
            text = open(os.path.join(sources, f)).read()
            names |= set(re.findall(r'"(loom_[a-z0-9_]+)"', text))
            histograms |= set(re.findall(r'durationHistogram\(\s*"(loom_[a-z0-9_]+)"', text))
    for h in histograms:
        names |= {h + "_bucket", h + "_sum", h + "_count"}
    return names


def used(expr):
    """Metric names in a PromQL expression (loom_* identifiers not followed by '(')."""
    return set(re.findall(r"\b(loom_[a-z0-9_]+)\b(?!\s*\()", expr))


def main(sources, alerts, dashboard):
    names = exposed(sources)
    check(f"LoomMetrics exposes metrics ({len(names)} names)", len(names) > 10)

    rules = yaml.safe_load(open(alerts))
    exprs = [(r["alert"], r["expr"]) for g in rules["groups"] for r in g["rules"] if "alert" in r]
    check("alerts.yml has alerts", len(exprs) > 0)
    for alert, expr in exprs:
        unknown = used(str(expr)) - names
        check(f"alert {alert} uses only exposed metrics", not unknown, f"unknown: {sorted(unknown)}")
    wanted = {"no step": "loom_step", "worker lost": "loom_workers_lost_total",
              "checkpoint age": "loom_checkpoint_age_seconds", "loss NaN": "loom_loss"}
    for what, metric in wanted.items():
        check(f"an alert watches {what} ({metric})", any(metric in used(str(e)) for _, e in exprs))

    d = json.load(open(dashboard))
    panels = d.get("panels", [])
    check("the dashboard has panels", len(panels) > 0)
    check("the dashboard has a uid and a title", bool(d.get("uid")) and bool(d.get("title")))
    ids = [p.get("id") for p in panels]
    check("panel ids are unique", len(ids) == len(set(ids)), f"{ids}")
    variables = {v["name"] for v in d.get("templating", {}).get("list", [])}
    covered = set()
    for p in panels:
        targets = p.get("targets", [])
        check(f"panel '{p.get('title')}' has a query", len(targets) > 0)
        for t in targets:
            expr = t.get("expr", "")
            covered |= used(expr)
            unknown = used(expr) - names
            check(f"panel '{p.get('title')}' uses only exposed metrics", not unknown, f"unknown: {sorted(unknown)}")
            for v in re.findall(r"\$(\w+)", expr):
                check(f"panel '{p.get('title')}': ${v} is a dashboard variable or built in",
                      v in variables or v.startswith("__"), f"variables: {sorted(variables)}")
    for v in d.get("templating", {}).get("list", []):
        for m in used(v.get("definition", "")):
            check(f"variable {v['name']} queries an exposed metric", m in names, m)
    for metric in ("loom_step_duration_seconds_bucket", "loom_eval_accuracy", "loom_eval_loss", "loom_live_workers",
                   "loom_workers_lost_total", "loom_wire_sent_bytes_total", "loom_checkpoint_age_seconds",
                   "loom_worker_assignment_duration_seconds_bucket"):
        check(f"the dashboard shows {metric}", metric in covered)


if __name__ == "__main__":
    main(*sys.argv[1:4])
    sys.exit(1 if failed else 0)
