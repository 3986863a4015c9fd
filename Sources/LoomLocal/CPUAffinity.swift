// Which cores local workers run on. A synchronous step waits for its slowest worker, so a
// worker that loses its core for a moment delays the whole step. Left to the scheduler, some
// `loom bench --workers 2` measurements on the 2-core development VM ran 10-20% slower than
// the rest (3470-3850 against 4100-4300 samples/s); with each worker pinned to its own core
// those slow measurements went away (4150-4450). See docs/CLUSTER.md.
// `loom train --workers N` and the benchmark give worker i its own core when there are at
// least N; `loom worker --cpu K` does the same by hand. The coordinator is not pinned.

import CSystem
import Foundation
import LoomCluster

public enum CPUAffinity {
    /// The CPUs this process may run on (its affinity mask, e.g. narrowed by `taskset` or a
    /// cgroup cpuset), in increasing order; empty when the mask cannot be read.
    public static func allowedCPUs() -> [Int] {
        var cpus = [Int32](repeating: 0, count: 1024)
        let n = Int(loom_allowed_cpus(&cpus, Int32(cpus.count)))
        guard n > 0 else { return [] }
        return cpus.prefix(min(n, cpus.count)).map(Int.init)
    }

    /// Restricts this process to `cpu`: the calling thread, so every thread started later
    /// (the ZeroMQ I/O thread among them), and the threads already there (OpenBLAS's, if
    /// it started any when it loaded). Call it early, before the work starts.
    public static func pinProcess(to cpu: Int) throws(ClusterError) {
        let allowed = allowedCPUs()
        guard allowed.isEmpty || allowed.contains(cpu) else {
            throw .process("--cpu \(cpu): this process may run on CPU(s) \(describe(allowed)) only")
        }
        let status = loom_pin_thread(0, Int32(clamping: cpu))
        guard status == 0 else {
            throw .process("--cpu \(cpu): sched_setaffinity failed: \(String(cString: strerror(status)))")
        }
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        for tid in tasks.compactMap(Int32.init) {
            let status = loom_pin_thread(tid, Int32(clamping: cpu))
            // A thread that ended since the listing is no failure.
            guard status == 0 || status == ESRCH else {
                throw .process("--cpu \(cpu): sched_setaffinity of thread \(tid) failed: \(String(cString: strerror(status)))")
            }
        }
    }

    /// The CPU for local worker `index` of `count`: its own allowed CPU when there are at
    /// least `count` of them, else nil (workers then share the cores as the scheduler likes).
    public static func localWorkerCPU(index: Int, count: Int, allowed: [Int] = allowedCPUs()) -> Int? {
        guard count >= 1, index >= 0, index < count, allowed.count >= count else { return nil }
        return allowed[index]
    }

    /// "0-3,6" style list of CPUs.
    static func describe(_ cpus: [Int]) -> String {
        var parts: [String] = []
        var i = 0
        while i < cpus.count {
            var j = i
            while j + 1 < cpus.count && cpus[j + 1] == cpus[j] + 1 { j += 1 }
            parts.append(i == j ? "\(cpus[i])" : "\(cpus[i])-\(cpus[j])")
            i = j + 1
        }
        return parts.joined(separator: ",")
    }
}
