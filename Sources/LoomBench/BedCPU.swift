// The CPU the bed's processes spend, for `loom bench --hosts` (docs/SCALING.md, "Where the
// CPU goes"). Wall time on a shared 2-core machine moves with whatever else runs; the CPU
// seconds a process was given, and the number of times its threads went to sleep and woke
// up, do not (much). The coordinator reads them from /proc before and after the timed
// steps, for every process of its bed: those whose command line names the bed's keys
// directory (every `loom worker` and `loom server` of a bed gets `--keys <dir>/w<k>`, the
// coordinator `--bed-keys <dir>/coordinator`). The network namespaces of the bed share the
// machine's PID namespace, so host 0 sees them all.

import Foundation

/// CPU and wake-ups of the bed's processes by role, summed over their threads.
public struct BedCPU: Codable, Sendable, Equatable {
    /// utime + stime, seconds, and context switches (voluntary: the thread slept, e.g. in
    /// poll; involuntary: it was preempted), by role (`coordinator`, `server`, `worker`).
    public var seconds: [String: Double] = [:]
    public var userSeconds: [String: Double] = [:]
    public var switches: [String: Int] = [:]
    public var processes: [String: Int] = [:]
    /// The machine's busy CPU seconds, all cores, every process (/proc/stat): less the
    /// bed's, what other work took from the bed's cores meanwhile. Nil where unreadable.
    public var machineSeconds: Double?
    /// The cores /proc/stat counts (its `cpuN` lines): what `machineSeconds` is spread over.
    public var machineCores: Int?

    public init() {}

    /// Seconds of the machine's CPU spent by processes other than the bed's.
    public var othersSeconds: Double? {
        machineSeconds.map { max(0, $0 - seconds.values.reduce(0, +)) }
    }

    /// `after` less `before`, role by role.
    public static func - (after: BedCPU, before: BedCPU) -> BedCPU {
        var d = BedCPU()
        for (role, s) in after.seconds { d.seconds[role] = s - (before.seconds[role] ?? 0) }
        for (role, s) in after.userSeconds { d.userSeconds[role] = s - (before.userSeconds[role] ?? 0) }
        for (role, n) in after.switches { d.switches[role] = n - (before.switches[role] ?? 0) }
        d.processes = after.processes
        if let a = after.machineSeconds, let b = before.machineSeconds { d.machineSeconds = a - b }
        d.machineCores = after.machineCores
        return d
    }

    /// The processes whose command line holds `marker` (and this one, as `coordinator`).
    public static func read(marker: String) -> BedCPU {
        var cpu = BedCPU()
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        if let data = FileManager.default.contents(atPath: "/proc/stat"), let stat = machine(stat: String(decoding: data, as: UTF8.self)) {
            cpu.machineSeconds = Double(stat.busyTicks) / ticks
            cpu.machineCores = stat.cores
        }
        let me = getpid()
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return cpu }
        for entry in entries {
            guard let pid = Int32(entry) else { continue }
            let role: String
            if pid == me {
                role = "coordinator"
            } else {
                guard let argv = arguments(pid), argv.contains(where: { $0.contains(marker) }),
                      let kind = argv.dropFirst().first, kind == "worker" || kind == "server" else { continue }
                role = kind
            }
            guard let (user, system) = times(pid) else { continue }
            cpu.seconds[role, default: 0] += Double(user + system) / ticks
            cpu.userSeconds[role, default: 0] += Double(user) / ticks
            cpu.switches[role, default: 0] += contextSwitches(pid)
            cpu.processes[role, default: 0] += 1
        }
        return cpu
    }

    /// From the text of /proc/stat: the ticks all cores spent busy since boot, and how many
    /// cores there are. The first line is `cpu  user nice system idle iowait irq softirq
    /// steal ...`; busy is user, nice, system, irq and softirq (guest time is in user already;
    /// steal is time the hypervisor gave other machines, not work on this one). Each core
    /// has a `cpuN` line. Nil when the text is not of that form.
    public static func machine(stat text: String) -> (busyTicks: Int, cores: Int)? {
        let lines = text.split(separator: "\n")
        guard let line = lines.first, line.hasPrefix("cpu ") else { return nil }
        let fields = line.split(separator: " ").dropFirst().prefix(7).compactMap { Int($0) }
        guard fields.count == 7 else { return nil }
        let cores = lines.dropFirst().filter { $0.hasPrefix("cpu") && ($0.dropFirst(3).first?.isNumber ?? false) }.count
        return (fields[0] + fields[1] + fields[2] + fields[5] + fields[6], max(cores, 1))
    }

    /// argv of `pid` (NUL-separated in /proc/PID/cmdline).
    static func arguments(_ pid: Int32) -> [String]? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"), !data.isEmpty else { return nil }
        return data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    }

    /// utime and stime of the whole process (all its threads), clock ticks: fields 14 and 15
    /// of /proc/PID/stat, counted after the command name's closing parenthesis.
    static func times(_ pid: Int32) -> (Int, Int)? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/stat") else { return nil }
        let text = String(decoding: data, as: UTF8.self)
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is the state (field 3), so field k is fields[k - 3].
        guard fields.count > 12, let user = Int(fields[11]), let system = Int(fields[12]) else { return nil }
        return (user, system)
    }

    /// Voluntary and involuntary context switches of every thread of `pid`.
    static func contextSwitches(_ pid: Int32) -> Int {
        guard let tasks = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task") else { return 0 }
        var total = 0
        for task in tasks {
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/task/\(task)/status") else { continue }
            for line in String(decoding: data, as: UTF8.self).split(separator: "\n")
            where line.hasPrefix("voluntary_ctxt_switches:") || line.hasPrefix("nonvoluntary_ctxt_switches:") {
                total += Int(line.split(separator: ":").last!.trimmingCharacters(in: .whitespaces)) ?? 0
            }
        }
        return total
    }
}
