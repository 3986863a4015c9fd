// SIGTERM and SIGINT stop the commands that make one result (import, eval, calibrate) at
// their next check, with real processes and real signals: the command says what it
// stopped, exits with 128 + the signal's number (143, 130), and leaves nothing behind: no
// dataset under the output name, no temporary file, the checkpoint unchanged. Each child is
// caught at a log line that starts its work (`stepUntil` keeps it stopped there), signalled,
// and let go.

import Foundation
import LoomTestSupport
import Testing

/// Files in `directory` whose names start with `prefix`.
private func files(in directory: String, startingWith prefix: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasPrefix(prefix) }
}

/// Starts `arguments`, holds the child stopped once its log says `line`, sends `signal`, lets
/// it go and waits for its end. Nil (with an issue) when the line never came.
private func stopAtLine(_ ws: Workspace, _ arguments: [String], line: String, signal: Int32, tag: String,
                        sourceLocation: SourceLocation = #_sourceLocation) throws -> (LoomResult, Double)? {
    let child = try ws.start(arguments, tag: tag)
    guard stepUntil(child, { child.stderr.contains(line) }) else {
        Issue.record("'\(line)' never came: \(child.stderr.suffix(2000))", sourceLocation: sourceLocation)
        child.signal(SIGKILL)
        child.wait()
        return nil
    }
    child.signal(signal)
    let resumed = Date()
    child.signal(SIGCONT)
    let result = child.wait(timeout: 60)
    return (result, Date().timeIntervalSince(resumed))
}

@Suite(.serialized) struct CommandStopTests {
    /// The real Fashion-MNIST files (dataset-fashion-mnist, which deploy/bootstrap.sh installs):
    /// the import is held as it starts writing the train split and stopped there.
    @Test func aFashionMNISTImportStoppedWhileWritingLeavesNothing() throws {
        let source = "/usr/share/datasets/fashion-mnist"
        guard FileManager.default.fileExists(atPath: source + "/train-images-idx3-ubyte.gz") else {
            print("skipped: \(source) is not installed (apt-get install dataset-fashion-mnist)")
            return
        }
        let ws = try Workspace("stop-import-fm", train: 8, test: 8)
        let out = ws.path("out/fm.h5")
        guard let (r, seconds) = try stopAtLine(ws, ["import", "fashion-mnist", "--out", out], line: "write train (60000 images)",
                                                signal: SIGTERM, tag: "import") else { return }
        #expect(r.status == 143 && !r.signalled, "status \(r.status): \(r.stderr)")
        #expect(r.stderr.contains("SIGTERM received: \(out): import stopped while writing split train ("), "\(r.stderr)")
        #expect(r.stderr.contains("of 60000 images); nothing was written under this name"), "\(r.stderr)")
        #expect(!r.stdout.contains("wrote"), "\(r.stdout)")
        #expect(!FileManager.default.fileExists(atPath: out))
        #expect(files(in: ws.path("out"), startingWith: "fm.h5").isEmpty, "left behind: \(files(in: ws.path("out"), startingWith: "fm.h5"))")
        print("fashion-mnist import: stopped \(String(format: "%.2f", seconds)) s after SIGTERM")
    }

    /// A photo import of 400 JPEGs in batches of 8, held after its first batch and stopped by
    /// SIGINT (Ctrl-C) between two rows.
    @Test func aPhotoImportStoppedBySIGINTLeavesNothing() throws {
        let ws = try Workspace("stop-import-photos", train: 8, test: 8)
        var lines = ["path,colour"]
        for i in 0..<400 {
            let colour: (UInt8, UInt8, UInt8) = i % 2 == 0 ? (200, 30, 30) : (30, 200, 30)
            try PhotoFiles.writeJPEG(ws.path("photos/p\(i).jpg"), pixels: PhotoFiles.solid(width: 96, height: 96, colour),
                                     width: 96, height: 96)
            lines.append("photos/p\(i).jpg,\(i % 2 == 0 ? "red" : "green")")
        }
        try ws.write("m.csv", lines.joined(separator: "\n") + "\n")
        try ws.write("classes.yaml", "colour: [red, green]\n")
        let out = ws.path("photos.h5")
        guard let (r, seconds) = try stopAtLine(ws, ["import", "images", "--manifest", ws.path("m.csv"), "--classes", ws.path("classes.yaml"),
                                                     "--size", "32", "--batch", "8", "--threads", "1", "--out", out],
                                                line: "rows decoded", signal: SIGINT, tag: "import") else { return }
        #expect(r.status == 130 && !r.signalled, "status \(r.status): \(r.stderr)")
        #expect(r.stderr.contains("SIGINT received: \(out): import stopped at row "), "\(r.stderr)")
        #expect(!r.stdout.contains("wrote"), "\(r.stdout)")
        #expect(!FileManager.default.fileExists(atPath: out))
        #expect(files(in: ws.directory.path, startingWith: "photos.h5").isEmpty)
        print("photo import: stopped \(String(format: "%.2f", seconds)) s after SIGINT")
    }

    /// A checkpoint of the reference CNN on a 4096-sample test split: `eval` and `calibrate`
    /// are held as they start predicting and stopped after at most a few chunks.
    @Test func evalAndCalibrateStopWithoutOutputAndLeaveTheCheckpointAlone() throws {
        let ws = try Workspace("stop-eval", train: 256, test: 4096)
        let run = ws.path("run")
        let train = try ws.loom(["train", "--config", TrainSpec.smokeConfig, "--set", "data.path=\(ws.datasetPath)",
                                 "--set", "checkpoint.dir=\(run)", "--set", "training.max_steps=2", "--set", "training.batch_size=32",
                                 "--set", "training.micro_batch=16"])
        try #require(train.status == 0, "\(train.stderr)")
        let checkpoint = run + "/latest.h5"
        let before = try Data(contentsOf: URL(fileURLWithPath: checkpoint).resolvingSymlinksInPath())

        guard let (e, evalSeconds) = try stopAtLine(ws, ["eval", checkpoint, "--split", "test"], line: "evaluating ",
                                                    signal: SIGTERM, tag: "eval") else { return }
        #expect(e.status == 143 && !e.signalled, "status \(e.status): \(e.stderr)")
        #expect(e.stdout.isEmpty, "a stopped eval prints no report: \(e.stdout)")
        let done = try #require(number(after: "evaluation stopped; nothing printed after ", in: e.stderr), "\(e.stderr)")
        #expect(done < 4096 && e.stderr.contains("of 4096 samples"), "\(e.stderr)")

        guard let (c, calibrateSeconds) = try stopAtLine(ws, ["calibrate", checkpoint, "--split", "test"], line: "calibrating ",
                                                         signal: SIGINT, tag: "calibrate") else { return }
        #expect(c.status == 130 && !c.signalled, "status \(c.status): \(c.stderr)")
        #expect(c.stderr.contains("SIGINT received: calibration stopped; \(checkpoint) is unchanged after "), "\(c.stderr)")
        #expect(!c.stdout.contains("stored temperatures"), "\(c.stdout)")
        let after = try Data(contentsOf: URL(fileURLWithPath: checkpoint).resolvingSymlinksInPath())
        #expect(before == after, "the checkpoint changed")
        #expect(RunFiles.temporaryFiles(in: run).isEmpty, "\(RunFiles.temporaryFiles(in: run))")
        print(String(format: "eval stopped %.2f s, calibrate %.2f s after the signal", evalSeconds, calibrateSeconds))

        // Not stopped, the same commands finish (the check does not stop them by itself).
        let full = try ws.loom(["eval", checkpoint, "--split", "test"])
        #expect(full.status == 0 && full.stdout.contains("split test: 4096 samples"), "\(full.stderr)")
    }
}
