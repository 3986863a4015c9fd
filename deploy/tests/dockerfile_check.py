#!/usr/bin/env python3
"""Checks deploy/docker/Dockerfile without docker (hadolint is not packaged for Debian).

Usage: dockerfile_check.py DOCKERFILE REPO [LOOM_BINARY]
Stages: a Swift toolchain build stage and a debian:bookworm-slim runtime stage; the
runtime installs exactly the runtime libraries (no -dev packages, no toolchain); the build
stage installs every -dev package Package.swift names; COPY sources exist; and, given a
built binary, every shared library it links is provided by a runtime package (found with
dpkg -S on this machine), or is the Swift runtime, linked statically in the image.
"""
import os
import re
import subprocess
import sys

RUNTIME = {"libzmq5", "libopenblas0", "libhdf5-103-1", "zlib1g", "libturbojpeg0", "libpng16-16"}
BASE = {"libc6", "libstdc++6", "libgcc-s1"}  # in debian:bookworm-slim already
results = []


def check(name, ok, detail=""):
    results.append(ok)
    print(f"docker: {'PASS' if ok else 'FAIL'} {name}{'' if ok else ': ' + detail}",
          file=sys.stdout if ok else sys.stderr)


def instructions(text):
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out, current = [], ""
    for line in text.splitlines():
        if line.strip().startswith("#") and not current:
            continue
        if line.strip().startswith("#"):
            continue
        current += line.rstrip("\\").strip() + " "
        if not line.rstrip().endswith("\\"):
            if current.strip():
                word, _, rest = current.strip().partition(" ")
                out.append((word.upper(), rest.strip()))
            current = ""
    return out


def stages(ins):
    args, result = {}, []
    for word, rest in ins:
        if word == "ARG" and not result:
            k, _, v = rest.partition("=")
            args[k] = v
        elif word == "FROM":
            image = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), rest.split()[0])
            name = rest.split()[2] if len(rest.split()) >= 3 and rest.split()[1].upper() == "AS" else None
            result.append({"image": image, "name": name, "ins": []})
        elif result:
            result[-1]["ins"].append((word, rest))
    return result


def apt_packages(stage):
    pkgs = set()
    for word, rest in stage["ins"]:
        if word == "RUN":
            for m in re.finditer(r"apt-get install ([^&;|]*)", rest):
                pkgs |= {p for p in m.group(1).split() if not p.startswith("-")}
    return pkgs


def package_of(path):
    """The Debian package owning a library, trying its /lib and /usr/lib spellings (usr-merge)."""
    real = os.path.realpath(path)
    for candidate in (path, real, real.replace("/usr/lib/", "/lib/", 1), path.replace("/lib/", "/usr/lib/", 1)):
        r = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
        if r.returncode == 0:
            return r.stdout.split(":")[0].strip()
    return None


def depends_of(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Depends}", pkg], capture_output=True, text=True)
    return {d.strip().split()[0].split(":")[0] for alt in r.stdout.split(",") for d in alt.split("|") if d.strip()}


def main(dockerfile, repo, loom=None):
    text = open(dockerfile).read()
    st = stages(instructions(text))
    check("two stages (build, runtime)", len(st) == 2, f"{len(st)} stages")
    if len(st) < 2:
        return
    build, runtime = st[0], st[-1]
    check(f"the build stage is a Swift 6 bookworm toolchain ({build['image']})",
          re.fullmatch(r"swift:6\.\d+-bookworm", build["image"]) is not None)
    check(f"the runtime stage is debian:bookworm-slim ({runtime['image']})", runtime["image"] == "debian:bookworm-slim")
    names = {s["name"] for s in st if s["name"]}
    for s in st:
        for word, rest in s["ins"]:
            m = re.search(r"--from=(\S+)", rest) if word == "COPY" else None
            if m:
                check(f"COPY --from={m.group(1)} names an earlier stage", m.group(1) in names)
            elif word == "COPY" and s is build:
                for src in rest.split()[:-1]:
                    import glob
                    check(f"COPY source {src} exists in the repository", len(glob.glob(os.path.join(repo, src))) > 0)
    rt = apt_packages(runtime)
    check("the runtime stage installs exactly the runtime libraries", rt == RUNTIME,
          f"installs {sorted(rt)}, expected {sorted(RUNTIME)}")
    check("the runtime stage installs no -dev package or toolchain",
          not any(p.endswith("-dev") or "swift" in p or p in ("gcc", "clang") for p in rt))
    dev = set()
    for m in re.finditer(r"\.apt\(\[([^\]]*)\]\)", open(os.path.join(repo, "Package.swift")).read()):
        dev |= set(re.findall(r'"([^"]+)"', m.group(1)))
    bt = apt_packages(build)
    check("the build stage installs every system library of Package.swift", dev <= bt, f"missing {sorted(dev - bt)}")
    static = any("--static-swift-stdlib" in rest for w, rest in build["ins"] if w == "RUN")
    check("the Swift runtime is linked statically (nothing of the toolchain is needed at run time)", static)
    words = [w for w, _ in runtime["ins"]]
    user = [rest for w, rest in runtime["ins"] if w == "USER"]
    check("the runtime runs as a non-root user", bool(user) and user[-1] not in ("root", "0"))
    check("the entry point is loom", any(w == "ENTRYPOINT" and "loom" in r for w, r in runtime["ins"]), str(words))

    if loom and os.path.exists(loom):
        needed = re.findall(r"\(NEEDED\).*\[(.+)\]", subprocess.run(["readelf", "-d", loom], capture_output=True,
                                                                      text=True).stdout)
        paths = dict(re.findall(r"^\s*(\S+) => (\S+)", subprocess.run(["ldd", loom], capture_output=True,
                                                                         text=True).stdout, re.M))
        provided = RUNTIME | BASE | {d for p in RUNTIME for d in depends_of(p)}
        for lib in needed:
            path = paths.get(lib)
            if path and "/swift" in path or lib.startswith(("libswift", "libFoundation", "libdispatch", "libBlocksRuntime")):
                check(f"{lib}: Swift runtime, linked statically in the image", static)
                continue
            pkg = package_of(path) if path else None
            check(f"{lib} ({pkg}) is installed in the runtime stage", pkg in provided,
                  f"{path}: package {pkg} not among {sorted(RUNTIME | BASE)} or their dependencies")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
    failed = results.count(False)
    print(f"docker: {len(results) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
