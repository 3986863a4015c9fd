// PyTorch's `state_dict()` order: module by module in the order the modules were
// registered, and within a module its parameters (weight, bias) then its buffers
// (running_mean, running_var, num_batches_tracked). Loom keeps parameters and buffers in
// two flat arrays (all parameters, then all buffers), so its natural order is another one;
// checkpoints list PyTorch's in `/model@state_dict_order` (docs/CHECKPOINT.md).

/// Orders state_dict keys as PyTorch's `Module.state_dict()` does.
public enum StateDictOrder {
    /// The module of a key: everything before its last dot (`se1.fc1.weight` → `se1.fc1`).
    static func module(of key: String) -> Substring {
        key.lastIndex(of: ".").map { key[..<$0] } ?? Substring(key)
    }

    /// `names` (parameters in module order, then buffers) grouped by module in the order
    /// modules first appear, each module's keys in their given order, and
    /// `<layer>.num_batches_tracked` after the keys of each batch-norm layer of
    /// `batchNormLayers`.
    public static func keys(_ names: [String], batchNormLayers: [String] = []) -> [String] {
        var modules: [Substring] = []
        var keysOf: [Substring: [String]] = [:]
        for name in names {
            let module = module(of: name)
            if keysOf[module] == nil { modules.append(module) }
            keysOf[module, default: []].append(name)
        }
        let tracked = Set(batchNormLayers.map { Substring($0) })
        for layer in batchNormLayers where keysOf[Substring(layer)] == nil {
            modules.append(Substring(layer))  // a batch norm without affine parameters or buffers here
        }
        return modules.flatMap { module in
            keysOf[module, default: []] + (tracked.contains(module) ? [module + ".num_batches_tracked"] : [])
        }
    }

    /// `tensors` in the same order (`keys` without the num_batches_tracked entries).
    public static func ordered(_ tensors: [NamedTensor]) -> [NamedTensor] {
        let byName = Dictionary(tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        return keys(tensors.map(\.name)).compactMap { byName[$0] }
    }
}
