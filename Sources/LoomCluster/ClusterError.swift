// Errors of the cluster layer. Library code throws them; the CLI prints them and exits.

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
        case .data(let path, let reason):
            return "dataset \(path): \(reason)"
        case .process(let message):
            return message
        }
    }
}
