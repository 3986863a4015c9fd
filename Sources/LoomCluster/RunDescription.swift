// What a worker needs besides the config to rebuild the run's model bit for bit, sent as
// JSON in the welcome (`Welcome.runJSON`).

import Foundation
import LoomData
import LoomTraining

/// The run as a worker must see it: heads resolved against the coordinator's dataset (class
/// counts, names, class weights), the image shape, and the dataset's identity so that a
/// worker can decide whether its own copy of the file may be used.
public struct RunDescription: Codable, Equatable, Sendable {
    public var heads: [ResolvedHead]
    /// Image shape (H, W, C) of the train split.
    public var imageHeight: Int
    public var imageWidth: Int
    public var imageChannels: Int
    /// The coordinator's dataset fingerprint and `data.path`.
    public var datasetFingerprint: String
    public var dataPath: String

    public init(problem: TrainingProblem, datasetFingerprint: String) {
        heads = problem.heads
        imageHeight = problem.imageShape.height
        imageWidth = problem.imageShape.width
        imageChannels = problem.imageShape.channels
        self.datasetFingerprint = datasetFingerprint
        dataPath = problem.config.data.path
    }

    public var imageShape: ImageShape {
        ImageShape(height: imageHeight, width: imageWidth, channels: imageChannels)
    }

    /// JSON text for `Welcome.runJSON`.
    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? String(decoding: encoder.encode(self), as: UTF8.self)) ?? "{}"
    }

    /// Parses `Welcome.runJSON`; the error names the field at fault.
    public static func parse(_ text: String) throws(ClusterError) -> RunDescription {
        let description: RunDescription
        do {
            description = try JSONDecoder().decode(RunDescription.self, from: Data(text.utf8))
        } catch {
            throw .badWelcome(endpoint: "welcome", reason: "run description JSON: \(error)")
        }
        if let violation = description.boundsViolation() {
            throw .badWelcome(endpoint: "welcome", reason: "run description JSON: \(violation)")
        }
        return description
    }
}
