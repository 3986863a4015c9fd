// Line diff of two texts (the YAML configs of two checkpoints), by longest common
// subsequence. Configs are tens of lines, so the O(n*m) table is cheap.

enum LineDiff {
    /// Changed lines in order: `- line` only in `a`, `+ line` only in `b`. Empty when equal.
    static func diff(_ a: String, _ b: String) -> [String] {
        let x = a.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let y = b.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard x != y else { return [] }
        // lcs[i][j] = length of the LCS of x[i...] and y[j...]
        var lcs = Array(repeating: Array(repeating: 0, count: y.count + 1), count: x.count + 1)
        for i in stride(from: x.count - 1, through: 0, by: -1) {
            for j in stride(from: y.count - 1, through: 0, by: -1) {
                lcs[i][j] = x[i] == y[j] ? lcs[i + 1][j + 1] + 1 : max(lcs[i + 1][j], lcs[i][j + 1])
            }
        }
        var out: [String] = [], i = 0, j = 0
        while i < x.count || j < y.count {
            if i < x.count, j < y.count, x[i] == y[j] {
                i += 1; j += 1
            } else if i < x.count, j == y.count || lcs[i + 1][j] >= lcs[i][j + 1] {
                out.append("- " + x[i]); i += 1  // deletions first, as diff(1) shows them
            } else {
                out.append("+ " + y[j]); j += 1
            }
        }
        return out
    }
}
