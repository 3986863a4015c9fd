// Which CPU a local worker gets, and the CPU lists in messages.

import LoomLocal
import Testing

@Suite struct CPUAffinityTests {
    @Test func workersGetTheAllowedCPUsInOrderWhenThereAreEnough() {
        let allowed = [2, 3, 6, 7]
        #expect((0..<4).map { CPUAffinity.localWorkerCPU(index: $0, count: 4, allowed: allowed) } == [2, 3, 6, 7])
        #expect((0..<2).map { CPUAffinity.localWorkerCPU(index: $0, count: 2, allowed: allowed) } == [2, 3])
    }

    @Test func moreWorkersThanCPUsAreLeftToTheScheduler() {
        #expect((0..<3).map { CPUAffinity.localWorkerCPU(index: $0, count: 3, allowed: [0, 1]) } == [nil, nil, nil])
        #expect(CPUAffinity.localWorkerCPU(index: 0, count: 1, allowed: []) == nil, "unknown mask: no pinning")
        #expect(CPUAffinity.localWorkerCPU(index: 2, count: 2, allowed: [0, 1, 2]) == nil, "index past count")
    }

    @Test func thisProcessMayRunSomewhere() {
        let cpus = CPUAffinity.allowedCPUs()
        #expect(!cpus.isEmpty)
        #expect(cpus == cpus.sorted() && Set(cpus).count == cpus.count)
    }

    @Test func pinningToACPUOutsideTheMaskIsAnErrorNamingTheMask() {
        let cpus = CPUAffinity.allowedCPUs()
        let outside = (cpus.max() ?? 0) + 1
        #expect {
            try CPUAffinity.pinProcess(to: outside)
        } throws: { error in
            "\(error)".contains("--cpu \(outside)") && "\(error)".contains("may run on CPU(s)")
        }
    }
}
