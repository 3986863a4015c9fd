// A config may hold any positive finite `step_size` or `t_0`, 1e-320 too: the number of
// decays or restarts then passes Int's range. It saturates; it used to be Int(inf), a trap
// in a checked build and Int.min (an infinite learning rate) in `-Ounchecked` LoomTraining.
import Foundation
import LoomConfig
import LoomTraining
import Testing

@Suite struct ScheduleBoundsTests {
    @Test(arguments: [ScheduleConfig.Kind.step, .sgdr])
    func aTinyPeriodGivesAFiniteRateAndACountThatSaturates(kind: ScheduleConfig.Kind) throws {
        var c = ScheduleConfig()
        c.kind = kind
        c.unit = .epoch
        c.stepSize = 1e-320
        c.t0 = 1e-320
        c.tMult = 1
        c.gamma = 0.1
        let schedule = try LRSchedule(config: c, baseLR: 0.05, stepsPerEpoch: 100, totalSteps: 1000)
        for step in [1, 7, 999] {
            let p = schedule.position(atStep: step)
            #expect(p.lr.isFinite && p.lr >= 0, "step \(step): lr \(p.lr)")
            #expect(p.restarts == Int.max, "step \(step): \(p.restarts) decays or restarts")
        }
    }
}
