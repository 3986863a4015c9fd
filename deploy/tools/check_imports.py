#!/usr/bin/env python3
"""Checks that Package.swift declares exactly what each target imports.

For every target of the package (read with `swift package dump-package`), the modules its
sources import must be the targets and products it depends on, and every dependency must be
imported by at least one of its files. Modules of the toolchain (Foundation, Glibc,
Dispatch, Testing, XCTest...) need no declaration. Prints one line per mismatch and exits 1
if there is any; `--package DIR` checks another checkout.

Only capitalised names count as Swift modules: test files embed Python scripts whose
`import sys` lines are not Swift's.

A dependency that is needed without an import (a C target whose symbols a system library
resolves, say) would be listed in ALLOWED_UNIMPORTED with the reason; today none is.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

TOOLCHAIN = {"Foundation", "FoundationEssentials", "Glibc", "Musl", "Darwin", "Dispatch", "Testing", "XCTest",
             "Synchronization", "_Concurrency", "Swift", "os"}
ALLOWED_UNIMPORTED = {}  # {(target, dependency): reason}
IMPORT = re.compile(r"^\s*(?:@testable\s+|@_exported\s+|@preconcurrency\s+)*import\s+(?:(?:struct|class|enum|func|protocol|typealias|var|let)\s+)?([A-Z][A-Za-z0-9_]*)", re.M)


def dependency_names(target):
    names = set()
    for dep in target.get("dependencies", []):
        for kind in ("byName", "target", "product"):
            if kind in dep:
                names.add(dep[kind][0])
    return names


def target_path(target, root):
    if target.get("path"):
        return os.path.join(root, target["path"])
    base = "Tests" if target["type"] == "test" else "Sources"
    return os.path.join(root, base, target["name"])


def imports_of(path):
    found = set()
    for directory, _, files in os.walk(path):
        for name in files:
            if name.endswith(".swift"):
                with open(os.path.join(directory, name), encoding="utf-8") as f:
                    found.update(IMPORT.findall(f.read()))
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", default=os.path.join(os.path.dirname(__file__), "..", ".."))
    args = parser.parse_args()
    root = os.path.abspath(args.package)
    # A scratch path of its own, so that it never waits for the lock of a build in progress
    # (the tests run it from inside `swift test`).
    with tempfile.TemporaryDirectory(prefix="loom-check-imports-") as scratch:
        dump = subprocess.run(["swift", "package", "--package-path", root, "--scratch-path", scratch, "dump-package"],
                              check=True, capture_output=True, text=True).stdout
    package = json.loads(dump)
    targets = {t["name"]: t for t in package["targets"]}
    problems = []
    for name, target in sorted(targets.items()):
        if target["type"] in ("system-target", "binary", "plugin"):
            continue
        path = target_path(target, root)
        has_swift = any(f.endswith(".swift") for _, _, fs in os.walk(path) for f in fs)
        if not has_swift:
            continue  # a C target: its includes are its own business
        declared = dependency_names(target)
        imported = imports_of(path) - TOOLCHAIN - {name}
        for module in sorted(imported - declared):
            problems.append(f"{name}: imports {module} but Package.swift does not list it")
        for module in sorted(declared - imported):
            if (name, module) not in ALLOWED_UNIMPORTED:
                problems.append(f"{name}: Package.swift lists {module} but no file of {path[len(root) + 1:]} imports it")
    for line in problems:
        print(line)
    if problems:
        print(f"{len(problems)} mismatch(es) between imports and Package.swift", file=sys.stderr)
        return 1
    print(f"imports match Package.swift for {len(targets)} targets")
    return 0


if __name__ == "__main__":
    sys.exit(main())
