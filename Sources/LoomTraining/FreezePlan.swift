// Which layers the optimizer leaves alone, and until when: `training.freeze` (named layers
// or `trunk`) for `training.freeze_epochs` epochs (0 = the whole run). Frozen is a function
// of the step alone, so a resumed run freezes and unfreezes at the same step as an
// uninterrupted one, and the workers (who only compute gradients) need not know.

import LoomConfig
import LoomModel

public struct FreezePlan: Sendable {
    /// Layer names (state_dict prefixes) frozen at the start of the run.
    public let layers: Set<String>
    /// The first step that trains them; nil when nothing is frozen, `Int.max` when they
    /// stay frozen for the whole run.
    public let unfreezeStep: Int?
    /// Layers frozen for the whole run whatever the config says (the library's
    /// `frozenLayers:` argument).
    private let always: Set<String>

    /// - Parameter alwaysFrozen: layers frozen for the whole run besides the config's.
    init(config: TrainingConfig, stepsPerEpoch: Int, model: Model, alwaysFrozen: Set<String>) throws(TrainingError) {
        let views = model.parameters.views
        let layerNames = Set(views.map { TrainingState.layerName(of: $0.name) })
        let named: Set<String>
        switch config.freeze {
        case .trunk: named = Set(views.filter { !$0.isHead }.map { TrainingState.layerName(of: $0.name) })
        case .layers(let list): named = Set(list)
        }
        for (source, set) in [("training.freeze", named), ("--freeze", alwaysFrozen)] {
            if let unknown = set.subtracting(layerNames).sorted().first {
                throw .configDoesNotFit("\(source): cannot freeze '\(unknown)': the model has no such layer (layers: \(layerNames.sorted().joined(separator: ", ")))")
            }
        }
        layers = named.union(alwaysFrozen)
        always = alwaysFrozen
        if layers.isEmpty {
            unfreezeStep = nil
        } else if config.freezeEpochs > 0 && !named.isEmpty {
            let (product, overflow) = config.freezeEpochs.multipliedReportingOverflow(by: stepsPerEpoch)
            unfreezeStep = overflow ? Int.max : product
        } else {
            unfreezeStep = Int.max
        }
    }

    /// The first step that updates `layer`'s parameters (0: not frozen).
    public func trainsFromStep(_ layer: String) -> Int {
        if always.contains(layer) { return Int.max }
        return layers.contains(layer) ? (unfreezeStep ?? 0) : 0
    }

    /// Whether `layer` is frozen at step `step`.
    public func isFrozen(_ layer: String, atStep step: Int) -> Bool { step < trainsFromStep(layer) }
}
