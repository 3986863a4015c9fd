// `data:` — dataset file, splits, normalisation, augmentation, oversampling, TTA.

/// Test-time augmentation transforms the evaluator knows.
let allowedTTA = ["identity", "hflip", "crop"]

extension DataConfig {
    static let keys = ["path", "train_split", "test_split", "validation_fraction", "mean", "std",
                       "augment", "oversample", "tta"]

    init(reading r: SectionReader) throws(ConfigError) {
        self.init()
        try r.checkKeys(Self.keys)
        path = try r.string("path", path)
        trainSplit = try r.string("train_split", trainSplit)
        testSplit = try r.string("test_split", testSplit)
        validationFraction = try r.double("validation_fraction", validationFraction, .fraction)
        mean = try r.doubles("mean", mean)
        std = try r.doubles("std", std, .positive)
        if mean.count != std.count {
            throw r.error("std", "'data.mean' has \(mean.count) values but 'data.std' has \(std.count):"
                          + " give one of each per input channel")
        }
        if let a = try r.section("augment") { augment = try AugmentConfig(reading: a) }
        if let o = try r.section("oversample") { oversample = try OversampleConfig(reading: o) }
        tta = try r.strings("tta", tta)
        for (i, name) in tta.enumerated() where !allowedTTA.contains(name) {
            let node = r.node("tta")?.sequence?[i]
            throw r.values.tree.error(r.path + ["tta", String(i)], node,
                                      "'data.tta.\(i)' has unknown value '\(name)'"
                                      + " (allowed: \(allowedTTA.joined(separator: ", ")))")
        }
    }
}

extension AugmentConfig {
    init(reading r: SectionReader) throws(ConfigError) {
        self.init()
        try r.checkKeys(["crop_padding", "hflip", "brightness", "contrast", "erasing", "plain_last_epochs"])
        cropPadding = try r.int("crop_padding", cropPadding, .nonNegative, limit: ConfigLimits.window)
        hflip = try r.bool("hflip", hflip)
        brightness = try r.double("brightness", brightness, .unit)
        contrast = try r.double("contrast", contrast, .fraction)
        if let e = try r.section("erasing") { erasing = try ErasingConfig(reading: e) }
        plainLastEpochs = try r.int("plain_last_epochs", plainLastEpochs, .nonNegative, limit: ConfigLimits.epochs)
    }
}

extension ErasingConfig {
    init(reading r: SectionReader) throws(ConfigError) {
        self.init()
        try r.checkKeys(["p", "scale", "ratio"])
        p = try r.double("p", p, .unit)
        scale = try r.doubles("scale", scale, .positive)
        if scale.count != 2 || scale[0] > scale[1] || scale[1] > 1 {
            throw r.error("scale", "'\(r.path.dotted).scale' must be [min, max] with 0 < min <= max <= 1, got \(scale)")
        }
        ratio = try r.doubles("ratio", ratio, .positive)
        if ratio.count != 2 || ratio[0] > ratio[1] {
            throw r.error("ratio", "'\(r.path.dotted).ratio' must be [min, max] with 0 < min <= max, got \(ratio)")
        }
    }
}

extension OversampleConfig {
    init(reading r: SectionReader) throws(ConfigError) {
        try r.checkKeys(["head", "target"])
        self.init(head: try r.values.string(try r.required("head"), r.path + ["head"]),
                  target: try r.choice("target", Target.uniform))
    }
}
