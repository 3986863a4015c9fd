// `heads:` — the output heads on top of the trunk, each with its dataset attribute and loss.

extension HeadConfig {
    static let keys = ["name", "kind", "attribute", "classes", "layer", "hidden", "loss_weight", "loss"]

    /// The head used when a config has no `heads`: softmax over the dataset's `category`
    /// attribute, class count from the dataset, output layer `head.category`.
    static var defaultHeads: [HeadConfig] { [HeadConfig(name: "category", kind: .softmax)] }

    init(reading r: SectionReader, defaultLoss: LossConfig) throws(ConfigError) {
        try r.checkKeys(Self.keys)
        let name = try r.values.string(try r.required("name"), r.path + ["name"])
        self.init(name: name, kind: try r.choice("kind", Kind.softmax))
        line = r.node.mark?.line ?? 0
        attribute = try r.string("attribute", name)
        layer = try r.string("layer", "head.\(name)")
        classes = try r.int("classes", 0, .nonNegative, limit: ConfigLimits.width)
        if kind == .binary && classes > 1 {
            throw r.error("classes", "'\(r.path.dotted).classes' must be 1 (or 0) for a binary head, got \(classes)")
        }
        if kind == .softmax && classes == 1 {
            throw r.error("classes", "'\(r.path.dotted).classes' must be at least 2 for a softmax head (or 0 = from the dataset)")
        }
        hidden = try r.ints("hidden", [], .positive, limit: ConfigLimits.width)
        lossWeight = try r.double("loss_weight", lossWeight, .nonNegative)
        if let l = try r.section("loss") { loss = try LossConfig(reading: l, base: defaultLoss) }
    }
}
