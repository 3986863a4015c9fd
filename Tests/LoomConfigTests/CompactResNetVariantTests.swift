// The two variants of the compact ResNet (configs/models/resnet-compact-{wide,lite}.yaml)
// load into the ResNet run config and have the shape their header comments describe.

import LoomConfig
import Testing

@Test(arguments: [("models/resnet-compact-wide.yaml", 192), ("models/resnet-compact-lite.yaml", 128)])
func compactResNetVariantEndsInAFlattenedLinearLayer(_ file: String, _ lastWidth: Int) throws {
    let config = try ConfigLoader.load(path: TestConfigs.path("configs/fashion-mnist-resnet.yaml"),
                                       overrides: ["model.file=\(file)"])
    let layers = config.model.layers
    let blocks = layers.filter { $0.kind == .residual }
    // layer1.0, layer2.0 and layer3.0: no second 7x7 block.
    #expect(blocks.count == 3)
    #expect(blocks.last?.block.first?.out == lastWidth)
    #expect(!layers.contains { $0.kind == .globalavgpool })
    #expect(layers.suffix(3).map(\.kind) == [.flatten, .linear, .relu])
    #expect(layers.suffix(2).first?.out == 256 && layers.suffix(2).first?.name == "fc1")
    #expect(config.heads.map(\.layer) == ["fc"])
}
