// data.augment.plain_last_epochs: the last k epochs train on plain images, the others are
// augmented as before, and the switch is a function of the epoch alone.

import Foundation
import LoomCheckpoint
import LoomTraining
import Testing

extension TrainingRunTests {
    /// Runs the tiny 2-epoch config with `extra` overrides in its own directory and returns
    /// the final weights' bit patterns.
    func finalWeights(_ dir: URL, _ name: String, _ extra: [String]) throws -> [[UInt32]] {
        let run = try makeRun(dir, ["checkpoint.dir=\(dir.path)/\(name)"] + extra)
        _ = try run.run(executor: LocalExecutor(problem: run.problem, dataset: run.dataset), control: RunControl())
        return try CheckpointReader.read(run.directory.latestPath).model.map { $0.values.map(\.bitPattern) }
    }

    @Test func theLastEpochsTrainOnPlainImages() throws {
        let dir = try fresh()
        let probe = try makeRun(dir, ["data.augment.plain_last_epochs=1"])
        #expect(probe.problem.augments(epoch: 0) && !probe.problem.augments(epoch: 1))
        let steps = probe.state.stepsPerEpoch

        let augmented = try finalWeights(dir, "augmented", [])
        let plain = try finalWeights(dir, "plain", ["data.augment.crop_padding=0", "data.augment.hflip=false"])
        let allPlain = try finalWeights(dir, "all-plain", ["data.augment.plain_last_epochs=2"])
        let lastPlain = try finalWeights(dir, "last-plain", ["data.augment.plain_last_epochs=1"])
        #expect(augmented != plain, "the augmentation changes the weights at all")
        #expect(allPlain == plain, "plain_last_epochs = epochs is a run without augmentation")
        #expect(lastPlain != augmented && lastPlain != plain)

        // The first epoch is still augmented: stopped at its end, the two runs agree bitwise.
        let firstAugmented = try finalWeights(dir, "first-augmented", ["training.max_steps=\(steps)"])
        let firstLastPlain = try finalWeights(dir, "first-last-plain",
                                              ["training.max_steps=\(steps)", "data.augment.plain_last_epochs=1"])
        #expect(firstLastPlain == firstAugmented)
    }
}
