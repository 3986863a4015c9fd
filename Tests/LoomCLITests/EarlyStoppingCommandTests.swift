// `loom train` with early stopping, best.h5 and the fine-tuning knobs (--freeze trunk
// --freeze-epochs, trunk_lr_scale) on real processes and files: the same stop, best and
// weights on 0 and 2 workers; `eval|predict|calibrate best|latest`.

import Foundation
import Testing

@Suite struct EarlyStoppingCommandTests {
    /// 256 train samples, a quarter held out: 6 steps of 32 per epoch. Evaluations at steps
    /// 4, 6, 8, ...: no accuracy beats another by more than 1, so the evaluation at step 4
    /// stays the best and the one at step 8 (patience 2) ends the run, of 24 steps.
    func spec(_ ws: Workspace, run: String) -> TrainSpec {
        var spec = TrainSpec(workspace: ws, run: run, everySteps: 1, keep: 3)
        spec.extra = ["data.validation_fraction=0.25", "training.eval_every_steps=4",
                      "training.early_stopping={metric: val_accuracy/mean, patience: 2, min_delta: 1}",
                      "checkpoint.keep_best=val_loss", "optimizer.trunk_lr_scale=0.1"]
        return spec
    }

    @Test func zeroAndTwoWorkersStopAtTheSameStepWithTheSameBestAndWeights() throws {
        let reference = try ReferenceRun.get()
        let ws = try Workspace("early-workers")
        // The reference run's weights, the trunk (l1, l2) frozen for the first epoch (6 steps).
        let fineTune = ["--init-from", reference.spec.latest, "--freeze", "trunk", "--freeze-epochs", "1"]
        var outputs: [TrainSpec] = []
        for workers in [0, 2] {
            let s = spec(ws, run: "w\(workers)")
            let r = try ws.loom(s.arguments(fineTune + ["--workers", "\(workers)"]), timeout: 300)
            try #require(r.status == 0, "--workers \(workers): \(r.stderr.suffix(3000))")
            #expect(r.stderr.contains("early stopping at step 8 of 24: val_accuracy/mean has not improved"), "\(r.stderr.suffix(3000))")
            #expect(try RunFiles.step(of: s.latest) == 8)
            #expect(FileManager.default.fileExists(atPath: s.runDirectory + "/best.h5"))
            outputs.append(s)
        }
        let (a, b) = (outputs[0], outputs[1])
        for (x, y) in [(a.latest, b.latest), (a.runDirectory + "/best.h5", b.runDirectory + "/best.h5")] {
            let diff = try ws.loom(["diff", x, y])
            #expect(diff.status == 0, "\(x) and \(y) differ:\n\(diff.stdout.prefix(2000))\(diff.stderr)")
        }
        let wait = try MetricsTable(file: a.metricsCSV).column("early_stopping_wait").filter { !$0.isNaN }
        #expect(wait == [0, 1, 2])
        let inspect = try ws.loom(["inspect", a.latest])
        #expect(inspect.stdout.contains("early stop  val_accuracy/mean max: best "), "\(inspect.stdout.prefix(3000))")
        #expect(inspect.stdout.contains(" at step 4, 2 evaluations since, stopped at step 8"), "\(inspect.stdout.prefix(3000))")
        #expect(inspect.stdout.contains("best.h5     val_loss min: best "), "\(inspect.stdout.prefix(3000))")
        let json = try jsonObject(try ws.loom(["inspect", "--json", a.latest]).stdout)
        let record = try #require(json["early_stopping"] as? [String: Any])
        #expect(record["stopped_step"] as? Int == 8 && record["best_step"] as? Int == 4 && record["wait"] as? Int == 2)
        // Frozen until step 6, trained (at a tenth of the rate) from there on.
        for name in ["model/l1/weight", "model/l2/bias"] {
            let start = try RunFiles.tensor(name, in: reference.spec.latest)
            #expect(try RunFiles.tensor(name, in: a.checkpoint(step: 6)) == start, "\(name) moved while frozen")
            #expect(try RunFiles.tensor(name, in: a.checkpoint(step: 8)) != start, "\(name) did not train after unfreezing")
        }
        #expect(try RunFiles.tensor("model/l3/weight", in: a.checkpoint(step: 6)) != RunFiles.tensor("model/l3/weight", in: reference.spec.latest))

        // A resume without --freeze would unfreeze the trunk: refused, naming the key.
        let unfrozen = try ws.loom(a.arguments(["--resume", "auto"]))
        expectCleanFailure(unfrozen, naming: ["training.freeze", "--allow-config-change"], "a resume that drops --freeze")
        // Resuming the stopped run trains nothing more, and says why.
        let again = try ws.loom(a.arguments(fineTune + ["--resume", "auto"]))
        #expect(again.status == 0, "\(again.stderr.suffix(2000))")
        #expect(again.stderr.contains("this run stopped early at step 8"), "\(again.stderr.suffix(2000))")
        #expect(try RunFiles.step(of: a.latest) == 8)
    }

    @Test func evalPredictAndCalibrateTakeBestAndLatestOfARun() throws {
        let ws = try Workspace("early-named")
        var s = spec(ws, run: "run")
        s.epochs = 1
        let train = try ws.loom(s.arguments())
        try #require(train.status == 0, "\(train.stderr.suffix(2000))")
        let best = s.runDirectory + "/best.h5"

        let byWord = try ws.loom(["eval", "best", "--run-dir", s.runDirectory, "--json"])
        let byPath = try ws.loom(["eval", best, "--json"])
        try #require(byWord.status == 0 && byPath.status == 0, "\(byWord.stderr)\(byPath.stderr)")
        let word = try jsonObject(byWord.stdout), path = try jsonObject(byPath.stdout)
        #expect(word["checkpoint"] as? String == best)
        #expect(NSDictionary(dictionary: word["heads"] as? [String: Any] ?? [:]) == NSDictionary(dictionary: path["heads"] as? [String: Any] ?? ["": 0]))

        // --config finds the run directory as `loom train` does.
        let config = try ws.write("named.yaml", """
            name: named
            model: {input: [1, 28, 28], layers: [{kind: flatten}, {kind: linear, name: l1, out: 8}]}
            checkpoint: {dir: \(s.runDirectory)}
            """)
        let latest = try ws.loom(["predict", "latest", "--config", config, "--index", "0", "--json"])
        #expect(latest.status == 0, "\(latest.stderr)")
        #expect(try jsonObject(latest.stdout)["checkpoint"] as? String == s.latest)

        let calibrate = try ws.loom(["calibrate", "best", "--run-dir", s.runDirectory])
        #expect(calibrate.status == 0, "\(calibrate.stderr)")
        #expect(calibrate.stdout.contains("stored temperatures in \(best)"), "\(calibrate.stdout)")
    }

    @Test func namedCheckpointsWithoutARunOrAFileAreClearErrors() throws {
        let ws = try Workspace("early-errors", train: 64, test: 16)
        let noRun = try ws.loom(["eval", "best"])
        #expect(noRun.status == 64, "usage error: \(noRun.status)")
        #expect(noRun.stderr.contains("'best' names a run's best.h5: give the run with --run-dir DIR or --config C.yaml"), "\(noRun.stderr)")
        let both = try ws.loom(["eval", "ckpt.h5", "--run-dir", ws.path("run")])
        #expect(both.status == 64 && both.stderr.contains("'ckpt.h5' is a file path"), "\(both.stderr)")

        // A run that keeps no best.h5.
        var plain = TrainSpec(workspace: ws, run: "run", everySteps: 0)
        plain.epochs = 1
        let train = try ws.loom(plain.arguments())
        try #require(train.status == 0, "\(train.stderr.suffix(2000))")
        let missing = try ws.loom(["eval", "best", "--run-dir", plain.runDirectory])
        expectCleanFailure(missing, naming: ["best.h5 does not exist", "checkpoint.keep_best"], "best of a run without keep_best")
        let nowhere = try ws.loom(["calibrate", "latest", "--run-dir", ws.path("nowhere")])
        expectCleanFailure(nowhere, naming: ["nowhere: no such run directory"], "latest of no run")
    }
}
