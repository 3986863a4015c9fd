// ARCHITECTURE.md, invariant 4, through the command line: bad input gives one `error:` line naming what is
// wrong and where, a non-zero exit, and no half-written output.

import Foundation
import LoomTestSupport
import Testing

/// Expects `result` to be a clean failure: non-zero exit (not a crash by signal), exactly
/// one `error:` line, and that line containing every one of `needles`.
func expectCleanFailure(_ result: LoomResult, naming needles: [String], _ what: String,
                        sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(!result.signalled && result.status != 0, "\(what): exit status \(result.status)\(result.signalled ? " (signal)" : "")",
            sourceLocation: sourceLocation)
    let errors = result.stderrLines.filter { $0.hasPrefix("error:") }
    #expect(errors.count == 1, "\(what): expected one error line, stderr was:\n\(result.stderr)", sourceLocation: sourceLocation)
    guard let line = errors.first else { return }
    for needle in needles {
        #expect(line.contains(needle), "\(what): the error line does not name '\(needle)': \(line)", sourceLocation: sourceLocation)
    }
}

@Suite struct BadInputTests {
    /// Writes an uncompressed IDX image file of `count` 28x28 images with `magic`, holding
    /// only `present` images' bytes (a truncated file when `present < count`).
    static func idxImages(magic: UInt32 = 2051, count: UInt32 = 60000, present: Int) -> Data {
        var data = Data()
        for word in [magic, count, 28, 28] { withUnsafeBytes(of: word.bigEndian) { data.append(contentsOf: $0) } }
        data.append(Data(repeating: 7, count: present * 784))
        return data
    }

    /// Runs `loom import fashion-mnist` on a source folder holding only `imagesFile` as the
    /// train images; expects a clean failure naming the file and `reason`, and no output.
    func expectImportFails(_ imagesFile: Data, gzip: Bool, reason: String) throws {
        let ws = try Workspace("import")
        let source = ws.path("idx")
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        let name = "train-images-idx3-ubyte.gz"
        if gzip {
            try imagesFile.write(to: URL(fileURLWithPath: source + "/plain"))
            let z = Process()
            z.executableURL = URL(fileURLWithPath: "/bin/sh")
            z.arguments = ["-c", "gzip -c plain > \(name) && rm plain"]
            z.currentDirectoryURL = URL(fileURLWithPath: source)
            try z.run()
            z.waitUntilExit()
            // Cut the compressed stream in half: a download that stopped early.
            let full = try Data(contentsOf: URL(fileURLWithPath: source + "/" + name))
            try full.prefix(full.count / 2).write(to: URL(fileURLWithPath: source + "/" + name))
        } else {
            try imagesFile.write(to: URL(fileURLWithPath: source + "/" + name))
        }
        let out = ws.path("out/fmnist.h5")
        let result = try ws.loom(["import", "fashion-mnist", "--source", source, "--out", out])
        expectCleanFailure(result, naming: [name, reason], "import")
        #expect(!FileManager.default.fileExists(atPath: out), "a failed import left \(out)")
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: ws.path("out"))) ?? []
        #expect(leftovers.isEmpty, "a failed import left \(leftovers)")
    }

    @Test func importRefusesAnIDXFileWithTheWrongMagicNumber() throws {
        try expectImportFails(Self.idxImages(magic: 2049, present: 1), gzip: false, reason: "magic number 2049")
    }

    @Test func importRefusesATruncatedIDXFile() throws {
        try expectImportFails(Self.idxImages(present: 100), gzip: false, reason: "truncated")
    }

    @Test func importRefusesACutOffGzipStream() throws {
        try expectImportFails(Self.idxImages(present: 2000), gzip: true, reason: "gzip")
    }

    @Test func anUnknownConfigKeyIsNamedWithItsLine() throws {
        let ws = try Workspace("badkey")
        let mlp = TestPaths.repositoryRoot.appendingPathComponent("configs/models/mlp.yaml").path
        let config = try ws.write("bad.yaml", """
            name: bad
            data:
              path: \(ws.datasetPath)
            model:
              file: \(mlp)
            optimizer:
              kind: sgd
              momentun: 0.9
            """)
        let result = try ws.loom(["train", "--config", config])
        expectCleanFailure(result, naming: ["bad.yaml:8", "optimizer.momentun"], "unknown key")
    }

    @Test func aBadSetKeyIsNamed() throws {
        let ws = try Workspace("badset")
        var spec = TrainSpec(workspace: ws, run: "run")
        spec.extra = ["training.batchsize=16"]
        let result = try ws.loom(spec.arguments())
        expectCleanFailure(result, naming: ["training.batchsize"], "bad --set key")
        #expect(!FileManager.default.fileExists(atPath: spec.runDirectory), "a run that never started created its directory")
    }

    @Test func aMissingConfigFileIsNamed() throws {
        let ws = try Workspace("noconfig")
        let result = try ws.loom(["train", "--config", ws.path("nothere.yaml")])
        expectCleanFailure(result, naming: ["nothere.yaml"], "missing config")
    }

    @Test func aMissingDatasetFileIsNamed() throws {
        let ws = try Workspace("nodata")
        var spec = TrainSpec(workspace: ws, run: "run")
        spec.datasetPath = ws.path("missing.h5")
        let result = try ws.loom(spec.arguments())
        expectCleanFailure(result, naming: ["missing.h5"], "missing dataset")
    }

    @Test(arguments: ["inspect", "eval", "predict", "calibrate"])
    func aMissingCheckpointIsNamed(command: String) throws {
        let ws = try Workspace("nockpt")
        let args = [command, ws.path("ckpt-00000099.h5")] + (command == "predict" ? ["--index", "0"] : [])
        let result = try ws.loom(args)
        expectCleanFailure(result, naming: ["ckpt-00000099.h5", "no such file"], "\(command) of a missing checkpoint")
    }

    /// `loom inspect` on `bytes` written to a file: a clean failure naming the file and `reason`.
    func expectInspectRefuses(_ bytes: Data, reason: String) throws {
        let ws = try Workspace("inspect")
        let path = ws.path("suspect.h5")
        try bytes.write(to: URL(fileURLWithPath: path))
        expectCleanFailure(try ws.loom(["inspect", path]), naming: ["suspect.h5", reason], "inspect")
        // diff reports an unreadable file with its own status, 2.
        let diff = try ws.loom(["diff", path, path])
        #expect(diff.status == 2, "diff of an unreadable file: status \(diff.status)")
    }

    @Test func inspectRefusesATruncatedCheckpoint() throws {
        let reference = try ReferenceRun.get()
        let whole = try Data(contentsOf: URL(fileURLWithPath: reference.spec.latest))
        try expectInspectRefuses(whole.prefix(whole.count / 2), reason: "truncated")
    }

    @Test func inspectRefusesRandomBytes() throws {
        var rng = TestRandom(seed: 3)
        let bytes = Data((0..<4096).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
        try expectInspectRefuses(bytes, reason: "not an HDF5 file")
    }

    @Test func inspectRefusesAForeignHDF5File() throws {
        let foreign = try Data(contentsOf: Fixtures.url("layers.h5"))
        try expectInspectRefuses(foreign, reason: "not a Loom checkpoint")
    }
}

/// `loom --version`, and the log options as enums: help lists their values, a bad one is
/// refused naming them.
@Suite struct CLIOptionTests {
    @Test func versionIsPrinted() throws {
        let ws = try Workspace("cli-version")
        let r = try ws.loom(["--version"])
        #expect(r.status == 0 && r.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ".").count == 3, "\(r.stdout)")
    }

    @Test func logOptionsListAndCheckTheirValues() throws {
        let ws = try Workspace("cli-log-options")
        let help = try ws.loom(["train", "--help"])
        #expect(help.stdout.contains("text") && help.stdout.contains("json") && help.stdout.contains("critical"), "\(help.stdout)")
        let bad = try ws.loom(["train", "--config", "x.yaml", "--log-level", "loud"])
        #expect(bad.status != 0 && bad.stderr.contains("loud") && bad.stderr.contains("warning"), "\(bad.stderr)")
        let badFormat = try ws.loom(["train", "--config", "x.yaml", "--log-format", "xml"])
        #expect(badFormat.status != 0 && badFormat.stderr.contains("json"), "\(badFormat.stderr)")
    }
}
