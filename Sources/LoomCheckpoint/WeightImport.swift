// Matching a foreign state_dict (e.g. torchvision's ResNet-18 from safetensors) to a Loom
// model's tensors by name and shape. Loom's shipped ResNets use torchvision's names, so the
// default mapping is the identity; `prefixes` renames Loom prefixes to the source's.

/// What one import did, tensor by tensor.
public struct WeightImportReport: Sendable, Equatable {
    /// Model tensors taken from the source.
    public var loaded: [String] = []
    /// Model tensors the source does not have: left at their fresh initialisation (e.g. a new head).
    public var leftAtInit: [String] = []
    /// "name: why" for model tensors whose source tensor has another shape (left at init too).
    public var didNotFit: [String] = []
    /// Source tensors no model tensor asked for.
    public var unused: [String] = []
}

public enum WeightImport {
    /// Fills `model` (each tensor's values at the model's initialisation) from `source`.
    /// `prefixes` maps a Loom name prefix to the source's (longest match wins).
    public static func apply(source: [NamedTensor], to model: inout [NamedTensor],
                             prefixes: [String: String] = [:]) -> WeightImportReport {
        var report = WeightImportReport()
        let byName = Dictionary(source.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var used = Set<String>()
        for i in model.indices {
            let name = model[i].name
            let sourceName = rename(name, prefixes)
            guard let t = byName[sourceName] else {
                report.leftAtInit.append(name == sourceName ? name : "\(name) (no '\(sourceName)')")
                continue
            }
            used.insert(sourceName)
            guard t.shape == model[i].shape else {
                report.didNotFit.append("\(name): source '\(sourceName)' has shape \(t.shape), the model \(model[i].shape)")
                continue
            }
            model[i].values = t.values
            report.loaded.append(name)
        }
        report.unused = source.map(\.name).filter { !used.contains($0) }
        return report
    }

    static func rename(_ name: String, _ prefixes: [String: String]) -> String {
        let match = prefixes.keys.filter { name == $0 || name.hasPrefix($0 + ".") }.max { $0.count < $1.count }
        guard let match else { return name }
        return prefixes[match]! + name.dropFirst(match.count)
    }
}
