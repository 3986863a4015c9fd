// The run's kernels at the coordinator: the first worker admitted fixes them, a worker of
// another OpenBLAS core type is refused while one of the run's is live, and when none is
// the newcomer's kernels become the run's (a run whose workers all moved to another CPU type
// goes on instead of refusing every worker forever).

import Foundation
import LoomCluster
import LoomKernels
import LoomWire
import Testing

@Suite struct KernelAdmissionTests {
    typealias Fake = CoordinatorSharedMemoryTests.FakeWorker

    static func hello(_ name: String, core: String, revision: Int = KernelIdentity.revision) -> Hello {
        Hello(hostname: name, pid: 1, cores: 1, datasetFingerprint: "", hasLocalData: false,
              kernels: KernelIdentity(blasCore: core, loomPath: "sse2", revision: revision))
    }

    /// Says hello with `core` and returns what the coordinator answered: welcome or refusal.
    static func join(_ c: InMemoryCluster, _ t: Transport, _ name: String, core: String,
                     revision: Int = KernelIdentity.revision) throws -> Message? {
        try t.send(.hello(hello(name, core: core, revision: revision)), to: .coordinator)
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            c.executor.idle()
            if let answer = try Fake.next(t, { m -> Message? in
                switch m {
                case .welcome, .refuse: m
                default: nil
                }
            }) { return answer }
        }
        return nil
    }

    @Test func aWorkerOfAnotherCoreIsRefusedWhileTheRunsAreLiveAndAdmittedWhenNoneIs() throws {
        let c = try InMemoryCluster(timeoutMs: 300)
        let a = c.network.connectWorker(), b = c.network.connectWorker()
        guard case .welcome = try #require(try Self.join(c, a, "a", core: "CoreA")) else {
            Issue.record("the first worker is admitted"); return
        }
        #expect(c.executor.runKernels?.blasCore == "CoreA")
        guard case .refuse(let refusal) = try #require(try Self.join(c, b, "b", core: "CoreB")) else {
            Issue.record("a worker of another core is refused while a is live"); return
        }
        #expect(refusal.reason.contains("OpenBLAS CoreB") && refusal.reason.contains("OPENBLAS_CORETYPE=CoreA"))
        #expect(c.executor.liveWorkers.count == 1)
        // a falls silent and is declared dead: b is then the only worker, and is admitted.
        Thread.sleep(forTimeInterval: 0.5)
        c.executor.idle()
        #expect(c.executor.liveWorkers.isEmpty)
        guard case .welcome = try #require(try Self.join(c, b, "b", core: "CoreB")) else {
            Issue.record("with no live worker of the run's core, b is admitted"); return
        }
        #expect(c.executor.runKernels?.blasCore == "CoreB")
    }

    @Test func aWorkerOfAnotherLoomBuildIsRefusedWithTheCureNamed() throws {
        let c = try InMemoryCluster(timeoutMs: 2000)
        let a = c.network.connectWorker(), b = c.network.connectWorker()
        guard case .welcome = try #require(try Self.join(c, a, "a", core: "CoreA")) else {
            Issue.record("the first worker is admitted"); return
        }
        guard case .refuse(let refusal) = try #require(try Self.join(c, b, "b", core: "CoreA", revision: 0)) else {
            Issue.record("a worker of the same core but an older build is refused"); return
        }
        #expect(refusal.reason.contains("kernel revision not recorded"), "\(refusal.reason)")
        #expect(refusal.reason.contains("same Loom build as the run's (kernel revision \(KernelIdentity.revision))"), "\(refusal.reason)")
        #expect(c.executor.liveWorkers.count == 1)
    }
}
