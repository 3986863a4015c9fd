// Small Fashion-MNIST-shaped IDX files written by the tests, with knobs to break them.

import CZlib
import Foundation

public enum SyntheticIDX {
    /// Big-endian IDX header + data.
    public static func idx(magic: UInt32, dims: [Int], data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        for v in [magic] + dims.map(UInt32.init) {
            out += [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
        }
        return out + data
    }

    public static func writeGzip(_ bytes: [UInt8], to path: String) {
        let gz = gzopen(path, "wb")!
        _ = bytes.withUnsafeBytes { gzwrite(gz, $0.baseAddress, UInt32($0.count)) }
        gzclose(gz)
    }

    /// Deterministic images: pixel (n, y, x) = (n * 7 + y * 3 + x) % 256; labels n % 10.
    public static func images(count: Int) -> [UInt8] {
        (0..<(count * 784)).map { (k: Int) -> UInt8 in
            let n = k / 784, y = (k % 784) / 28, x = k % 28
            return UInt8((n * 7 + y * 3 + x) % 256)
        }
    }

    public static func labels(count: Int) -> [UInt8] { (0..<count).map { UInt8($0 % 10) } }

    /// Writes the four files into a new temporary directory and returns it.
    /// `edit` may replace any file's bytes (before gzip) by name.
    public static func directory(train: Int = 30, test: Int = 20,
                          edit: (String, inout [UInt8]) -> Void = { _, _ in }) throws -> URL {
        let dir = try TestPaths.temporaryDirectory("loomdata-idx")
        let files: [(String, UInt32, [Int], [UInt8])] = [
            ("train-images-idx3-ubyte.gz", 2051, [train, 28, 28], images(count: train)),
            ("train-labels-idx1-ubyte.gz", 2049, [train], labels(count: train)),
            ("t10k-images-idx3-ubyte.gz", 2051, [test, 28, 28], images(count: test)),
            ("t10k-labels-idx1-ubyte.gz", 2049, [test], labels(count: test)),
        ]
        for (name, magic, dims, data) in files {
            var bytes = idx(magic: magic, dims: dims, data: data)
            edit(name, &bytes)
            writeGzip(bytes, to: dir.appendingPathComponent(name).path)
        }
        return dir
    }

    /// Files in `dir` (to check nothing was left behind).
    public static func contents(_ dir: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted()
    }
}
