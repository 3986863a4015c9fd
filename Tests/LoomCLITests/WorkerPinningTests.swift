// Local workers on their own cores: `loom worker --cpu K`, and `loom train --workers N`
// giving worker i its own CPU when the machine has N (read back from /proc, per thread).

import Foundation
import LoomLocal
import Testing

@Suite struct WorkerPinningTests {
    /// Cpus_allowed_list of every thread of `pid` (the worker's compute thread, ZeroMQ's
    /// I/O thread, Dispatch's...), e.g. ["1", "1", "1"].
    static func allowedLists(of pid: Int32) -> [String] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.compactMap { task in
            guard let status = try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/status", encoding: .utf8) else { return nil }
            return status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") }
                .map { $0.dropFirst("Cpus_allowed_list:".count).trimmingCharacters(in: .whitespaces) }
        }
    }

    @Test func aWorkerWithCpuRunsEveryThreadOnThatCPU() throws {
        let ws = try Workspace("worker-cpu")
        let cpu = try #require(CPUAffinity.allowedCPUs().last)
        // No coordinator there: the worker keeps trying to connect, which is all we need.
        let worker = try ws.start(["worker", "--connect", "ipc://\(ws.directory.path)/nobody.sock", "--cpu", "\(cpu)"],
                                  tag: "worker")
        defer { worker.signal(SIGKILL) }
        #expect(worker.waitForLog("pinned to CPU \(cpu)"), "stderr: \(worker.stderr)")
        #expect(worker.waitForLog("connecting to"), "stderr: \(worker.stderr)")
        // Its ZeroMQ I/O thread starts on its own schedule: wait for a second thread.
        var lists = Self.allowedLists(of: worker.pid)
        let deadline = Date().addingTimeInterval(30)
        while lists.count < 2 && Date() < deadline && worker.isRunning {
            usleep(10_000)
            lists = Self.allowedLists(of: worker.pid)
        }
        #expect(lists.count >= 2, "the worker has its ZeroMQ I/O thread within 30 s: \(lists)")
        #expect(lists.allSatisfy { $0 == "\(cpu)" }, "every thread on CPU \(cpu): \(lists)")
        worker.signal(SIGTERM)
        #expect(worker.wait(timeout: 30).status == 0)
    }

    @Test func aCPUThisProcessMayNotUseIsRefused() throws {
        let ws = try Workspace("worker-cpu-bad")
        let allowed = CPUAffinity.allowedCPUs()
        let outside = (allowed.max() ?? 0) + 1
        let result = try ws.loom(["worker", "--connect", "ipc://\(ws.directory.path)/nobody.sock", "--cpu", "\(outside)"])
        expectCleanFailure(result, naming: ["--cpu \(outside)", "may run on CPU(s)"], "worker --cpu \(outside)")
        let negative = try ws.loom(["worker", "--connect", "ipc://\(ws.directory.path)/nobody.sock", "--cpu", "-1"])
        #expect(negative.status != 0)
        #expect(negative.stderr.contains("--cpu"), "\(negative.stderr)")
    }

    /// `loom train --workers 2` on a machine with at least 2 CPUs: each worker's threads on
    /// one CPU, not the same one; and the run ends with the one-process weights.
    @Test(.enabled(if: CPUAffinity.allowedCPUs().count >= 2, "needs 2 CPUs"))
    func localWorkersGetACPUEachAndTrainAsOneProcess() throws {
        let allowed = CPUAffinity.allowedCPUs()
        let reference = try ReferenceRun.get()
        let ws = try Workspace("train-pinned")
        let spec = TrainSpec(workspace: ws, run: "run")
        let train = try ws.start(spec.arguments(["--workers", "2", "--log-level", "info"]), tag: "train")
        defer { train.signal(SIGKILL) }
        // The line comes once both children are started; the run cannot end before they
        // join, nor while it is stopped (SIGSTOP): stopped at once, it keeps them alive (they
        // run on) for as long as it takes to see their threads, however fast the host.
        let started = train.waitForLog("local worker process(es) on CPU(s) \(allowed[0]), \(allowed[1])")
        train.signal(SIGSTOP)
        var seen: [Int32: [String]] = [:]
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline && train.isRunning {
            let workers = ProcessTable.children(of: train.pid).filter { ProcessTable.commandLine(of: $0).contains(" worker ") }
            for pid in workers {
                let lists = Self.allowedLists(of: pid)
                if lists.count >= 2 { seen[pid] = lists }
            }
            if workers.count >= 2 && workers.allSatisfy({ seen[$0] != nil }) { break }
            usleep(20_000)
        }
        train.signal(SIGCONT)
        #expect(started, "\(train.stderr)")
        #expect(seen.count == 2, "two worker children seen running: \(seen)")
        let cpus = Set(seen.values.compactMap { Set($0).count == 1 ? $0.first : nil })
        #expect(cpus == ["\(allowed[0])", "\(allowed[1])"], "one CPU per worker, all its threads: \(seen)")
        let result = train.wait(timeout: 180)
        #expect(result.status == 0, "\(result.stderr.suffix(2000))")
        try reference.expectSame(as: spec, in: ws, "train --workers 2, pinned")
    }
}
