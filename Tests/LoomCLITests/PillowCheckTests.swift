// Pixels and labels of `loom import images` against an independent decoder: Pillow, run by
// deploy/tools/pillow_check.py. Needs a Python with Pillow, h5py and numpy, named by
// LOOM_PILLOW_PYTHON (or `python3` if it has them); skipped otherwise.

import Foundation
import LoomImage
import LoomTestSupport
import Testing

enum PillowPython {
    /// A Python that imports PIL, h5py and numpy, or nil.
    static let path: String? = pythonImporting("PIL, h5py, numpy", overriddenBy: "LOOM_PILLOW_PYTHON")
}

@Suite struct PillowCheckTests {
    /// A smooth photo-like picture: gradients, a disc and fine stripes.
    static func picture(width: Int, height: Int, seed: Int) -> [UInt8] {
        var p = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let i = (y * width + x) * 3
                let dx = Double(x - width / 2), dy = Double(y - height / 3)
                let disc = dx * dx + dy * dy < Double(width * width) / 25
                p[i] = UInt8((x * 200 / width + seed * 30) % 256)
                p[i + 1] = disc ? 230 : UInt8((y * 180 / height + 20) % 256)
                p[i + 2] = UInt8(((x / 24 + y / 30) % 2 == 0 ? 70 : 150) + seed * 5)
            }
        }
        return p
    }

    @Test(.enabled(if: PillowPython.path != nil, "needs a Python with Pillow, h5py and numpy (set LOOM_PILLOW_PYTHON)"))
    func importedPixelsAndLabelsMatchPillow() throws {
        let python = try #require(PillowPython.path)
        let ws = try Workspace("pillow", train: 8, test: 8)
        var rows = ["path,x1,y1,x2,y2,split,colour"]
        let encoder = JPEGEncoder()
        // JPEGs: RGB 4:2:0 640x480 (reduced-scale decode), RGB 4:4:4, EXIF-rotated, gray, CMYK.
        for (k, (w, h)) in [(640, 480), (480, 640), (333, 217)].enumerated() {
            let bytes = try encoder.encode(pixels: Self.picture(width: w, height: h, seed: k), width: w, height: h, channels: 3,
                                           quality: 90, subsampling: k == 1 ? .s444 : .s420)
            try PhotoFiles.write(ws.path("img/rgb\(k).jpg"), bytes)
            rows.append("img/rgb\(k).jpg,,,,,train,c\(k % 2)")
            rows.append("img/rgb\(k).jpg,20,30,\(w / 2 + 7),\(h - 11),test,c\(k % 3)")
        }
        for o in [3, 6, 8] {
            let bytes = try encoder.encode(pixels: Self.picture(width: 300, height: 200, seed: o), width: 300, height: 200, channels: 3,
                                           quality: 92, orientation: o)
            try PhotoFiles.write(ws.path("img/o\(o).jpg"), bytes)
            rows.append("img/o\(o).jpg,10,5,150,190,train,c1")   // 140x185: no upscaling to 48
        }
        let gray = Self.picture(width: 200, height: 150, seed: 2).enumerated().filter { $0.offset % 3 == 1 }.map(\.element)
        try PhotoFiles.write(ws.path("img/gray.jpg"), try encoder.encode(pixels: gray, width: 200, height: 150, channels: 1, quality: 90))
        rows.append("img/gray.jpg,,,,,validation,c0")
        // 192x144: the crop fit scales its 144-pixel square by exactly 3 (at factors like 2.5,
        // Pillow's BOX, which takes whole pixels, and exact area averaging differ on sharp edges).
        let rgb = Self.picture(width: 192, height: 144, seed: 4)
        var cmyk = [UInt8](repeating: 0, count: 192 * 144 * 4)
        for i in 0..<(192 * 144) {   // inks from RGB, stored inverted (Adobe)
            let c = 255 - Int(rgb[3 * i]), m = 255 - Int(rgb[3 * i + 1]), y = 255 - Int(rgb[3 * i + 2])
            let k = min(c, m, y) / 2
            cmyk[4 * i] = UInt8(255 - (c - k)); cmyk[4 * i + 1] = UInt8(255 - (m - k))
            cmyk[4 * i + 2] = UInt8(255 - (y - k)); cmyk[4 * i + 3] = UInt8(255 - k)
        }
        try PhotoFiles.write(ws.path("img/cmyk.jpg"), try encoder.encode(pixels: cmyk, width: 192, height: 144, channels: 4, quality: 92))
        rows.append("img/cmyk.jpg,,,,,train,c2")
        // PNGs: RGBA with varying alpha, 16-bit RGB, gray.
        var rgba = [UInt8](repeating: 0, count: 90 * 70 * 4)
        let base = Self.picture(width: 90, height: 70, seed: 1)
        for i in 0..<(90 * 70) {
            for c in 0..<3 { rgba[4 * i + c] = base[3 * i + c] }
            rgba[4 * i + 3] = UInt8(min(255, (i % 90) * 3 + (i / 90)))   // smooth: 0 at the left edge to opaque
        }
        try PhotoFiles.write(ws.path("img/alpha.png"), try PNGCodec.encode(samples: rgba, width: 90, height: 70, colourType: .rgba))
        rows.append("img/alpha.png,,,,,train,c0")
        let wide = Self.picture(width: 64, height: 48, seed: 3).flatMap { [$0, UInt8(($0 &* 37) & 0xFF)] }
        try PhotoFiles.write(ws.path("img/deep.png"), try PNGCodec.encode(samples: wide, width: 64, height: 48, colourType: .rgb, bitDepth: 16))
        rows.append("img/deep.png,,,,,train,c1")
        try PhotoFiles.write(ws.path("img/gray.png"), try PNGCodec.encode(samples: gray, width: 200, height: 150, colourType: .gray))
        rows.append("img/gray.png,,,,,test,")
        try ws.write("m.csv", rows.joined(separator: "\n") + "\n")

        for fit in ["pad", "crop"] {
            let out = ws.path("\(fit).h5")
            let r = try ws.loom(["import", "images", "--manifest", ws.path("m.csv"), "--size", "48", "--fit", fit, "--out", out])
            try #require(r.status == 0, "\(r.stderr)")
            let script = TestPaths.repositoryRoot.appendingPathComponent("deploy/tools/pillow_check.py").path
            let p = Process()
            p.executableURL = URL(fileURLWithPath: python)
            p.arguments = [script, ws.path("m.csv"), out]
            let log = ws.path("pillow-\(fit).txt")
            FileManager.default.createFile(atPath: log, contents: nil)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            p.standardOutput = handle
            p.standardError = handle
            try p.run()
            p.waitUntilExit()
            try handle.close()
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            #expect(p.terminationStatus == 0, "\(fit): \(text)")
            #expect(text.contains("0 mismatches"), "\(fit): \(text)")
        }
    }
}

/// A Python for an optional test: the one `$variable` names (only it, when set), else the
/// `python3` on PATH (where deploy/test.sh pip-installs the test packages), else
/// /usr/bin/python3, if it can `import modules`; nil otherwise (the test then skips).
func pythonImporting(_ modules: String, overriddenBy variable: String) -> String? {
    let path = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
    var candidates = path.map { "\($0)/python3" } .filter(FileManager.default.isExecutableFile) .prefix(1) + ["/usr/bin/python3"]
    if let p = ProcessInfo.processInfo.environment[variable], !p.isEmpty { candidates = [p] }
    for python in candidates where FileManager.default.isExecutableFile(atPath: python) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = ["-c", "import \(modules)"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { continue }
        p.waitUntilExit()
        if p.terminationStatus == 0 { return python }
    }
    return nil
}
