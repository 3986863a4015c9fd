#!/usr/bin/python3
"""Runs a systemd unit's ExecStart under the unit's own sandbox, without systemd.

Usage: unit_sandbox.py UNIT [--map OLD=NEW]... [--print] [-- COMMAND...]

Where PID 1 is not systemd (containers, CI machines), `systemd-run` cannot apply a unit's
sandbox. This script reads the [Service] section and applies the same restrictions with
the kernel features systemd itself uses:

  seccomp (python3-seccomp): SystemCallFilter (groups expanded by `systemd-analyze
      syscall-filter`, so the sets are systemd's own), SystemCallErrorNumber,
      SystemCallArchitectures=native, RestrictAddressFamilies, MemoryDenyWriteExecute,
      RestrictNamespaces, RestrictRealtime, RestrictSUIDSGID, LockPersonality;
  bubblewrap: ProtectSystem=strict (read-only /), ProtectHome, PrivateTmp, PrivateDevices
      (a minimal /dev), ProtectKernelTunables (read-only /proc/sys), ProtectProc (a PID
      namespace), ProtectHostname (a UTS namespace), PrivateUsers with User/Group (a user
      namespace, uid and gid 10001), CapabilityBoundingSet= (every capability dropped),
      NoNewPrivileges, ReadWritePaths, ReadOnlyPaths, StateDirectory, WorkingDirectory;
  the process itself: UMask, EnvironmentFile (systemd's clean environment plus the files).

ExecStart is expanded as systemd does: ${VAR} is one argument, $VAR is split at white
space. --map rewrites paths in the unit first (e.g. /usr/local/bin/loom=.build/release/loom,
/var/lib/loom=/tmp/x/state), since the test cannot write /etc or /var/lib. A COMMAND after
`--` runs instead of ExecStart, in the same sandbox (to probe it). Directives it does not
know stop it: a unit that grows a setting this script cannot apply fails its test.
"""
import os
import re
import shlex
import subprocess
import sys

import seccomp

# Directives applied below, and those that need nothing outside systemd itself (service
# management, not sandboxing). Any other directive in [Service] is an error.
MANAGEMENT = {"Type", "ExecReload", "KillSignal", "KillMode", "TimeoutStopSec", "Restart", "RestartSec",
              "LimitNOFILE", "Nice", "Environment"}
APPLIED = {"User", "Group", "EnvironmentFile", "WorkingDirectory", "StateDirectory", "ExecStart",
           "NoNewPrivileges", "CapabilityBoundingSet", "AmbientCapabilities", "ProtectSystem", "ProtectHome",
           "PrivateTmp", "PrivateDevices", "PrivateUsers", "ProtectClock", "ProtectHostname",
           "ProtectKernelTunables", "ProtectKernelModules", "ProtectKernelLogs", "ProtectControlGroups",
           "ProtectProc", "RestrictAddressFamilies", "RestrictNamespaces", "RestrictRealtime",
           "RestrictSUIDSGID", "LockPersonality", "MemoryDenyWriteExecute", "RemoveIPC",
           "SystemCallArchitectures", "SystemCallFilter", "SystemCallErrorNumber", "UMask",
           "ReadWritePaths", "ReadOnlyPaths"}
SANDBOX_UID = 10001

PROT_WRITE, PROT_EXEC, SHM_EXEC = 0x2, 0x4, 0o100000
S_ISUID, S_ISGID = 0o4000, 0o2000
CLONE_NEW = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x00000080
SCHED_FIFO, SCHED_RR = 1, 2


def service_section(text):
    """[Service] directives as (key, value) pairs in order (repeats kept)."""
    out, section = [], None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line
            continue
        if section == "[Service]" and "=" in line:
            k, v = line.split("=", 1)
            out.append((k.strip(), v.strip()))
    return out


def env_files(paths):
    env = {}
    for p in paths:
        optional = p.startswith("-")
        p = p.lstrip("-")
        if not os.path.exists(p):
            if optional:
                continue
            sys.exit(f"unit_sandbox: EnvironmentFile {p} does not exist")
        for line in open(p):
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                env[k.strip()] = v.strip().strip('"')
    return env


def expand(command, env):
    """systemd's ExecStart expansion: ${VAR} one word, $VAR split at white space."""
    words = []
    for word in shlex.split(command):
        m = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", word)
        if m:
            words += env.get(m.group(1), "").split()
        else:
            words.append(re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: env.get(m.group(1), ""), word))
    return words


def syscall_group(name, seen=None):
    """The syscalls of a systemd group (@name), nested groups expanded."""
    seen = seen if seen is not None else set()
    if name in seen:
        return set()
    seen.add(name)
    out = subprocess.run(["systemd-analyze", "syscall-filter", name], capture_output=True, text=True, check=True)
    calls = set()
    for line in out.stdout.splitlines()[1:]:
        item = line.strip()
        if not item or item.startswith("#"):
            continue
        calls |= syscall_group(item, seen) if item.startswith("@") else {item}
    return calls


def syscall_set(items):
    calls = set()
    for item in items:
        calls |= syscall_group(item) if item.startswith("@") else {item}
    return calls


def build_filters(d):
    """The seccomp filters for the unit's directives (a dict key -> list of values), as
    systemd installs them: an allow list of syscalls (default: the error number), and a
    second filter (default: allow) that refuses some calls by their arguments. The kernel
    runs both and keeps the more restrictive answer."""
    errno = d.get("SystemCallErrorNumber", ["EPERM"])[-1]
    code = {"EPERM": 1, "EACCES": 13, "ENOSYS": 38}[errno]
    allowed = None
    for value in d.get("SystemCallFilter", []):
        deny = value.startswith("~")
        if allowed is None:
            if deny:
                sys.exit("unit_sandbox: a SystemCallFilter deny list first is not supported")
            allowed = set()  # systemd: a first allow list starts from nothing
        calls = syscall_set(value.lstrip("~").split())
        allowed = allowed - calls if deny else allowed | calls
    if d.get("SystemCallArchitectures", [""])[-1] != "native":
        sys.exit("unit_sandbox: only SystemCallArchitectures=native is supported")

    def known(name):
        """Whether the syscall exists on this architecture (groups list other ABIs' too)."""
        try:
            return seccomp.resolve_syscall(seccomp.Arch.NATIVE, name) >= 0
        except (ValueError, RuntimeError):
            return False

    filters = []
    if allowed is not None:
        f = seccomp.SyscallFilter(seccomp.ERRNO(code))
        for name in sorted(allowed):
            if known(name):
                f.add_rule(seccomp.ALLOW, name)
        filters.append(f)

    g = seccomp.SyscallFilter(seccomp.ALLOW)

    def deny(name, errno_value, *args):
        if known(name):
            g.add_rule(seccomp.ERRNO(errno_value), name, *args)

    if d.get("MemoryDenyWriteExecute", ["no"])[-1] == "yes":
        deny("mmap", 1, seccomp.Arg(2, seccomp.MASKED_EQ, PROT_WRITE | PROT_EXEC, PROT_WRITE | PROT_EXEC))
        deny("mprotect", 1, seccomp.Arg(2, seccomp.MASKED_EQ, PROT_EXEC, PROT_EXEC))
        deny("pkey_mprotect", 1, seccomp.Arg(2, seccomp.MASKED_EQ, PROT_EXEC, PROT_EXEC))
        deny("shmat", 1, seccomp.Arg(2, seccomp.MASKED_EQ, SHM_EXEC, SHM_EXEC))
    if d.get("RestrictNamespaces", ["no"])[-1] == "yes":
        deny("unshare", 1)
        deny("setns", 1)
        for bit in (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000, 0x80):
            deny("clone", 1, seccomp.Arg(0, seccomp.MASKED_EQ, bit, bit))
        deny("clone3", 38)  # as systemd: ENOSYS, so that libc falls back to clone
    if d.get("RestrictRealtime", ["no"])[-1] == "yes":
        for policy in (SCHED_FIFO, SCHED_RR):
            deny("sched_setscheduler", 1, seccomp.Arg(1, seccomp.EQ, policy))
    if d.get("RestrictSUIDSGID", ["no"])[-1] == "yes":
        for name, pos in (("chmod", 1), ("fchmod", 1), ("fchmodat", 2)):
            for bit in (S_ISUID, S_ISGID):
                deny(name, 1, seccomp.Arg(pos, seccomp.MASKED_EQ, bit, bit))
    if d.get("LockPersonality", ["no"])[-1] == "yes":
        # approximately: no 32-bit personality and no ADDR_NO_RANDOMIZE
        deny("personality", 1, seccomp.Arg(0, seccomp.MASKED_EQ, 0xFF, 0x08))
        deny("personality", 1, seccomp.Arg(0, seccomp.MASKED_EQ, 0x0040000, 0x0040000))
    families = d.get("RestrictAddressFamilies", [])
    if families:
        import socket
        keep = {int(getattr(socket, name)) for value in families for name in value.split()}
        for fam in range(0, 46):  # every other family fails with EAFNOSUPPORT, as in systemd
            if fam not in keep:
                deny("socket", 97, seccomp.Arg(0, seccomp.EQ, fam))
    filters.append(g)
    return filters


def main(argv):
    unit, maps, command, show = None, [], None, False
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--map":
            maps.append(argv[i + 1].split("=", 1)); i += 2; continue
        if a == "--print":
            show = True; i += 1; continue
        if a == "--":
            command = argv[i + 1:]; break
        unit = a; i += 1
    text = open(unit).read()
    instance = re.search(r"@([^.]*)\.service$", unit)
    if instance:
        text = text.replace("%i", instance.group(1))
    for old, new in maps:
        text = text.replace(old, new)
    directives = service_section(text)
    unknown = sorted({k for k, _ in directives} - APPLIED - MANAGEMENT)
    if unknown:
        sys.exit(f"unit_sandbox: {unit}: cannot apply {', '.join(unknown)}")
    d = {}
    for k, v in directives:
        d.setdefault(k, []).append(v)
    one = lambda k, default="": d.get(k, [default])[-1]

    env = env_files(d.get("EnvironmentFile", []))
    argv_run = command or expand(one("ExecStart"), env)

    bw = ["bwrap", "--die-with-parent", "--clearenv"]
    if one("ProtectSystem") == "strict":
        bw += ["--ro-bind", "/", "/"]
    else:
        sys.exit("unit_sandbox: only ProtectSystem=strict is supported")
    if one("ProtectHome") == "yes":
        bw += ["--tmpfs", "/home", "--tmpfs", "/root", "--tmpfs", "/run/user"]
    if one("PrivateTmp") == "yes":
        bw += ["--tmpfs", "/tmp", "--tmpfs", "/var/tmp"]
    bw += ["--dev", "/dev"] if one("PrivateDevices") == "yes" else ["--dev-bind", "/dev", "/dev"]
    bw += ["--proc", "/proc"]
    if one("ProtectKernelTunables") == "yes":
        bw += ["--ro-bind", "/proc/sys", "/proc/sys"]
    if one("ProtectProc") in ("invisible", "noaccess", "ptraceable"):
        bw += ["--unshare-pid"]
    if one("ProtectHostname") == "yes":
        bw += ["--unshare-uts"]
    if one("RemoveIPC") == "yes":
        bw += ["--unshare-ipc"]
    if one("User"):
        bw += ["--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID)]
    if one("NoNewPrivileges") != "yes":
        sys.exit("unit_sandbox: NoNewPrivileges=yes is required (bwrap always sets it)")
    if "CapabilityBoundingSet" in d and one("CapabilityBoundingSet") == "":
        bw += ["--cap-drop", "ALL"]
    # What the unit may still see: the mapped system paths (read-only, as the originals are
    # under ProtectSystem=strict), the binary, and its state (read-write).
    seen = set()

    def bind(kind, path):
        if (kind, path) not in seen:
            seen.add((kind, path))
            bw.extend([kind, path, path])

    for _, new in maps:
        bind("--ro-bind", new)
    bind("--ro-bind", argv_run[0])
    for p in d.get("ReadOnlyPaths", []):
        for q in p.split():
            bind("--ro-bind", q.lstrip("-"))
    def mapped(path):
        for old, new in maps:
            if path == old or path.startswith(old + "/"):
                return new + path[len(old):]
        return path

    for p in [mapped(os.path.join("/var/lib", s)) for v in d.get("StateDirectory", []) for s in v.split()] \
            + [q for v in d.get("ReadWritePaths", []) for q in v.split()]:
        bind("--bind", p)
    environment = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                   "HOME": one("WorkingDirectory", "/"), "USER": one("User", "root"), "LANG": "C.UTF-8", **env}
    for k, v in environment.items():
        bw += ["--setenv", k, v]
    if one("WorkingDirectory"):
        bw += ["--chdir", one("WorkingDirectory")]

    for f in build_filters(d):
        r, w = os.pipe()
        with os.fdopen(w, "wb") as out:
            f.export_bpf(out)
        os.set_inheritable(r, True)
        bw += ["--add-seccomp-fd", str(r)]
    bw += ["--"] + argv_run
    if show:
        print(shlex.join(bw))
        return
    os.umask(int(one("UMask", "0022"), 8))
    os.execvp("bwrap", bw)


if __name__ == "__main__":
    main(sys.argv[1:])
