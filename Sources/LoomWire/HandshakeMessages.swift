// Messages whose body is one small JSON frame: hello, welcome, refuse, shutdown.
// Unknown JSON keys are ignored so that fields can be added without a version bump;
// missing required fields are rejected (R13).

/// Worker → coordinator, the first message on a connection: who the worker is and what it
/// can do. Header: run id 0 (the worker does not know the run yet).
public struct Hello: Equatable, Sendable, Codable {
    /// The protocol version the worker speaks; must equal the header's (R13).
    public var protocolVersion: UInt16
    public var hostname: String
    /// Process id on `hostname`, ≥ 1.
    public var pid: Int
    /// CPU cores the worker will use, ≥ 1.
    public var cores: Int
    /// Fingerprint of the worker's local dataset (the dataset file's `fingerprint` attribute);
    /// empty when `hasLocalData` is false.
    public var datasetFingerprint: String
    /// Whether the worker reads samples from its own copy of the dataset. When false the
    /// coordinator ships sample records inside each assignment.
    public var hasLocalData: Bool
    /// The worker mapped the coordinator's shared weights region and made one of its own for
    /// results (optional; only a worker on the coordinator's machine can).
    public var sharedMemory: SharedMemoryOffer?
    /// The kernels the worker computes with: OpenBLAS's core type (`openblas_get_corename`)
    /// and the instruction path of Loom's own kernels. The coordinator admits only workers
    /// whose kernels compute the same bits as the run's (LoomCluster reads these two as a
    /// `KernelIdentity`; the wire carries them as the strings they are).
    public var blasCore: String
    public var kernelPath: String
    /// The revision of Loom's arithmetic the worker computes with (`kernel_revision`;
    /// optional on the wire, absent reads 0: a worker from before revisions were sent).
    public var kernelRevision: Int

    public init(protocolVersion: UInt16 = WireHeader.protocolVersion, hostname: String, pid: Int,
                cores: Int, datasetFingerprint: String, hasLocalData: Bool, sharedMemory: SharedMemoryOffer? = nil,
                blasCore: String, kernelPath: String, kernelRevision: Int = 0) {
        self.sharedMemory = sharedMemory
        self.blasCore = blasCore
        self.kernelPath = kernelPath
        self.kernelRevision = kernelRevision
        self.protocolVersion = protocolVersion
        self.hostname = hostname
        self.pid = pid
        self.cores = cores
        self.datasetFingerprint = datasetFingerprint
        self.hasLocalData = hasLocalData
    }

    enum CodingKeys: String, CodingKey {
        case protocolVersion = "protocol_version", hostname, pid, cores
        case datasetFingerprint = "dataset_fingerprint", hasLocalData = "has_local_data"
        case sharedMemory = "shared_memory"
        case blasCore = "blas_core", kernelPath = "kernel_path", kernelRevision = "kernel_revision"
    }

    /// Reads `protocol_version` as a plain integer first: Foundation reports a number out of
    /// UInt16 range as "invalid JSON", which would hide the field at fault.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let version = try c.decode(Int.self, forKey: .protocolVersion)
        guard let narrow = UInt16(exactly: version) else {
            throw DecodingError.dataCorruptedError(forKey: .protocolVersion, in: c, debugDescription: "out of range")
        }
        protocolVersion = narrow
        hostname = try c.decode(String.self, forKey: .hostname)
        pid = try c.decode(Int.self, forKey: .pid)
        cores = try c.decode(Int.self, forKey: .cores)
        datasetFingerprint = try c.decode(String.self, forKey: .datasetFingerprint)
        hasLocalData = try c.decode(Bool.self, forKey: .hasLocalData)
        sharedMemory = try c.decodeIfPresent(SharedMemoryOffer.self, forKey: .sharedMemory)
        blasCore = try c.decode(String.self, forKey: .blasCore)
        kernelPath = try c.decode(String.self, forKey: .kernelPath)
        kernelRevision = try c.decodeIfPresent(Int.self, forKey: .kernelRevision) ?? 0
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(protocolVersion, forKey: .protocolVersion)
        try c.encode(hostname, forKey: .hostname)
        try c.encode(pid, forKey: .pid)
        try c.encode(cores, forKey: .cores)
        try c.encode(datasetFingerprint, forKey: .datasetFingerprint)
        try c.encode(hasLocalData, forKey: .hasLocalData)
        try c.encodeIfPresent(sharedMemory, forKey: .sharedMemory)
        try c.encode(blasCore, forKey: .blasCore)
        try c.encode(kernelPath, forKey: .kernelPath)
        try c.encode(kernelRevision, forKey: .kernelRevision)
    }

    /// R13 range checks; the header's version was already checked equal to ours (R3).
    func validate() throws(WireError) {
        guard protocolVersion == WireHeader.protocolVersion else {
            throw .json(type: .hello, rule: "protocol_version \(protocolVersion) differs from the header's \(WireHeader.protocolVersion)")
        }
        guard pid >= 1 else { throw .json(type: .hello, rule: "pid \(pid) is not ≥ 1") }
        guard cores >= 1 else { throw .json(type: .hello, rule: "cores \(cores) is not ≥ 1") }
        for (name, value) in [("blas_core", blasCore), ("kernel_path", kernelPath)] {
            guard (1...64).contains(value.utf8.count), value.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
                throw .json(type: .hello, rule: "\(name) is not 1-64 printable ASCII characters without spaces")
            }
        }
        guard (0...65535).contains(kernelRevision) else {
            throw .json(type: .hello, rule: "kernel_revision \(kernelRevision) is not in 0...65535")
        }
        if let offer = sharedMemory {
            for (name, token) in [("weights_token", offer.weightsToken), ("results_token", offer.resultsToken)] {
                guard SharedRegion.isTokenHex(token) else {
                    throw .json(type: .hello, rule: "shared_memory.\(name) is not \(2 * SharedRegion.tokenBytes) lowercase hex digits")
                }
            }
            guard !offer.resultsPath.isEmpty, offer.resultsPath.utf8.count <= 4096 else {
                throw .json(type: .hello, rule: "shared_memory.results_path is empty or longer than 4096 bytes")
            }
        }
    }
}

/// A worker's side of the shared-memory handshake (in its hello): the token it read from the
/// coordinator's weights region (proof that it mapped that file, which a worker on another
/// machine cannot), and its own results region with that region's token.
public struct SharedMemoryOffer: Equatable, Sendable, Codable {
    public var weightsToken: String
    public var resultsPath: String
    public var resultsToken: String

    public init(weightsToken: String, resultsPath: String, resultsToken: String) {
        self.weightsToken = weightsToken
        self.resultsPath = resultsPath
        self.resultsToken = resultsToken
    }

    enum CodingKeys: String, CodingKey {
        case weightsToken = "weights_token", resultsPath = "results_path", resultsToken = "results_token"
    }
}

/// Coordinator → worker: the worker is accepted into run `runID` (non-zero) and must train
/// with `configYAML`, the effective config of the run.
public struct Welcome: Equatable, Sendable {
    public var runID: UInt64
    public var configYAML: String
    /// What else the worker needs to rebuild the run's model without the dataset (resolved
    /// heads, image shape...): JSON text whose meaning belongs to LoomCluster. Optional on
    /// the wire (missing = empty).
    public var runJSON: String
    /// The coordinator's shared weights region, for a worker on the same machine to map
    /// (optional; empty = none). The path alone proves nothing: the worker quotes the
    /// token it finds inside.
    public var sharedWeightsPath: String

    public init(runID: UInt64, configYAML: String, runJSON: String = "", sharedWeightsPath: String = "") {
        self.runID = runID
        self.configYAML = configYAML
        self.runJSON = runJSON
        self.sharedWeightsPath = sharedWeightsPath
    }

    struct Body: Codable {
        var config_yaml: String
        var run_json: String?
        var shared_weights_path: String?
    }
}

/// Coordinator → worker: the worker is not accepted (protocol version, dataset
/// fingerprint, run id, ...). `reason` is for humans and logs.
public struct Refusal: Equatable, Sendable {
    /// The coordinator's run id, or 0 if it refuses before a run exists.
    public var runID: UInt64
    public var reason: String

    public init(runID: UInt64, reason: String) {
        self.runID = runID
        self.reason = reason
    }
}

/// Coordinator → worker: finish and exit (training done, or the coordinator is stopping).
public struct Shutdown: Equatable, Sendable {
    public var runID: UInt64
    public var reason: String

    public init(runID: UInt64, reason: String) {
        self.runID = runID
        self.reason = reason
    }
}

/// The JSON body of refuse and shutdown.
struct ReasonBody: Codable {
    var reason: String
}
