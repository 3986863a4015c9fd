// One `/layers/<case>` group of layers.h5: PyTorch's inputs, outputs and gradients for a
// single module, plus the module's repr string, from which the layer's sizes are parsed.
import LoomHDF5
import LoomKernels
import LoomTestSupport

struct LayerCase {
    let name: String
    /// PyTorch's repr, e.g. `Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))`.
    let module: String
    let x: HDF5Array<Float>
    let dy: HDF5Array<Float>
    let y: HDF5Array<Float>
    let dx: HDF5Array<Float>
    private let group: HDF5Group

    init(_ name: String) throws {
        let file = try Fixtures.open("layers.h5")
        group = try file.root.group("layers/\(name)")
        self.name = name
        module = try group.stringAttribute("module") ?? ""
        x = try group.read(Float.self, "x")
        dy = try group.read(Float.self, "dy")
        y = try group.read(Float.self, "y")
        dx = try group.read(Float.self, "dx")
    }

    func param(_ name: String) throws -> [Float] { try group.read(Float.self, "param.\(name)").values }
    func grad(_ name: String) throws -> [Float] { try group.read(Float.self, "grad.\(name)").values }
    func bufferAfter(_ name: String) throws -> [Float] { try group.read(Float.self, "buffer_after.\(name)").values }
    func has(_ path: String) -> Bool { group.exists(path) }

    /// The integers in the repr before the first `=`: Conv2d's in/out channels, BN's features.
    var positionalIntegers: [Int] {
        let head = module.split(separator: "(", maxSplits: 1).dropFirst().first.map(String.init) ?? ""
        return head.split(separator: ",").prefix { !$0.contains("=") }
            .compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    }

    /// The first integer after `key=` (`kernel_size=(3, 3)` gives 3), or nil.
    func integer(_ key: String) -> Int? {
        guard let range = module.range(of: key + "=") else { return nil }
        let digits = module[range.upperBound...].drop { !$0.isNumber }.prefix { $0.isNumber }
        return Int(digits)
    }

    /// The number after `key=` as a Double (`eps=1e-05`), or nil.
    func number(_ key: String) -> Double? {
        guard let range = module.range(of: key + "=") else { return nil }
        let text = module[range.upperBound...].prefix { $0 != "," && $0 != ")" }
        return Double(text.trimmingCharacters(in: .whitespaces))
    }
}

/// All case names under /layers (excluding the eval statistics group).
func allLayerCases() throws -> [String] {
    let file = try Fixtures.open("layers.h5")
    return try file.root.children("layers").filter { $0 != "batchnorm2d_eval_stats" }
}

/// Runs `body` with mutable pointers to copies of `arrays`; returns the arrays afterwards.
func withPointers(_ arrays: [[Float]], _ body: ([UnsafeMutablePointer<Float>]) throws -> Void) rethrows -> [[Float]] {
    let pointers = arrays.map { array -> UnsafeMutablePointer<Float> in
        let p = UnsafeMutablePointer<Float>.allocate(capacity: max(array.count, 1))
        p.initialize(repeating: 0, count: max(array.count, 1))
        p.update(from: array, count: array.count)
        return p
    }
    defer { pointers.forEach { $0.deallocate() } }
    try body(pointers)
    return zip(pointers, arrays).map { Array(UnsafeBufferPointer(start: $0.0, count: $0.1.count)) }
}
