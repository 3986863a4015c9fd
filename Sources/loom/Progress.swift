import Foundation
import Logging
import LoomConsole
import LoomTraining

/// Progress of a run: a bar per epoch on a terminal (`epoch 2/4 [###  ] 40% 13/32 steps ...`,
/// left on screen when the epoch ends), else one log line every N steps.
final class ProgressReporter {
    private let logger: Logger
    private let logEvery: Int
    private let stepsPerEpoch: Int
    private let lastStep: Int
    /// Epochs of the run: the last may be cut short by training.max_steps.
    private let epochs: Int

    init(logger: Logger, stepsPerEpoch: Int, lastStep: Int, logEvery: Int) {
        self.logger = logger
        self.logEvery = max(1, logEvery)
        self.stepsPerEpoch = max(1, stepsPerEpoch)
        self.lastStep = lastStep
        epochs = (lastStep + self.stepsPerEpoch - 1) / self.stepsPerEpoch
    }

    func step(_ s: StepSummary, samplesPerSecond: Double, batch: Int) {
        let done = s.step + 1
        let remaining = Double(lastStep - done) * Double(batch) / max(samplesPerSecond, 1e-9)
        if Console.drawsBars {
            Console.status.show(Self.bar(summary: s, epochs: epochs, stepsPerEpoch: stepsPerEpoch, lastStep: lastStep,
                                         samplesPerSecond: samplesPerSecond, remaining: remaining, columns: Console.columns))
            if s.endsEpoch || done == lastStep { Console.status.finish() }
        } else if done % logEvery == 0 || s.endsEpoch || done == lastStep {
            logger.info("step \(done)/\(lastStep) epoch \(s.epoch + 1)/\(epochs) loss \(String(format: "%.4f", s.loss)) lr \(String(format: "%.5g", s.lr)) \(String(format: "%.0f", samplesPerSecond)) samples/s ETA \(ProgressBar.duration(remaining))")
        }
    }

    /// The bar after step `s`: the epoch and the run's epochs, the steps of this epoch
    /// (its last may be cut short by max_steps), the run's steps, speed, loss, lr, ETA.
    static func bar(summary s: StepSummary, epochs: Int, stepsPerEpoch: Int, lastStep: Int, samplesPerSecond: Double,
                    remaining: Double, columns: Int?) -> String {
        let done = s.step + 1
        let epochStart = s.epoch * stepsPerEpoch
        return ProgressBar.render(
            title: "epoch \(s.epoch + 1)/\(epochs)", done: done - epochStart,
            total: min(stepsPerEpoch, lastStep - epochStart), unit: "steps",
            details: ["step \(done)/\(lastStep)", String(format: "%.0f samples/s", samplesPerSecond),
                      String(format: "loss %.4f", s.loss), String(format: "lr %.4g", s.lr),
                      "ETA \(ProgressBar.duration(remaining))"],
            columns: columns)
    }

    func evaluation(_ r: EvaluationReport) {
        let heads = r.heads.map { h in
            h.metrics["map"].map { "\(h.name) mAP \(MetricText.text($0))" }
                ?? "\(h.name) acc \(MetricText.text(h.metrics["accuracy"] ?? .nan))"
        }
        logger.info("\(r.split == "train" ? "validation" : r.split) (\(r.count) samples): loss \(MetricText.text(r.loss)) \(heads.joined(separator: ", "))")
    }

    static func duration(_ seconds: Double) -> String { ProgressBar.duration(seconds) }
}
