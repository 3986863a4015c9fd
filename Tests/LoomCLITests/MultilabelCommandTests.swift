// configs/multilabel.yaml trained by `loom train` on a generated dataset, then read back by
// eval, calibrate and predict: the multilabel head's metrics, temperature and probabilities.

import Foundation
import LoomTestSupport
import Testing

@Suite(.serialized) struct MultilabelCommandTests {
    @Test func evalCalibrateAndPredictHandleAMultilabelCheckpoint() throws {
        let ws = try Workspace("multilabel", train: 16, test: 16)
        let data = ws.path("tags.h5")
        try MultilabelDataset.write(to: data, train: 512, test: 64)
        let config = TestPaths.repositoryRoot.appendingPathComponent("configs/multilabel.yaml").path
        let run = ws.path("run")
        let train = try ws.loom(["train", "--config", config, "--set", "data.path=\(data)", "--set", "checkpoint.dir=\(run)",
                                 "--set", "training.epochs=3", "--set", "model.file=models/mlp.yaml"])
        #expect(train.status == 0, "\(train.stderr)")
        #expect(train.stdout.contains("test mAP (tags)"), "\(train.stdout)")
        let latest = run + "/latest.h5"

        let eval = try ws.loom(["eval", "--json", latest])
        #expect(eval.status == 0, "\(eval.stderr)")
        let heads = try #require(try jsonObject(eval.stdout)["heads"] as? [String: Any])
        let tags = try #require(heads["tags"] as? [String: Any], "\(heads.keys)")
        let map = try #require(tags["map"] as? Double)
        #expect(map > 0.7, "mAP \(map) after 3 epochs (chance 0.4)")
        for key in ["top3_recall", "top5_recall", "bce", "count"] { #expect(tags[key] is Double, "\(key) in \(tags)") }
        #expect(tags["confusion"] == nil && tags["accuracy"] == nil)
        #expect((heads["category"] as? [String: Any])?["accuracy"] is Double)

        let text = try ws.loom(["eval", latest])
        #expect(text.status == 0 && text.stdout.contains("map") && text.stdout.contains("top3_recall"), "\(text.stdout)")

        let calibrate = try ws.loom(["calibrate", latest])
        #expect(calibrate.status == 0, "\(calibrate.stderr)")
        #expect(calibrate.stdout.contains("\ntags "), "\(calibrate.stdout)")

        let predict = try ws.loom(["predict", latest, "--index", "3", "--json"])
        #expect(predict.status == 0, "\(predict.stderr)")
        let entries = try #require(try jsonObject(predict.stdout)["heads"] as? [[String: Any]])
        let head = try #require(entries.first { $0["head"] as? String == "tags" })
        #expect(head["kind"] as? String == "multilabel")
        let temperature = try #require(head["temperature"] as? Double)
        #expect(temperature > 0 && temperature != 1, "the calibrated temperature is used")
        let predictions = try #require(head["predictions"] as? [[String: Any]])
        let probabilities = predictions.compactMap { $0["probability"] as? Double }
        #expect(probabilities.count == 5 && probabilities.allSatisfy { $0 > 0 && $0 < 1 })
        #expect(probabilities == probabilities.sorted(by: >), "highest first")
        #expect(Set(predictions.compactMap { $0["class"] as? String }) == Set(MultilabelDataset.tagNames))

        // The true targets of test sample 3, as generated.
        let truth = MultilabelDataset.generate("test", count: 64, seed: 5)
        let expected = (0..<5).filter { !truth.tagMissing[3 * 5 + $0] && truth.tags[3 * 5 + $0] == 1 }
            .map { MultilabelDataset.tagNames[$0] }
        #expect(Set(head["true_labels"] as? [String] ?? ["?"]) == Set(expected))
        for p in predictions {
            let j = try #require(MultilabelDataset.tagNames.firstIndex(of: p["class"] as? String ?? ""))
            if truth.tagMissing[3 * 5 + j] {
                #expect(p["target"] is NSNull, "\(p)")
            } else {
                #expect(p["target"] as? Double == Double(truth.tags[3 * 5 + j]), "\(p)")
            }
        }

        let plain = try ws.loom(["predict", latest, "--index", "3"])
        #expect(plain.status == 0 && plain.stdout.contains("tags (multilabel, temperature"), "\(plain.stdout)")

        // Test sample 15 has no tag labelled: its true labels are unknown (null, as for an
        // unlabelled softmax sample), not "none of the tags".
        #expect((0..<5).allSatisfy { truth.tagMissing[15 * 5 + $0] })
        let unlabelled = try ws.loom(["predict", latest, "--index", "15", "--json"])
        #expect(unlabelled.status == 0, "\(unlabelled.stderr)")
        let entry = try #require(try jsonObject(unlabelled.stdout)["heads"] as? [[String: Any]]).first { $0["head"] as? String == "tags" }
        #expect(entry?["true_labels"] is NSNull, "\(String(describing: entry))")
        let text15 = try ws.loom(["predict", latest, "--index", "15"])
        #expect(text15.stdout.contains("tags (multilabel, temperature") && text15.stdout.contains(", not labelled"), "\(text15.stdout)")
    }
}
