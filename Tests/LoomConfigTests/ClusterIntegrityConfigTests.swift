// `cluster.step_deadline_ms`, `cluster.step_deadline_floor_ms` and `cluster.audit`: their
// defaults and their bounds.

import LoomConfig
import Testing

@Test func theAuditIsOnAndTheDeadlineAutomaticByDefault() throws {
    let cluster = try TestConfigs.parse(TestConfigs.minimal).cluster
    #expect(cluster.audit == 0.02 && cluster.stepDeadlineMs == 0 && cluster.stepDeadlineFloorMs == 10_000)
    let set = try TestConfigs.parse(TestConfigs.minimal + "\ncluster: {audit: 0, step_deadline_ms: 2500, step_deadline_floor_ms: 500}").cluster
    #expect(set.audit == 0 && set.stepDeadlineMs == 2500 && set.stepDeadlineFloorMs == 500)
}

@Test func anAuditRateOutsideZeroToOneIsAnError() throws {
    let error = try #require(TestConfigs.error(TestConfigs.minimal + "\ncluster:\n  audit: 1.5"))
    #expect(error.description == "test.yaml:13: 'cluster.audit' must be a number in [0, 1], got '1.5'")
}

@Test func aNegativeDeadlineOrAZeroFloorIsAnError() throws {
    let negative = try #require(TestConfigs.error(TestConfigs.minimal + "\ncluster:\n  step_deadline_ms: -1"))
    #expect(negative.description.contains("'cluster.step_deadline_ms' must be"))
    let zero = try #require(TestConfigs.error(TestConfigs.minimal + "\ncluster:\n  step_deadline_floor_ms: 0"))
    #expect(zero.description.contains("'cluster.step_deadline_floor_ms' must be a positive integer"))
}
