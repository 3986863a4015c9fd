// What went wrong while reading a run configuration, and where.

/// A configuration problem, located by file (or `--set` override), 1-based line and key path.
///
/// The description is one line a user can act on, e.g.
/// `configs/x.yaml:12: unknown key 'optimizer.momentun' (did you mean 'momentum'?)`.
public struct ConfigError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The config file, the included model file, or `--set key=value` for an override.
    public var source: String
    /// 1-based line in `source`, or nil when there is none (overrides, unreadable files).
    public var line: Int?
    /// Dotted key path of the offending value (`model.layers.3.out`); empty for the whole file.
    public var keyPath: String
    /// What is wrong; names the key path itself.
    public var message: String

    public init(source: String, line: Int?, keyPath: String, message: String) {
        self.source = source; self.line = line; self.keyPath = keyPath; self.message = message
    }

    public var description: String {
        if let line { return "\(source):\(line): \(message)" }
        return "\(source): \(message)"
    }
}
