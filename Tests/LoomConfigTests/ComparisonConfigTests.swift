// configs/fashion-mnist-resnet20.yaml, the run config that Loom and
// deploy/bench/pytorch_train.py both train for docs/RESULTS.md ("Loom against PyTorch"):
// it parses, trains the shipped ResNet-20, and its SGDR cycle spans exactly the run.

import Foundation
import LoomConfig
import Testing

@Test func comparisonConfigTrainsResNet20WithOneCycleOverTheRun() throws {
    let config = try ConfigLoader.load(path: TestConfigs.path("configs/fashion-mnist-resnet20.yaml"))
    // ResNet-20: a stem conv, nine basic blocks (3 stages of 3), then the pooled 64 features.
    #expect(config.model.layers.first?.name == "conv1")
    #expect(config.model.layers.filter { $0.kind == .residual }.count == 9)
    #expect(config.heads.map(\.layer) == ["fc"])
    #expect(config.training.batchSize % config.training.microBatch == 0)
    // Fashion-MNIST's 60,000 training images, no hold-out, the last partial batch dropped.
    #expect(config.data.validationFraction == 0)
    let stepsPerEpoch = 60_000 / config.training.batchSize
    #expect(config.schedule.kind == .sgdr && config.schedule.unit == .step)
    #expect(config.schedule.t0 == Double(config.training.epochs * stepsPerEpoch))
    #expect(config.data.augment.cropPadding == 2 && config.data.augment.hflip)
    #expect(config.optimizer.kind == .sgd && config.optimizer.nesterov && config.optimizer.noDecayOnBiasAndNorm)
}
