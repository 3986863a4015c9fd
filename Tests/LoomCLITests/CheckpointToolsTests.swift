// The commands that read checkpoints: inspect, diff, eval, calibrate, predict, and
// `train --init-from --freeze`, on real files written by `loom train`.

import Foundation
import LoomData
import Testing

/// `text` parsed as a JSON object.
func jsonObject(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
    let value = try JSONSerialization.jsonObject(with: Data(text.utf8))
    return try #require(value as? [String: Any], "not a JSON object: \(text.prefix(500))", sourceLocation: sourceLocation)
}

@Suite struct CheckpointToolsTests {
    @Test func inspectShowsStepParametersConfigAndHistory() throws {
        let reference = try ReferenceRun.get()
        let r = try reference.workspace.loom(["inspect", reference.spec.latest])
        #expect(r.status == 0, "\(r.stderr)")
        // MLP: 784*256+256 + 256*128+128 + 128*10+10 parameters.
        let fingerprint = try Dataset(path: reference.workspace.datasetPath).fingerprint
        for needle in ["format      loom-checkpoint v1", "step        32 (epoch 4", "parameters  235146",
                       "metrics (32 rows)", "max_steps: 0", "dataset     \(fingerprint)", "calibration none"] {
            #expect(r.stdout.contains(needle), "inspect does not show '\(needle)':\n\(r.stdout.prefix(3000))")
        }
    }

    @Test func inspectTensorsListsEachTensorWithShapeAndStatistics() throws {
        let reference = try ReferenceRun.get()
        let r = try reference.workspace.loom(["inspect", "--tensors", reference.spec.latest])
        #expect(r.status == 0, "\(r.stderr)")
        let rows = r.stdout.split(separator: "\n").filter { $0.hasPrefix("l1.weight") || $0.hasPrefix("l3.bias") }
        #expect(rows.count == 2, "tensor rows: \(rows)")
        #expect(rows.first?.contains("[256, 784]") == true && rows.first?.contains("float32") == true, "\(rows)")
    }

    @Test func inspectJSONParsesAndAgreesWithTheFile() throws {
        let reference = try ReferenceRun.get()
        let r = try reference.workspace.loom(["inspect", "--json", reference.spec.latest])
        #expect(r.status == 0, "\(r.stderr)")
        let object = try jsonObject(r.stdout)
        #expect(object["step"] as? Int == 32)
        #expect(object["parameter_count"] as? Int == 235_146)
        let tensors = try #require(object["tensors"] as? [[String: Any]])
        let l1 = try #require(tensors.first { $0["name"] as? String == "l1.weight" })
        #expect(l1["shape"] as? [Int] == [256, 784])
        let values = try RunFiles.tensor("model/l1/weight", in: reference.spec.latest)
        let norm = values.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        let reported = try #require(l1["l2_norm"] as? Double)
        #expect(abs(reported - norm) <= 1e-6 * norm, "l2_norm \(reported), recomputed \(norm)")
    }

    @Test func inspectMetricsCSVIsTheRunsMetricsCSV() throws {
        let reference = try ReferenceRun.get()
        let r = try reference.workspace.loom(["inspect", "--metrics-csv", reference.spec.latest])
        #expect(r.status == 0, "\(r.stderr)")
        let table = MetricsTable(csv: r.stdout)
        #expect(Array(table.columns.prefix(3)) == ["step", "epoch", "lr"], "\(table.columns)")
        #expect(table.column("step") == (1...32).map(Double.init))
        let file = try MetricsTable(file: reference.spec.metricsCSV)
        #expect(table == file, "\(table.firstDifference(from: file))")
    }

    @Test func diffOfRunsWithDifferentSeedsExitsOne() throws {
        let reference = try ReferenceRun.get()
        let ws = try Workspace("seed8")
        var spec = TrainSpec(workspace: ws, run: "run", everySteps: 0)
        spec.seed = 8
        let train = try ws.loom(spec.arguments())
        try #require(train.status == 0, "\(train.stderr)")
        let diff = try ws.loom(["diff", reference.spec.latest, spec.latest])
        #expect(diff.status == 1, "diff status \(diff.status): \(diff.stdout.prefix(2000))\(diff.stderr)")
        #expect(diff.stdout.contains("l1.weight"), "diff does not name a differing tensor:\n\(diff.stdout.prefix(2000))")
        #expect(diff.stdout.contains("seed: 8"), "diff does not show the config difference:\n\(diff.stdout.prefix(3000))")
        let same = try ws.loom(["diff", spec.latest, spec.latest])
        #expect(same.status == 0, "a checkpoint differs from itself: \(same.stdout.prefix(1000))")
    }

    @Test func initFromWithFreezeKeepsTheFrozenLayerAndTrainsTheOthers() throws {
        let reference = try ReferenceRun.get()
        let ws = try Workspace("init-from")
        var spec = TrainSpec(workspace: ws, run: "run", everySteps: 0)
        spec.epochs = 1
        let r = try ws.loom(spec.arguments(["--init-from", reference.spec.latest, "--freeze", "l1"]))
        try #require(r.status == 0, "\(r.stderr)")
        let report = try #require(lines(of: r.stderr, containing: "initialised from").first, "no init report:\n\(r.stderr)")
        #expect(report.contains("loaded 6 tensors") && report.contains("skipped none") && report.contains("frozen l1"), "\(report)")
        for name in ["l1/weight", "l1/bias"] {
            #expect(try RunFiles.tensor("model/\(name)", in: spec.latest) == RunFiles.tensor("model/\(name)", in: reference.spec.latest),
                    "frozen \(name) changed")
        }
        for name in ["l2/weight", "l3/bias"] {
            #expect(try RunFiles.tensor("model/\(name)", in: spec.latest) != RunFiles.tensor("model/\(name)", in: reference.spec.latest),
                    "\(name) did not train")
        }
    }

    @Test func initFromSkipsTensorsOfAnotherShapeAndSaysSo() throws {
        let reference = try ReferenceRun.get()
        let ws = try Workspace("init-skip")
        var spec = TrainSpec(workspace: ws, run: "run", everySteps: 0)
        spec.epochs = 1
        spec.extra = ["model.layers.3.out=64"]   // l2: 256 -> 64 (was 128); l3 then takes 64 inputs
        // A trunk layer (l2) that cannot be loaded needs --allow-partial.
        let refused = try ws.loom(spec.arguments(["--init-from", reference.spec.latest, "--freeze", "l1"]))
        expectCleanFailure(refused, naming: ["--init-from", "trunk tensors left at their fresh initialisation", "l2.weight: shape", "--allow-partial"],
                           "a fine-tune whose trunk is not all loaded")
        let r = try ws.loom(spec.arguments(["--init-from", reference.spec.latest, "--freeze", "l1", "--allow-partial"]))
        try #require(r.status == 0, "\(r.stderr)")
        let report = try #require(lines(of: r.stderr, containing: "initialised from").first, "no init report:\n\(r.stderr)")
        for needle in ["l2.weight: shape", "l2.bias: shape", "l3.weight: shape", "l1.weight", "l3.bias", "frozen l1"] {
            #expect(report.contains(needle), "init report lacks '\(needle)': \(report)")
        }
    }

    @Test func initFromRefusesToFreezeALayerWhoseShapeDiffers() throws {
        let reference = try ReferenceRun.get()
        let ws = try Workspace("init-refuse")
        var spec = TrainSpec(workspace: ws, run: "run", everySteps: 0)
        spec.extra = ["model.layers.3.out=64"]
        let r = try ws.loom(spec.arguments(["--init-from", reference.spec.latest, "--freeze", "l2"]))
        expectCleanFailure(r, naming: ["l2.weight"], "freezing a layer of another shape")
    }

    @Test func evalReportsTheAccuracyOfTheFinalCheckpoint() throws {
        let reference = try ReferenceRun.get()
        let r = try reference.workspace.loom(["eval", "--json", reference.spec.latest])
        #expect(r.status == 0, "\(r.stderr)")
        let object = try jsonObject(r.stdout)
        #expect(object["count"] as? Int == 64)
        let heads = try #require(object["heads"] as? [String: Any])
        let category = try #require(heads["category"] as? [String: Any])
        let accuracy = try #require(category["accuracy"] as? Double)
        #expect(accuracy > 0.5, "the bands are easy; accuracy \(accuracy)")
        // The last history row's test accuracy is the same evaluation.
        let logged = try MetricsTable(file: reference.spec.metricsCSV).column("test_accuracy/category").last
        #expect(logged == accuracy, "eval \(accuracy), history \(String(describing: logged))")
    }

    @Test func calibrateStoresATemperatureThatInspectAndPredictShow() throws {
        let ws = try Workspace("calibrate")
        var spec = TrainSpec(workspace: ws, run: "run", everySteps: 0)
        spec.epochs = 2
        spec.extra = ["data.validation_fraction=0.2"]
        let train = try ws.loom(spec.arguments())
        try #require(train.status == 0, "\(train.stderr)")
        let calibrate = try ws.loom(["calibrate", spec.latest])
        #expect(calibrate.status == 0, "\(calibrate.stderr)")
        #expect(calibrate.stdout.contains("stored temperatures in"), "\(calibrate.stdout)")

        let inspect = try jsonObject(try ws.loom(["inspect", "--json", spec.latest]).stdout)
        let temperature = try #require((inspect["calibration"] as? [String: Any])?["category"] as? Double,
                                       "no calibration in \(inspect["calibration"] ?? "nil")")
        #expect(temperature > 0 && temperature != 1)
        let text = try ws.loom(["inspect", spec.latest]).stdout
        #expect(text.contains("calibration category T="), "\(text.prefix(2000))")

        let predict = try ws.loom(["predict", spec.latest, "--index", "3", "--json"])
        #expect(predict.status == 0, "\(predict.stderr)")
        let object = try jsonObject(predict.stdout)
        #expect(object["index"] as? Int == 3)
        let head = try #require((object["heads"] as? [[String: Any]])?.first)
        #expect(head["temperature"] as? Double == temperature)
        let predictions = try #require(head["predictions"] as? [[String: Any]])
        let total = predictions.compactMap { $0["probability"] as? Double }.reduce(0, +)
        #expect(predictions.count == 10 && abs(total - 1) < 1e-9, "\(predictions)")
    }
}

/// `--init-from` a checkpoint of another model loads nothing: an error, not a silent fresh run.
@Suite struct InitFromNothingTests {
    @Test func initFromACheckpointOfAnotherModelIsAnError() throws {
        let reference = try ReferenceRun.get()
        let ws = try Workspace("init-nothing")
        var spec = TrainSpec(workspace: ws, run: "run", everySteps: 0)
        spec.epochs = 1
        // Other layer names: nothing of the reference MLP's l1, l2, l3 matches.
        spec.extra = ["model.layers.1.name=m1", "model.layers.3.name=m2", "heads.0.layer=m3"]
        let r = try ws.loom(spec.arguments(["--init-from", reference.spec.latest, "--allow-partial"]))
        expectCleanFailure(r, naming: ["--init-from", "loaded 0 of", "none matches this model"], "init from another model")
    }
}
