// training.early_stopping, checkpoint.keep_best and training.freeze: what they accept, and
// bad values failing with the line and the key.

import Foundation
import LoomConfig
import Testing

struct MonitorConfigTests {
    /// Three heads and a validation split; `extra` starts at line 13.
    func yaml(_ extra: String, validation: Double = 0.1) -> String {
        """
        name: tiny
        model:
          input: [1, 28, 28]
          layers:
            - {kind: flatten}
            - {kind: linear, name: l1, out: 16}
        data:
          validation_fraction: \(validation)
        heads:
          - {name: category, kind: softmax}
          - {name: sleeve, kind: binary}
          - {name: tags, kind: multilabel}

        """ + extra
    }

    @Test func earlyStoppingReadsEveryKeyAndTakesTheModeFromTheMetric() throws {
        let c = try TestConfigs.parse(yaml("""
            checkpoint:
              keep_best: val_loss/tags
            """), overrides: ["training.early_stopping={metric: val_accuracy/mean, patience: 4, min_delta: 0.002}"])
        let e = try #require(c.training.earlyStopping)
        #expect(e.metric == ValidationMetric(.accuracy, .mean))
        #expect(e.metric.column == "val_accuracy/mean")
        #expect(e.mode == .max && e.patience == 4 && e.minDelta == 0.002)
        let b = try #require(c.checkpoint.keepBest)
        #expect(b.metric == ValidationMetric(.loss, .head("tags")) && b.mode == .min)
    }

    @Test func anExplicitModeWins() throws {
        let c = try TestConfigs.parse(yaml(""), overrides: ["training.early_stopping={metric: val_loss, mode: max}",
                                                            "checkpoint.keep_best={metric: val_map/tags, mode: min}"])
        #expect(c.training.earlyStopping?.mode == .max)
        #expect(c.training.earlyStopping?.metric == ValidationMetric(.loss, .total))
        #expect(c.training.earlyStopping?.patience == 3)
        #expect(c.checkpoint.keepBest?.mode == .min)
    }

    @Test func nothingIsWatchedOrFrozenByDefault() throws {
        let c = try TestConfigs.parse(TestConfigs.minimal)
        #expect(c.training.earlyStopping == nil && c.checkpoint.keepBest == nil)
        #expect(c.training.freeze.isEmpty && c.training.freezeEpochs == 0)
    }

    @Test func aMetricThatIsNoColumnIsRefusedWithTheFormsAllowed() throws {
        let e = try #require(TestConfigs.error(yaml("checkpoint:\n  keep_best: accuracy")))
        #expect(e.description.hasPrefix("test.yaml:14: 'checkpoint.keep_best' must be a validation metric named as its metrics.csv column"), "\(e)")
        #expect(e.description.contains("val_loss, val_<quantity>/<head> or val_<quantity>/mean"), "\(e)")
        let q = try #require(TestConfigs.error(yaml("checkpoint:\n  keep_best: val_f1/category")))
        #expect(q.description.contains("'f1' is not a quantity"), "\(q)")
        let s = try #require(TestConfigs.error(yaml("checkpoint:\n  keep_best: val_accuracy")))
        #expect(s.description.contains("val_accuracy/<head> or val_accuracy/mean"), "\(s)")
    }

    @Test func aMetricOfAnUnknownHeadNamesTheHeads() throws {
        let e = try #require(TestConfigs.error(yaml("training:\n  early_stopping: {metric: val_accuracy/colour}")))
        #expect(e.keyPath == "training.early_stopping.metric")
        #expect(e.line == 14)
        #expect(e.description.contains("'colour' is not a head (heads: category, sleeve, tags; or val_accuracy/mean)"), "\(e)")
    }

    @Test func aMetricTheHeadDoesNotReportIsRefused() throws {
        let e = try #require(TestConfigs.error(yaml("checkpoint:\n  keep_best: val_accuracy/tags")))
        #expect(e.description.contains("a multilabel head has no accuracy (heads report: loss, map)"), "\(e)")
        let b = try #require(TestConfigs.error(yaml("checkpoint:\n  keep_best: val_balanced_accuracy/sleeve")))
        #expect(b.description.contains("a binary head has no balanced_accuracy"), "\(b)")
    }

    @Test func watchingNeedsAValidationSplit() throws {
        let e = try #require(TestConfigs.error(yaml("checkpoint:\n  keep_best: val_loss", validation: 0)))
        #expect(e.description == "test.yaml:14: 'checkpoint.keep_best' val_loss needs a validation split: set data.validation_fraction (e.g. 0.1)")
    }

    @Test func badEarlyStoppingValuesNameTheKey() throws {
        let cases: [(String, String)] = [
            ("{metric: val_loss, patience: 0}", "'training.early_stopping.patience' must be a positive integer, got '0'"),
            ("{metric: val_loss, min_delta: -0.1}", "'training.early_stopping.min_delta' must be a non-negative number, got '-0.1'"),
            ("{metric: val_loss, mode: lowest}", "'training.early_stopping.mode' has unknown value 'lowest' (allowed: min, max)"),
            ("{metric: val_loss, patiense: 2}", "unknown key 'training.early_stopping.patiense' (did you mean 'patience'?)"),
            ("{patience: 2}", "'training.early_stopping.metric' is required"),
        ]
        for (value, message) in cases {
            let e = try #require(TestConfigs.error(yaml("training:\n  early_stopping: \(value)")), "\(value)")
            #expect(e.description.contains(message), "\(value): \(e)")
        }
    }

    @Test func freezeTakesTrunkOrAListOfLayers() throws {
        let t = try TestConfigs.parse(TestConfigs.minimal, overrides: ["training.freeze=trunk", "training.freeze_epochs=2"])
        #expect(t.training.freeze == .trunk && t.training.freezeEpochs == 2)
        let l = try TestConfigs.parse(TestConfigs.minimal, overrides: ["training.freeze=[l1]"])
        #expect(l.training.freeze == .layers(["l1"]) && l.training.freezeEpochs == 0)
    }

    @Test func badFreezeValuesNameTheKey() throws {
        let word = try #require(TestConfigs.error(TestConfigs.minimal, overrides: ["training.freeze=everything"]))
        #expect(word.description.contains("'training.freeze' must be 'trunk' (every layer outside the heads) or a list of layer names, got 'everything'"), "\(word)")
        let epochs = try #require(TestConfigs.error(TestConfigs.minimal, overrides: ["training.freeze_epochs=2"]))
        #expect(epochs.description.contains("training.freeze_epochs (2) needs training.freeze"), "\(epochs)")
    }

    @Test func changingWhatIsFrozenBreaksAnExactResumeButEarlyStoppingDoesNot() {
        #expect(ConfigChange(key: "training.freeze", old: "trunk", new: nil).breaksExactResume)
        #expect(ConfigChange(key: "training.freeze.0", old: "l1", new: nil).breaksExactResume)
        #expect(ConfigChange(key: "training.freeze_epochs", old: "2", new: "3").breaksExactResume)
        #expect(!ConfigChange(key: "training.early_stopping.patience", old: "2", new: "5").breaksExactResume)
        #expect(!ConfigChange(key: "checkpoint.keep_best", old: nil, new: "val_loss").breaksExactResume)
    }
}
