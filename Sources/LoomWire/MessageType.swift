/// The kind of a Loom protocol message; byte 6 of the header frame.
///
/// Raw values start at 1 so that an all-zero header can never look like a valid message.
/// Values are frozen: a new kind of message takes a new number and a protocol version bump.
public enum MessageType: UInt8, CaseIterable, Sendable, CustomStringConvertible {
    /// Worker → coordinator: capabilities, first message on a connection.
    case hello = 1
    /// Coordinator → worker: accepted; carries the run id and the config YAML.
    case welcome = 2
    /// Coordinator → worker: not accepted (wrong dataset, protocol, run...), with a reason.
    case refuse = 3
    /// Coordinator → worker: compute a range of micro-shards of one step.
    case assignment = 4
    /// Worker → coordinator: gradient sum and statistics for a range of micro-shards.
    case result = 5
    /// Coordinator → worker: a full versioned copy of the parameters and buffers.
    case weights = 6
    /// Either direction: "I am alive", with the sender's step and weights version.
    case heartbeat = 7
    /// Coordinator → worker: stop and exit, with a reason.
    case shutdown = 8
    /// Coordinator → worker: evaluation-mode logits for a chunk of samples (version 3).
    case evaluate = 9
    /// Worker → coordinator: the logits of an evaluation chunk (version 3).
    case evaluation = 10
    /// Between shard servers, the coordinator and workers: one kind of sharded-aggregation
    /// traffic, named in its JSON frame (`ShardMessage.Kind`; docs/PROTOCOL.md, "Shard servers").
    case shard = 11

    public var description: String {
        switch self {
        case .hello: "hello"
        case .welcome: "welcome"
        case .refuse: "refuse"
        case .assignment: "assignment"
        case .result: "result"
        case .weights: "weights"
        case .heartbeat: "heartbeat"
        case .shutdown: "shutdown"
        case .evaluate: "evaluate"
        case .evaluation: "evaluation"
        case .shard: "shard"
        }
    }

    /// Names of the payload frames that follow the header, in order (frame 1, 2, ...).
    /// Their count is checked against the header and the received message.
    public var payloadFrameNames: [String] {
        switch self {
        case .hello, .welcome, .refuse, .shutdown: ["json"]
        case .assignment: ["shard_sample_counts", "sample_indices", "sample_records", "head_scales"]
        case .result: ["gradient_sum", "batch_norm_statistics", "metric_sums", "sample_counts"]
        case .weights: ["parameters", "buffers"]
        case .heartbeat: []
        case .evaluate: ["sample_indices", "images"]
        case .evaluation: ["logits"]
        case .shard: ["json", "values"]
        }
    }

    /// The header flags this type may carry (R5).
    var allowedFlags: UInt8 {
        switch self {
        case .assignment: WireHeader.sharedFlag
        case .weights, .result: WireHeader.sharedFlag | WireHeader.bf16Flag
        case .evaluate: WireHeader.ttaFlag
        case .shard: WireHeader.bf16Flag
        default: 0
        }
    }

    /// Whether the header's micro-shard range must be non-empty (true) or zero (false).
    /// Evaluation messages carry their chunk there, with a count of 1.
    var carriesShardRange: Bool { self == .assignment || self == .result || self == .evaluate || self == .evaluation }
}
