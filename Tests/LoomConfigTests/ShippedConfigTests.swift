// The configs in configs/ parse, and the reference model is PyTorch's reference CNN.

import Foundation
import LoomConfig
import Testing

@Test(arguments: TestConfigs.shipped)
func shippedConfigParses(_ relative: String) throws {
    let config = try ConfigLoader.load(path: TestConfigs.path(relative))
    #expect(!config.model.layers.isEmpty)
    #expect(config.training.batchSize % config.training.microBatch == 0)
}

@Test func fashionMNISTConfigHasTheAgreedTrainingSetup() throws {
    let config = try ConfigLoader.load(path: TestConfigs.path("configs/fashion-mnist.yaml"))
    #expect(config.name == "fashion-mnist")
    #expect(config.data.path == "data/fashion-mnist.h5")
    #expect(config.data.mean == [0.2860] && config.data.std == [0.3530])
    #expect(config.data.validationFraction == 0)
    #expect(config.optimizer.kind == .sgd && config.optimizer.momentum == 0.9)
    #expect(config.optimizer.weightDecay == 5e-4)
    #expect(config.training.batchSize == 128 && config.training.microBatch == 64)
    #expect(config.checkpoint.everySteps == 500 && config.checkpoint.keep == 3)
    #expect([.cosine, .sgdr].contains(config.schedule.kind))
    // The three-block CNN, 14 epochs of crop 1 and flip, the last two on plain images (93.44%).
    #expect(config.model.layers.filter { $0.kind == .conv2d }.map(\.out) == [32, 64, 128])
    #expect(config.training.epochs == 14 && config.data.augment.plainLastEpochs == 2)
    #expect(config.data.augment.cropPadding == 1 && config.data.augment.hflip)
}

@Test func resNetConfigRunsOneSGDRCycleOverTheWholeRunWithAugmentation() throws {
    // Issue 19's time-to-accuracy config: augmentation and SGDR. Its epoch count is tuned to
    // the 10-minute budget, so the cycle (in steps) must be moved with it: one cycle that
    // ends at eta_min exactly at the last step, not a restart a few epochs before the end.
    let config = try ConfigLoader.load(path: TestConfigs.path("configs/fashion-mnist-resnet.yaml"))
    #expect(config.model.layers.contains { $0.kind == .residual })
    #expect(config.data.validationFraction == 0)
    let stepsPerEpoch = 60_000 / config.training.batchSize
    #expect(config.schedule.kind == .sgdr && config.schedule.unit == .step)
    #expect(config.schedule.t0 == Double(config.training.epochs * stepsPerEpoch))
    #expect(config.schedule.tMult == 1 && config.schedule.etaMin == 0)
    #expect(config.data.augment.cropPadding > 0 && config.data.augment.hflip)
    #expect(config.data.augment.plainLastEpochs < config.training.epochs)
    #expect(config.training.batchSize % config.training.microBatch == 0)
    // The run prints its test accuracy over the mirrored view too, the figure `loom eval --tta` gives.
    #expect(config.training.testTTA && config.data.tta == ["identity", "hflip"])
}

@Test func smokeConfigIsATwentyStepRun() throws {
    let config = try ConfigLoader.load(path: TestConfigs.path("configs/smoke.yaml"))
    #expect(config.training.maxSteps == 20)
    #expect(config.training.batchSize == 64 && config.training.microBatch == 16)
}

@Test func runNameDefaultsToTheFileBaseName() throws {
    let config = try ConfigLoader.parse(yaml: TestConfigs.minimal.replacingOccurrences(of: "name: tiny\n", with: ""),
                                        source: "configs/my-run.yaml", defaultName: "my-run")
    #expect(config.name == "my-run")
    #expect(config.runDirectory == "runs/my-run")
}

@Test func mlpModelFileIsAccepted() throws {
    let config = try ConfigLoader.load(path: TestConfigs.path("configs/smoke.yaml"),
                                       overrides: ["model.file=models/mlp.yaml"])
    #expect(config.model.layers.map(\.name).filter { !$0.isEmpty } == ["l1", "l2"])
    #expect(config.heads.map(\.layer) == ["l3"])
}
