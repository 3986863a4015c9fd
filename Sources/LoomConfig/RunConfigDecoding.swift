// The whole tree into a `RunConfig`, then the checks that span sections.

import Yams

extension RunConfig {
    static let sectionKeys = ["name", "data", "model", "heads", "loss", "optimizer", "schedule", "training",
                              "cluster", "checkpoint", "calibration"]

    /// Decodes and validates the (already included and overridden) tree.
    init(tree: ConfigTree, defaultName: String) throws(ConfigError) {
        let values = ValueReader(tree: tree)
        let r = try values.mapping(tree.root, [])
        try r.checkKeys(Self.sectionKeys)
        let name = try r.string("name", defaultName)
        if name.contains("/") || name == "." || name == ".." {
            throw r.error("name", "'name' must not contain '/' or be '.' or '..' (it names runs/<name>), got '\(name)'")
        }
        let model = try ModelConfig(reading: try values.mapping(try r.required("model"), ["model"]))
        let loss = try r.section("loss").map { (l) throws(ConfigError) in try LossConfig(reading: l) } ?? LossConfig()
        var heads = HeadConfig.defaultHeads
        if let headsNode = r.node("heads") {
            heads = []
            for (item, path) in try values.list(headsNode, ["heads"]) {
                heads.append(try HeadConfig(reading: try values.mapping(item, path), defaultLoss: loss))
            }
            if heads.isEmpty { throw r.error("heads", "'heads' must list at least one head") }
        }
        self.init(name: name,
                  data: try r.section("data").map { (s) throws(ConfigError) in try DataConfig(reading: s) } ?? DataConfig(),
                  model: model, heads: heads, loss: loss)
        if let s = try r.section("optimizer") { optimizer = try OptimizerConfig(reading: s) }
        if let s = try r.section("schedule") { schedule = try ScheduleConfig(reading: s) }
        if let s = try r.section("training") { training = try TrainingConfig(reading: s) }
        if let s = try r.section("cluster") { cluster = try ClusterConfig(reading: s) }
        if let s = try r.section("checkpoint") { checkpoint = try CheckpointConfig(reading: s) }
        if let s = try r.section("calibration") { calibration = try CalibrationConfig(reading: s) }
        try checkAcrossSections(tree)
        try checkMonitors(tree)
    }

    /// Rules that relate keys of different sections (or different list items).
    private func checkAcrossSections(_ tree: ConfigTree) throws(ConfigError) {
        let at = { (path: KeyPath) -> Node? in tree.node(at: path) }

        var headNames = Set<String>()
        for (i, head) in heads.enumerated() where !headNames.insert(head.name).inserted {
            let path: KeyPath = ["heads", String(i), "name"]
            throw tree.error(path, at(path), "head name '\(head.name)' is used twice in 'heads'")
        }

        // Every parameter name must be unique: they are state_dict keys and checkpoint paths.
        var layerNames = Set<String>()
        func visit(_ layers: [LayerConfig], _ path: KeyPath) throws(ConfigError) {
            for (i, layer) in layers.enumerated() {
                let layerPath = path + [String(i)]
                if !layer.name.isEmpty && !layerNames.insert(layer.name).inserted {
                    throw tree.error(layerPath + ["name"], at(layerPath + ["name"]),
                                     "layer name '\(layer.name)' is used twice")
                }
                try visit(layer.block, layerPath + ["block"])
            }
        }
        try visit(model.layers, ["model", "layers"])
        for (i, head) in heads.enumerated() where !layerNames.insert(head.layer).inserted {
            let path: KeyPath = ["heads", String(i), "layer"]
            throw tree.error(path, at(path) ?? at(["heads", String(i)]),
                             "'heads.\(i).layer' '\(head.layer)' is already the name of a layer")
        }

        if !data.mean.isEmpty && data.mean.count != model.input[0] {
            throw tree.error(["data", "mean"], at(["data", "mean"]),
                             "'data.mean' has \(data.mean.count) values but model.input has \(model.input[0]) channels")
        }
        if data.augment.plainLastEpochs > training.epochs {
            let path: KeyPath = ["data", "augment", "plain_last_epochs"]
            throw tree.error(path, at(path), "'data.augment.plain_last_epochs' is \(data.augment.plainLastEpochs),"
                             + " more than the run's \(training.epochs) epochs (training.epochs)")
        }
        if training.testTTA && data.tta.isEmpty {
            let path: KeyPath = ["training", "test_tta"]
            throw tree.error(path, at(path), "'training.test_tta' is true but 'data.tta' lists no views"
                             + " (e.g. data.tta: [identity, hflip])")
        }
        if let oversample = data.oversample, !headNames.contains(oversample.head) {
            throw tree.error(["data", "oversample", "head"], at(["data", "oversample", "head"]),
                             "'data.oversample.head' '\(oversample.head)' is not a head"
                             + " (heads: \(heads.map(\.name).joined(separator: ", ")))")
        }
        // Oversampling rebalances the classes of one label per sample; a multilabel sample
        // has any number of labels, so there is no class to draw it by.
        if let oversample = data.oversample, heads.first(where: { $0.name == oversample.head })?.kind == .multilabel {
            throw tree.error(["data", "oversample", "head"], at(["data", "oversample", "head"]),
                             "'data.oversample.head' '\(oversample.head)' is a multilabel head: oversampling needs one"
                             + " class per sample (a softmax or binary head); use loss.pos_weight or a focal loss instead")
        }
        for (i, head) in heads.enumerated() where head.kind == .multilabel {
            let path: KeyPath = ["heads", String(i), "loss", "class_weights"]
            if at(path) != nil {
                throw tree.error(path, at(path), "'heads.\(i).loss.class_weights': head '\(head.name)' is multilabel,"
                                 + " class weights apply to softmax heads; weigh positives with 'pos_weight' instead")
            }
        }
        for (i, head) in heads.enumerated() where head.classes > 0 {
            let effective = head.loss ?? loss
            let lossPath: KeyPath = head.loss == nil ? ["loss"] : ["heads", String(i), "loss"]
            // Multilabel heads ignore class weights inherited from the top-level loss.
            if case .given(let weights) = effective.classWeights, weights.count != head.classes, head.kind != .multilabel {
                throw tree.error(lossPath + ["class_weights"], at(lossPath + ["class_weights"]),
                                 "'\(lossPath.dotted).class_weights' has \(weights.count) weights but head"
                                 + " '\(head.name)' has \(head.classes) classes")
            }
            if !effective.alphaPerClass.isEmpty && effective.alphaPerClass.count != head.classes {
                throw tree.error(lossPath + ["alpha"], at(lossPath + ["alpha"]),
                                 "'\(lossPath.dotted).alpha' has \(effective.alphaPerClass.count) values but head"
                                 + " '\(head.name)' has \(head.classes) classes")
            }
        }
    }
}

extension ConfigTree {
    /// The node at a key path, nil if any step is missing.
    func node(at path: KeyPath) -> Node? {
        var node: Node? = root
        for key in path {
            switch node {
            case .some(.mapping(let mapping)): node = mapping.value(key)
            case .some(.sequence(let sequence)):
                guard let i = Int(key), i >= 0, i < sequence.count else { return nil }
                node = sequence[i]
            default: return nil
            }
        }
        return node
    }

    /// The effective config as YAML text, `name` first so that re-parsing needs no file name.
    func effectiveYAML(name: String) throws(ConfigError) -> String {
        guard case .mapping(let mapping) = root else { return "" }
        let rest = mapping.filter { $0.key.scalar?.string != "name" }.map { ($0.key, $0.value) }
        let named = Node.Mapping([(Node("name"), Node(name))] + rest, mapping.tag, .block, mapping.mark)
        do {
            return try Yams.serialize(node: .mapping(named))
        } catch {
            throw ConfigError(source: origin(of: []).source, line: nil, keyPath: "",
                              message: "cannot write the effective config as YAML: \(error)")
        }
    }
}
