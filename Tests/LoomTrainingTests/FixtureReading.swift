// Small readers over the PyTorch fixtures used by these tests.

import LoomHDF5
import LoomTestSupport

/// One fixture file, opened once per test.
struct FixtureFile {
    let file: HDF5File

    init(_ name: String) throws { file = try Fixtures.open(name) }

    func floats(_ path: String) throws -> [Float] { try file.root.read(Float.self, path).values }
    func doubles(_ path: String) throws -> [Double] { try file.root.read(Double.self, path).values }
    func ints(_ path: String) throws -> [Int32] { try file.root.read(Int32.self, path).values }
    func shape(_ path: String) throws -> [Int] { try file.root.shape(of: path) }
    func children(_ path: String) throws -> [String] { try file.root.children(path) }
    func exists(_ path: String) -> Bool { file.root.exists(path) }
    func double(_ name: String, on object: String = ".") throws -> Double? {
        try file.root.doubleAttribute(name, on: object)
    }
    func int(_ name: String, on object: String = ".") throws -> Int? { try file.root.intAttribute(name, on: object) }
    func string(_ name: String, on object: String = ".") throws -> String? {
        try file.root.stringAttribute(name, on: object)
    }
}

/// Reads `'key': value` out of a Python dict's repr (the optimizers' `hyper` attribute).
func pythonDictValue(_ text: String, _ key: String) -> String? {
    guard let r = text.range(of: "'\(key)': ") else { return nil }
    let rest = text[r.upperBound...]
    if rest.hasPrefix("(") {
        guard let close = rest.firstIndex(of: ")") else { return nil }
        return String(rest[rest.index(after: rest.startIndex)..<close])
    }
    let end = rest.firstIndex(where: { $0 == "," || $0 == "}" }) ?? rest.endIndex
    return String(rest[..<end])
}

/// |a - e| <= atol + rtol |e|.
func isClose(_ a: Double, _ e: Double, rtol: Double, atol: Double = 0) -> Bool {
    abs(a - e) <= atol + rtol * abs(e)
}
