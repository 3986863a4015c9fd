// A head with nothing labelled in the split a command works on: `loom calibrate` skips it
// (the other heads are calibrated), and `loom eval` reports its metrics as n/a / null.

import Foundation
import LoomTestSupport
import Testing

@Suite(.serialized) struct UnlabelledHeadTests {
    /// configs/multilabel.yaml trained for one epoch on a dataset with two more splits:
    /// `notags` (no tag element labelled) and `nothing` (no head labelled). Returns the
    /// workspace (keep it alive) and the final checkpoint.
    private func trainedRun(_ name: String) throws -> (Workspace, String) {
        let ws = try Workspace(name, train: 16, test: 16)
        let data = ws.path("tags.h5")
        try MultilabelDataset.write(to: data, train: 128, test: 32, unlabelled: [
            .init("notags", count: 24, tags: true), .init("nothing", count: 24, category: true, tags: true),
        ])
        let config = TestPaths.repositoryRoot.appendingPathComponent("configs/multilabel.yaml").path
        let run = ws.path("run")
        let train = try ws.loom(["train", "--config", config, "--set", "data.path=\(data)", "--set", "checkpoint.dir=\(run)",
                                 "--set", "training.epochs=1", "--set", "training.batch_size=32",
                                 "--set", "training.micro_batch=8", "--set", "model.file=models/mlp.yaml"])
        try #require(train.status == 0, "\(train.stderr)")
        return (ws, run + "/latest.h5")
    }

    @Test func calibrateSkipsAHeadWithNoLabelledElementAndCalibratesTheOthers() throws {
        let (ws, latest) = try trainedRun("calibrate-unlabelled")
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
        let (ws, latest) = try trainedRun("calibrate-nothing")
        let calibrate = try ws.loom(["calibrate", latest, "--split", "nothing", "--out", ws.path("calibrated.h5")])
        #expect(calibrate.status != 0)
        let error = calibrate.errorLine ?? ""
        #expect(error.contains("no head") && error.contains("nothing"), "\(calibrate.stderr)")
        #expect(!FileManager.default.fileExists(atPath: ws.path("calibrated.h5")))
    }
}
