// A head with nothing labelled in the split a command works on: `loom calibrate` skips it
// (the other heads are calibrated); `loom eval`, the training log and the metrics history
// report its metrics as n/a (text), null (JSON) or nan (CSV), never as 0.

import Foundation
import LoomTestSupport
import Testing

@Suite(.serialized) struct UnlabelledHeadTests {
    /// configs/multilabel.yaml trained for one epoch on a dataset with two more splits:
    /// `notags` (no tag element labelled) and `nothing` (no head labelled), and the
    /// `unlabelled` splits of `more`. Returns the workspace (keep it alive), the final
    /// checkpoint and the output of `loom train`.
    private func trainedRun(_ name: String, more: [MultilabelDataset.UnlabelledSplit] = []) throws
        -> (Workspace, String, LoomResult) {
        let ws = try Workspace(name, train: 16, test: 16)
        let data = ws.path("tags.h5")
        try MultilabelDataset.write(to: data, train: 128, test: 32, unlabelled: [
            .init("notags", count: 24, tags: true), .init("nothing", count: 24, category: true, tags: true),
        ] + more)
        let config = TestPaths.repositoryRoot.appendingPathComponent("configs/multilabel.yaml").path
        let run = ws.path("run")
        let train = try ws.loom(["train", "--config", config, "--set", "data.path=\(data)", "--set", "checkpoint.dir=\(run)",
                                 "--set", "training.epochs=1", "--set", "training.batch_size=32",
                                 "--set", "training.micro_batch=8", "--set", "model.file=models/mlp.yaml"])
        try #require(train.status == 0, "\(train.stderr)")
        return (ws, run + "/latest.h5", train)
    }

    @Test func calibrateSkipsAHeadWithNoLabelledElementAndCalibratesTheOthers() throws {
        let (ws, latest, _) = try trainedRun("calibrate-unlabelled")
        let out = ws.path("calibrated.h5")
        let calibrate = try ws.loom(["calibrate", latest, "--split", "notags", "--out", out])
        #expect(calibrate.status == 0, "\(calibrate.stderr)")
        let notice = (calibrate.stdout + calibrate.stderr).split(separator: "\n").filter { $0.contains("no labelled element") }
        #expect(notice.contains { $0.contains("tags") && $0.contains("skipped") }, "\(calibrate.stdout)\n\(calibrate.stderr)")
        let inspect = try ws.loom(["inspect", "--json", out])
        #expect(inspect.status == 0, "\(inspect.stderr)")
        let calibration = try #require(try jsonObject(inspect.stdout)["calibration"] as? [String: Any])
        #expect(calibration["tags"] == nil, "no temperature for the skipped head: \(calibration)")
        let category = try #require(calibration["category"] as? Double, "\(calibration)")
        #expect(category > 0)
    }

    @Test func calibrateFailsWhenNoHeadHasALabelledElement() throws {
        let (ws, latest, _) = try trainedRun("calibrate-nothing")
        let calibrate = try ws.loom(["calibrate", latest, "--split", "nothing", "--out", ws.path("calibrated.h5")])
        #expect(calibrate.status != 0)
        let error = calibrate.errorLine ?? ""
        #expect(error.contains("no head") && error.contains("nothing"), "\(calibrate.stderr)")
        #expect(!FileManager.default.fileExists(atPath: ws.path("calibrated.h5")))
    }

    @Test func evalReportsTheMetricsOfAHeadWithNothingLabelledAsNotAvailable() throws {
        let (ws, latest, _) = try trainedRun("eval-unlabelled")
        let json = try ws.loom(["eval", "--json", "--split", "notags", latest])
        #expect(json.status == 0, "\(json.stderr)")
        let object = try jsonObject(json.stdout)
        let heads = try #require(object["heads"] as? [String: Any], "\(json.stdout)")
        let tags = try #require(heads["tags"] as? [String: Any], "\(heads)")
        for key in ["map", "top3_recall", "top5_recall", "bce"] { #expect(tags[key] is NSNull, "\(key) in \(tags)") }
        #expect(tags["count"] as? Double == 0)
        let category = try #require(heads["category"] as? [String: Any], "\(heads)")
        #expect(category["accuracy"] is Double && category["nll"] is Double, "\(category)")
        // The evaluation loss is the category head's alone, not NaN.
        let loss = try #require(object["loss"] as? Double, "\(json.stdout)")
        #expect(abs(loss - (category["nll"] as? Double ?? .nan)) < 1e-9)

        let text = try ws.loom(["eval", "--split", "notags", latest])
        #expect(text.status == 0, "\(text.stderr)")
        let row = text.stdout.split(separator: "\n").first { $0.hasPrefix("tags ") }.map(String.init) ?? ""
        #expect(row.split(separator: " ").filter { $0 == "n/a" }.count == 4, "\(text.stdout)")
        #expect(!text.stdout.contains("nan"), "\(text.stdout)")

        let nothing = try ws.loom(["eval", "--json", "--split", "nothing", latest])
        #expect(nothing.status == 0, "\(nothing.stderr)")
        let empty = try jsonObject(nothing.stdout)
        #expect(empty["loss"] is NSNull, "\(nothing.stdout)")
        let category0 = try #require((empty["heads"] as? [String: Any])?["category"] as? [String: Any], "\(nothing.stdout)")
        for key in ["accuracy", "balanced_accuracy", "nll", "ece"] { #expect(category0[key] is NSNull, "\(key) in \(category0)") }
        let plain = try ws.loom(["eval", "--split", "nothing", latest])
        #expect(plain.status == 0 && plain.stdout.contains("loss n/a") && !plain.stdout.contains("nan"), "\(plain.stdout)")
    }

    @Test func trainingReportsAndRecordsTheMetricsOfAHeadWithNothingLabelledAsNotAvailable() throws {
        // No tag is labelled anywhere: the tags head learns nothing, and its metrics do not exist.
        let (ws, latest, train) = try trainedRun("train-unlabelled", more: [
            .init("train", count: 128, tags: true), .init("test", count: 32, tags: true),
        ])
        #expect(train.stdout.contains("test mAP (tags): n/a"), "\(train.stdout)")
        let evaluations = train.stderr.split(separator: "\n").filter { $0.contains("samples): loss") }
        #expect(!evaluations.isEmpty && evaluations.allSatisfy { $0.contains("tags mAP n/a") }, "\(train.stderr)")

        // metrics.csv holds the column, `nan` in every row, and reads back as NaN.
        let csv = try String(contentsOfFile: ws.path("run/metrics.csv"), encoding: .utf8)
        let lines = csv.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        let column = try #require(lines.first?.firstIndex(of: "val_map/tags"), "\(csv)")
        #expect(lines.dropFirst().allSatisfy { $0[column] == "nan" }, "\(csv)")
        let inspect = try ws.loom(["inspect", "--json", latest])
        let metrics = try #require(try jsonObject(inspect.stdout)["metrics"] as? [String: Any])
        let names = try #require(metrics["columns"] as? [String])
        let rows = try #require(metrics["rows"] as? [[Any]])
        let index = try #require(names.firstIndex(of: "val_map/tags"), "\(names)")
        #expect(!rows.isEmpty && rows.allSatisfy { $0[index] is NSNull }, "\(rows)")
        let table = try ws.loom(["inspect", latest]).stdout
        #expect(table.contains("n/a") && !table.contains(" nan"), "\(table)")
        // Resuming reads metrics.csv back (it is rewritten from the checkpoint): still nan.
        let resumed = try ws.loom(["train", "--config", TestPaths.repositoryRoot.appendingPathComponent("configs/multilabel.yaml").path,
                                   "--set", "data.path=\(ws.path("tags.h5"))", "--set", "checkpoint.dir=\(ws.path("run"))",
                                   "--set", "training.epochs=2", "--set", "training.batch_size=32",
                                   "--set", "training.micro_batch=8", "--set", "model.file=models/mlp.yaml", "--resume", "auto"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let again = try String(contentsOfFile: ws.path("run/metrics.csv"), encoding: .utf8)
        let rows2 = again.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        #expect(rows2.count > lines.count && rows2.first == lines.first, "\(again)")
        #expect(rows2.dropFirst().allSatisfy { $0[column] == "nan" }, "\(again)")
    }
}
