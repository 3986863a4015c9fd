// LR schedules: PyTorch's CosineAnnealingWarmRestarts series (schedules.h5), and warmup,
// step decay and cosine at hand-computed points.

import Foundation
import LoomConfig
import LoomTraining
import Testing

struct ScheduleTests {
    @Test func sgdrMatchesEveryPyTorchSeries() throws {
        let f = try FixtureFile("schedules.h5")
        let cases = try f.children(".")
        #expect(cases.count == 4)
        for name in cases {
            let t0 = try #require(try f.int("T_0", on: name))
            let tMult = try #require(try f.int("T_mult", on: name))
            let etaMin = try #require(try f.double("eta_min", on: name))
            let baseLR = try #require(try f.double("base_lr", on: name))
            let stepsPerUnit = try #require(try f.int("steps_per_unit", on: name))
            let expected = try f.doubles("\(name)/lr")
            var c = ScheduleConfig()
            c.kind = .sgdr; c.unit = .epoch
            c.t0 = Double(t0); c.tMult = tMult; c.etaMin = etaMin
            let schedule = try LRSchedule(config: c, baseLR: baseLR, stepsPerEpoch: stepsPerUnit,
                                          totalSteps: expected.count)
            var bad = 0, first = -1
            for (i, e) in expected.enumerated() where !isClose(schedule.lr(atStep: i), e, rtol: 1e-6, atol: 1e-12) {
                bad += 1
                if first < 0 { first = i }
            }
            #expect(bad == 0, "\(name): \(bad) of \(expected.count) steps differ, first at \(first): \(first >= 0 ? schedule.lr(atStep: first) : 0) vs \(first >= 0 ? expected[first] : 0)")
        }
    }

    @Test func sgdrPositionCountsRestartsAndCycleLength() throws {
        var c = ScheduleConfig()
        c.kind = .sgdr; c.unit = .epoch; c.t0 = 10; c.tMult = 2
        let schedule = try LRSchedule(config: c, baseLR: 0.1, stepsPerEpoch: 4, totalSteps: 1000)
        // Epoch 35 = 10 + 20 + 5: third cycle (T_i = 40), 5 epochs in.
        let p = schedule.position(atStep: 35 * 4)
        #expect(p.epoch == 35 && p.restarts == 2 && p.tI == 40 && p.tCur == 5)
        #expect(isClose(p.lr, 0.05 * (1 + cos(Double.pi * 5 / 40)), rtol: 1e-12))
    }

    @Test func warmupRisesLinearlyFromTheStartFactor() throws {
        var c = ScheduleConfig()
        c.kind = .constant; c.unit = .step; c.warmup = 10; c.warmupStartFactor = 0.1
        let schedule = try LRSchedule(config: c, baseLR: 1, stepsPerEpoch: 100, totalSteps: 100)
        #expect(isClose(schedule.lr(atStep: 0), 0.1, rtol: 1e-12))
        #expect(isClose(schedule.lr(atStep: 5), 0.55, rtol: 1e-12))
        #expect(schedule.position(atStep: 9).inWarmup)
        #expect(schedule.lr(atStep: 10) == 1 && !schedule.position(atStep: 10).inWarmup)
    }

    @Test func stepDecayCountsItsPeriodsFromTheEndOfWarmup() throws {
        var c = ScheduleConfig()
        c.kind = .step; c.unit = .epoch; c.stepSize = 3; c.gamma = 0.1; c.warmup = 2
        let schedule = try LRSchedule(config: c, baseLR: 0.5, stepsPerEpoch: 10, totalSteps: 200)
        #expect(schedule.lr(atStep: 20) == 0.5)         // epoch 2: warmup just ended
        #expect(schedule.lr(atStep: 49) == 0.5)         // epoch 4.9: 2.9 units after warmup
        #expect(isClose(schedule.lr(atStep: 50), 0.05, rtol: 1e-12))   // epoch 5: first decay
        #expect(isClose(schedule.lr(atStep: 80), 0.005, rtol: 1e-12))  // epoch 8: second decay
    }

    @Test func cosineWithoutTMaxSpansTheRunAfterWarmup() throws {
        var c = ScheduleConfig()
        c.kind = .cosine; c.unit = .step; c.warmup = 10; c.etaMin = 0.01
        let schedule = try LRSchedule(config: c, baseLR: 1, stepsPerEpoch: 50, totalSteps: 110)
        #expect(schedule.lr(atStep: 10) == 1)
        #expect(isClose(schedule.lr(atStep: 60), 0.505, rtol: 1e-12))   // half way: (1 + 0.01) / 2
        #expect(isClose(schedule.lr(atStep: 110), 0.01, rtol: 1e-12))
        #expect(isClose(schedule.lr(atStep: 500), 0.01, rtol: 1e-12))   // clamped after the period
    }

    @Test func linearScalingRuleScalesByBatchOverReference() {
        var c = OptimizerConfig()
        c.lr = 0.1; c.referenceBatch = 256
        #expect(isClose(LRSchedule.effectiveBaseLR(config: c, batchSize: 1024), 0.4, rtol: 1e-15))
        c.referenceBatch = 0
        #expect(LRSchedule.effectiveBaseLR(config: c, batchSize: 1024) == 0.1)
    }

    @Test func invalidPeriodsAreRejectedWithTheKeyName() {
        var c = ScheduleConfig()
        c.kind = .sgdr; c.t0 = 0
        #expect { _ = try LRSchedule(config: c, baseLR: 0.1, stepsPerEpoch: 10, totalSteps: 100) } throws: {
            "\($0)".contains("t_0")
        }
    }
}
