// What an import is told from outside while it runs (stop) and what it tells (progress).
// A stop is seen between two pieces of work (a megabyte read, a slab of rows written, a row
// decoded): the import then removes its temporary file and throws `DatasetError.stopped`,
// so nothing appears under the output name.

/// How far an import is: `done` of `total` `unit` of `stage` ("read train-images-idx3-ubyte.gz", "write train").
public struct ImportProgress: Sendable, Equatable {
    public var stage: String
    public var done: Int
    public var total: Int
    public var unit: String

    public init(stage: String, done: Int, total: Int, unit: String) {
        self.stage = stage; self.done = done; self.total = total; self.unit = unit
    }
}

/// The hooks of one import. The defaults never stop and report nothing.
public struct ImportControl {
    /// Asked between pieces of work; true stops the import.
    public var shouldStop: () -> Bool
    /// Told after each piece of work.
    public var progress: (ImportProgress) -> Void

    public init(shouldStop: @escaping () -> Bool = { false }, progress: @escaping (ImportProgress) -> Void = { _ in }) {
        self.shouldStop = shouldStop; self.progress = progress
    }

    /// Throws `.stopped` when a stop is asked for.
    func check(output: String, at: @autoclosure () -> String) throws(DatasetError) {
        if shouldStop() { throw .stopped(output: output, at: at()) }
    }
}
