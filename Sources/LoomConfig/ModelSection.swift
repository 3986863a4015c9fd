// `model:` — input shape and the trunk's layer list (after `model.file` was included).

import Yams

extension ModelConfig {
    init(reading r: SectionReader) throws(ConfigError) {
        self.init()
        try r.checkKeys(["input", "layers", "convolution"])
        convolution = try r.choice("convolution", convolution)
        input = try r.ints("input", input, .positive, limit: ConfigLimits.inputSide)
        if input.count != 3 {
            throw r.error("input", "'model.input' must be [C, H, W] (3 positive integers), got \(input.count) values")
        }
        let layersNode = try r.required("layers")
        layers = try LayerConfig.list(layersNode, r.path + ["layers"], r.values)
        if layers.isEmpty { throw r.error("layers", "'model.layers' must list at least one layer") }
    }
}

extension LayerConfig {
    /// Keys each kind accepts besides `kind` and `name`: a key that a layer would ignore is a mistake.
    static func keys(for kind: Kind) -> [String] {
        switch kind {
        case .conv2d: return ["out", "kernel", "stride", "padding", "bias"]
        case .linear: return ["out", "bias"]
        case .batchnorm2d, .batchnorm1d: return ["momentum", "eps", "gamma_init"]
        case .maxpool2d, .avgpool2d: return ["kernel", "stride", "padding"]
        case .dropout: return ["p"]
        case .residual: return ["block", "shortcut"]
        case .depthwise2d: return ["kernel", "stride", "padding", "bias"]
        case .squeeze_excite: return ["squeeze", "activation"]
        case .concat: return ["branches"]
        case .relu, .silu, .globalavgpool, .flatten: return []
        }
    }

    /// Kinds with parameters need a name: it is their state_dict prefix.
    var hasParameters: Bool { [.conv2d, .linear, .batchnorm2d, .batchnorm1d, .depthwise2d, .squeeze_excite].contains(kind) }

    static func list(_ node: Node, _ path: KeyPath, _ values: ValueReader) throws(ConfigError) -> [LayerConfig] {
        var layers: [LayerConfig] = []
        for (item, itemPath) in try values.list(node, path) {
            layers.append(try LayerConfig(reading: try values.mapping(item, itemPath)))
        }
        return layers
    }

    init(reading r: SectionReader) throws(ConfigError) {
        let kind = try r.values.choice(try r.required("kind"), r.path + ["kind"], as: Kind.self)
        self.init(kind: kind)
        try r.checkKeys(["kind", "name"] + Self.keys(for: kind))
        line = r.node.mark?.line ?? 0
        name = try r.string("name", "")
        if hasParameters && name.isEmpty {
            throw r.error("name", "'\(r.path.dotted).name' is required for a \(kind.rawValue) layer"
                          + " (it names its parameters, e.g. '<name>.weight')")
        }
        switch kind {
        case .conv2d, .linear:
            out = try r.values.int(try r.required("out"), r.path + ["out"], .positive, limit: ConfigLimits.width)
            bias = try r.bool("bias", bias)
            if kind == .conv2d {
                kernel = try r.int("kernel", 3, .positive, limit: ConfigLimits.window)
                stride = try r.int("stride", 1, .positive, limit: ConfigLimits.window)
                padding = try r.int("padding", 0, .nonNegative, limit: ConfigLimits.window)
            }
        case .maxpool2d, .avgpool2d:
            // PyTorch's pooling: kernel 2 by default here, stride defaults to the kernel.
            kernel = try r.int("kernel", 2, .positive, limit: ConfigLimits.window)
            stride = try r.int("stride", kernel, .positive, limit: ConfigLimits.window)
            padding = try r.int("padding", 0, .nonNegative, limit: ConfigLimits.window)
            if padding * 2 > kernel {
                throw r.error("padding", "'\(r.path.dotted).padding' (\(padding)) must be at most half"
                              + " of the kernel (\(kernel))")
            }
        case .batchnorm2d, .batchnorm1d:
            momentum = try r.double("momentum", momentum, .unit)
            eps = try r.double("eps", eps, .positive)
            gammaInit = try r.double("gamma_init", gammaInit, .nonNegative)
        case .dropout:
            p = try r.double("p", p, .fraction)
        case .residual:
            block = try LayerConfig.list(try r.required("block"), r.path + ["block"], r.values)
            if block.isEmpty { throw r.error("block", "'\(r.path.dotted).block' must list at least one layer") }
            if let node = r.node("shortcut") {
                shortcut = try LayerConfig.list(node, r.path + ["shortcut"], r.values)
            }
        case .depthwise2d:
            kernel = try r.int("kernel", 3, .positive, limit: ConfigLimits.window)
            stride = try r.int("stride", 1, .positive, limit: ConfigLimits.window)
            padding = try r.int("padding", 0, .nonNegative, limit: ConfigLimits.window)
            bias = try r.bool("bias", bias)
        case .squeeze_excite:
            squeeze = try r.values.int(try r.required("squeeze"), r.path + ["squeeze"], .positive, limit: ConfigLimits.width)
            activation = try r.choice("activation", activation)
        case .concat:
            let branchesPath = r.path + ["branches"]
            for (item, itemPath) in try r.values.list(try r.required("branches"), branchesPath) {
                let branch = try LayerConfig.list(item, itemPath, r.values)
                if branch.isEmpty { throw r.error("branches", "'\(itemPath.dotted)' must list at least one layer") }
                branches.append(branch)
            }
            if branches.count < 2 { throw r.error("branches", "'\(branchesPath.dotted)' must list at least two branches") }
        case .relu, .silu, .globalavgpool, .flatten:
            break
        }
    }
}
