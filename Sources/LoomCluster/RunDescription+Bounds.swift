// The welcome's run description comes from the network: every number in it is checked
// against the limits a config has (LoomConfig's `ConfigLimits`) before a worker multiplies
// or allocates with it (docs/PROTOCOL.md, "Welcome").

import LoomConfig

extension RunDescription {
    /// The first field out of bounds, named by its JSON path, or nil when all are in.
    func boundsViolation() -> String? {
        for (name, side) in [("imageHeight", imageHeight), ("imageWidth", imageWidth), ("imageChannels", imageChannels)]
        where side < 1 || side > ConfigLimits.inputSide {
            return "\(name) \(side) is not in 1...\(ConfigLimits.inputSide)"
        }
        // Each side ≤ 2^16, so H·W·C fits in Int; the model bounds it further (ModelLimits).
        if heads.isEmpty { return "heads is empty" }
        for (i, head) in heads.enumerated() {
            if head.classes < 1 || head.classes > ConfigLimits.width {
                return "heads[\(i)].classes \(head.classes) is not in 1...\(ConfigLimits.width)"
            }
            if head.classNames.count > head.classes {
                return "heads[\(i)].classNames has \(head.classNames.count) names for \(head.classes) classes"
            }
            if let weights = head.classWeights {
                if weights.count != head.classes {
                    return "heads[\(i)].classWeights has \(weights.count) weights for \(head.classes) classes"
                }
                if let bad = weights.first(where: { !$0.isFinite || $0 < 0 }) {
                    return "heads[\(i)].classWeights holds \(bad), not a finite weight ≥ 0"
                }
            }
        }
        return nil
    }
}
