// Errors of the cluster layer. Library code throws them; the CLI prints them and exits.

import LoomTraining
import LoomWire

/// Why a coordinator or worker could not go on. Descriptions name the peer, endpoint or
/// file concerned.
public enum ClusterError: Error, CustomStringConvertible, Sendable {
    /// The coordinator refused this worker (dataset fingerprint, protocol...): retrying
    /// with the same setup cannot help.
    case refused(endpoint: String, reason: String)
    /// A transport call failed in a way that is not about one peer (closed, bad endpoint).
    case transport(TransportError)
    /// The welcome could not be turned into a runnable problem (config, heads, model).
    case badWelcome(endpoint: String, reason: String)
    /// Weights or work from the coordinator do not fit the run it set up (sizes, heads,
    /// micro-batch), or cannot be served (no samples and no dataset): `what` names them.
    case unusableWork(endpoint: String, what: String, reason: String)
    /// Work arrived for weights this worker does not hold: messages were lost.
    case outOfStep(endpoint: String, reason: String)
    /// Computing `what` failed.
    case computeFailed(endpoint: String, what: String, cause: TrainingError)
    /// The worker's dataset could not be opened or read.
    case data(path: String, reason: String)
    /// Starting or talking to a `loom worker` subprocess failed.
    case process(String)

    public var description: String {
        switch self {
        case .refused(let endpoint, let reason):
            return "the coordinator at \(endpoint) refused this worker: \(reason)"
        case .transport(let error):
            return error.description
        case .badWelcome(let endpoint, let reason):
            return "cannot set up the run sent by the coordinator at \(endpoint): \(reason)"
        case .unusableWork(let endpoint, let what, let reason):
            return "cannot compute \(what) sent by the coordinator at \(endpoint): \(reason)"
        case .outOfStep(let endpoint, let reason):
            return "out of step with the coordinator at \(endpoint): \(reason)"
        case .computeFailed(let endpoint, let what, let cause):
            return "computing \(what) for the coordinator at \(endpoint) failed: \(cause)"
        case .data(let path, let reason):
            return "dataset \(path): \(reason)"
        case .process(let message):
            return message
        }
    }
}
