// Human-readable report of a CheckpointDiff for `loom diff`.

extension CheckpointDiff {
    /// A report: verdict first, then differing tensors, structure, fields and config changes.
    public func render() -> String {
        let num = CheckpointInspection.num
        var out = ["A: \(pathA)", "B: \(pathB)"]
        out.append(identical ? "weights: identical (bitwise)" : "weights: DIFFERENT")
        let differing = tensors.filter { !$0.isIdentical }
        if !differing.isEmpty {
            out.append("")
            out.append("differing tensors (\(differing.count) of \(tensors.count))")
            let rows = differing.map { d -> [String] in
                let at = d.firstMultiIndex.map { "\($0)" } ?? ""
                return [d.name, "\(d.shape)", "\(d.differingCount)", num(d.maxAbsDiff), num(d.maxRelDiff),
                        "\(d.firstIndex ?? 0) \(at)", d.valueA.map { "\($0)" } ?? "", d.valueB.map { "\($0)" } ?? ""]
            }
            out.append(CheckpointInspection.table(
                header: ["name", "shape", "differ", "max abs", "max rel", "first at", "A", "B"], rows: rows))
        }
        for name in onlyInA { out.append("only in A: \(name)") }
        for name in onlyInB { out.append("only in B: \(name)") }
        for m in shapeMismatches { out.append("shape mismatch: \(m.name) \(m.shapeA) vs \(m.shapeB)") }
        if !fieldDifferences.isEmpty {
            out.append("")
            out += fieldDifferences
        }
        if !configDiff.isEmpty {
            out.append("")
            out.append("config (A → B)")
            out += configDiff.map { "  " + $0 }
        }
        return out.joined(separator: "\n") + "\n"
    }
}
