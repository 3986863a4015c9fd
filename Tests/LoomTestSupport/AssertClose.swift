import Testing

/// Checks `actual` against a reference `expected` element by element.
///
/// Element `i` passes if `|a - e| <= atol` or `|a - e| <= rtol * |e|` (NaN never passes).
/// On failure records ONE issue naming `what`, how many elements are bad, and the
/// worst one (largest `|a - e|`) with its index, actual and expected values. A count
/// mismatch is one issue too.
public func assertClose(_ actual: [Float], _ expected: [Float], rtol: Float = 1e-4, atol: Float = 1e-5,
                        _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    guard actual.count == expected.count else {
        Issue.record("\(what): \(actual.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
        return
    }
    var bad = 0
    var worst = -1
    var worstError: Float = -1
    for i in 0..<actual.count {
        let error = abs(actual[i] - expected[i])
        let ok = error <= atol || error <= rtol * abs(expected[i])
        guard !ok else { continue }
        bad += 1
        // A NaN error counts as the worst possible.
        if worst < 0 || error.isNaN || (!worstError.isNaN && error > worstError) {
            worst = i
            worstError = error
        }
    }
    guard bad > 0 else { return }
    Issue.record("""
        \(what): \(bad) of \(actual.count) elements differ (rtol \(rtol), atol \(atol)); \
        worst at [\(worst)]: actual \(actual[worst]), expected \(expected[worst]), |diff| \(worstError)
        """, sourceLocation: sourceLocation)
}
