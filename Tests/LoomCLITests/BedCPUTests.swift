// What `loom bench --hosts` says of the machine's other work: the machine's busy CPU less
// the bed's processes' (BedCPU), read from /proc.

import Foundation
import LoomBench
import LoomKernels
import Testing

struct BedCPUTests {
    @Test func otherWorkIsTheMachinesBusyTimeLessTheBeds() {
        var before = BedCPU(), after = BedCPU()
        before.seconds = ["coordinator": 1, "server": 2, "worker": 3]
        after.seconds = ["coordinator": 1.5, "server": 4, "worker": 6]
        before.machineSeconds = 100
        after.machineSeconds = 108
        let run = after - before
        #expect(run.machineSeconds == 8)
        #expect(run.othersSeconds == 2.5)   // 8 less 0.5 + 2 + 3
        // Ticks counted apart can put the bed a little above the machine: no negative work.
        after.machineSeconds = 105
        #expect((after - before).othersSeconds == 0)
        // Without /proc/stat on either side there is nothing to say.
        after.machineSeconds = nil
        #expect((after - before).othersSeconds == nil)
    }

    @Test func procStatGivesTheBusyTicksWithoutIdleIOWaitOrStealAndTheCores() {
        let text = """
            cpu  1000 20 300 50000 40 5 6 700 0 0
            cpu0 500 10 150 25000 20 3 3 350 0 0
            cpu1 500 10 150 25000 20 2 3 350 0 0
            intr 12345 0 0
            ctxt 999
            """
        let stat = BedCPU.machine(stat: text)
        #expect(stat?.busyTicks == 1000 + 20 + 300 + 5 + 6)
        #expect(stat?.cores == 2)
        // Not the kernel's form: nothing is said.
        #expect(BedCPU.machine(stat: "intr 1 2 3") == nil)
        #expect(BedCPU.machine(stat: "cpu  1 2 3") == nil)
    }

    @Test func theMachinesBusyTimeCountsThisProcesssWork() {
        let before = BedCPU.read(marker: "no bed process has this marker \(UUID())")
        // A fifth of a second of this thread's CPU (however busy the machine), far above the
        // 10 ms of a clock tick.
        var x: UInt64 = 1
        let clock = ThreadClock()
        while clock.seconds < 0.2 { for _ in 0..<10_000 { x = x &* 6364136223846793005 &+ 1442695040888963407 } }
        let after = BedCPU.read(marker: "no bed process has this marker \(UUID())")
        let run = after - before
        #expect(x != 0)
        #expect(run.processes == ["coordinator": 1])
        #expect((run.seconds["coordinator"] ?? 0) > 0)
        #expect((run.machineSeconds ?? 0) > 0)
        #expect((run.machineCores ?? 0) >= 1)
    }
}
