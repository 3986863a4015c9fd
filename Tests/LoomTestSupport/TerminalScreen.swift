// What a terminal shows after some output, for tests of progress bars: lines as a VT100
// draws them, for the controls Loom writes (carriage return, newline, ESC [2K erase line).

public enum TerminalScreen {
    /// The screen's lines (all of them: nothing scrolls off).
    public static func lines(_ output: String) -> [String] {
        var lines: [[Character]] = [[]]
        var column = 0
        var rest = Substring(output)
        while let c = rest.first {
            rest = rest.dropFirst()
            switch c {
            case "\r": column = 0
            case "\n": lines.append([]); column = 0
            case "\r\n": lines.append([]); column = 0
            case "\u{1B}":
                if rest.hasPrefix("[2K") { rest = rest.dropFirst(3); lines[lines.count - 1] = [] }
            default:
                var line = lines[lines.count - 1]
                while line.count < column { line.append(" ") }
                if column < line.count { line[column] = c } else { line.append(c) }
                lines[lines.count - 1] = line
                column += 1
            }
        }
        return lines.map { String($0) }
    }
}
