// `loss:` (the default loss) and `heads[i].loss` (a head's own, starting from the default).

import Yams

extension LossConfig {
    static let keys = ["kind", "label_smoothing", "class_weights", "gamma", "alpha", "pos_weight"]

    /// Reads the keys present in `r` over `base`: a head's `loss` only states what differs.
    init(reading r: SectionReader, base: LossConfig = LossConfig()) throws(ConfigError) {
        self = base
        try r.checkKeys(Self.keys)
        kind = try r.choice("kind", kind)
        labelSmoothing = try r.double("label_smoothing", labelSmoothing, .fraction)
        gamma = try r.double("gamma", gamma, .nonNegative)
        posWeight = try r.doubles("pos_weight", posWeight, .positive)
        if let node = r.node("class_weights") {
            classWeights = try Self.classWeights(node, r.path + ["class_weights"], r.values)
        }
        if let node = r.node("alpha") {
            let path = r.path + ["alpha"]
            if case .sequence = node {
                alpha = nil
                alphaPerClass = try r.doubles("alpha", [], .nonNegative)
            } else {
                alpha = try r.values.double(node, path, .unit)
                alphaPerClass = []
            }
        }
    }

    /// `[w0, w1, ...]`, `none`, `inverse_frequency`, `effective_number` (beta 0.999) or
    /// `{effective_number: beta}`.
    static func classWeights(_ node: Node, _ path: KeyPath,
                             _ values: ValueReader) throws(ConfigError) -> ClassWeights {
        let expected = "a list of weights, none, inverse_frequency, effective_number"
            + " or {effective_number: beta}"
        switch node {
        case .sequence:
            var weights: [Double] = []
            for (item, itemPath) in try values.list(node, path) {
                weights.append(try values.double(item, itemPath, .nonNegative))
            }
            return .given(weights)
        case .mapping:
            let r = try values.mapping(node, path)
            try r.checkKeys(["effective_number"])
            return .effectiveNumber(beta: try r.double("effective_number", 0.999, .fraction))
        case .scalar(let scalar):
            switch scalar.string {
            case "none": return ClassWeights.none
            case "inverse_frequency": return .inverseFrequency
            case "effective_number": return .effectiveNumber(beta: 0.999)
            default: throw values.fail(path, node, expected)
            }
        }
    }
}
