import Foundation
import Logging
import LoomTraining

/// Progress of a run: a bar per epoch on a terminal, else one log line every N steps.
final class ProgressReporter {
    private let logger: Logger
    private let terminal: Bool
    private let logEvery: Int
    private let stepsPerEpoch: Int
    private let lastStep: Int
    private var barShown = false

    init(logger: Logger, stepsPerEpoch: Int, lastStep: Int, logEvery: Int) {
        self.logger = logger
        self.terminal = FileManagerShim.isTerminal && ProcessInfo.processInfo.environment["LOOM_NO_PROGRESS"] == nil
        self.logEvery = max(1, logEvery)
        self.stepsPerEpoch = stepsPerEpoch
        self.lastStep = lastStep
    }

    func step(_ s: StepSummary, samplesPerSecond: Double, batch: Int) {
        let done = s.step + 1
        let remaining = Double(lastStep - done) * Double(batch) / max(samplesPerSecond, 1e-9)
        if terminal {
            let inEpoch = done - s.epoch * stepsPerEpoch
            let width = 30
            let filled = Int(Double(width) * Double(inEpoch) / Double(stepsPerEpoch))
            let bar = String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
            let line = String(format: "\repoch %d [%@] %3d%% %6.0f samples/s loss %.4f lr %.4g ETA %@ ",
                              s.epoch + 1, bar, 100 * inEpoch / stepsPerEpoch, samplesPerSecond, s.loss, s.lr,
                              Self.duration(remaining))
            FileHandle.standardError.write(line.data(using: .utf8)!)
            barShown = true
            if s.endsEpoch { FileHandle.standardError.write("\n".data(using: .utf8)!); barShown = false }
        } else if done % logEvery == 0 || s.endsEpoch || done == lastStep {
            logger.info("step \(done)/\(lastStep) epoch \(s.epoch + 1) loss \(String(format: "%.4f", s.loss)) lr \(String(format: "%.5g", s.lr)) \(String(format: "%.0f", samplesPerSecond)) samples/s ETA \(Self.duration(remaining))")
        }
    }

    func evaluation(_ r: EvaluationReport) {
        if barShown { FileHandle.standardError.write("\n".data(using: .utf8)!); barShown = false }
        let heads = r.heads.map { h in
            h.metrics["map"].map { "\(h.name) mAP \(MetricText.text($0))" }
                ?? "\(h.name) acc \(MetricText.text(h.metrics["accuracy"] ?? .nan))"
        }
        logger.info("\(r.split == "train" ? "validation" : r.split) (\(r.count) samples): loss \(MetricText.text(r.loss)) \(heads.joined(separator: ", "))")
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let s = Int(seconds)
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
