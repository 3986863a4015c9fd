// The traffic of sharded aggregation (issue 20; docs/PROTOCOL.md, "Shard servers"): one
// message type, `shard` (11), whose JSON frame names its kind and carries its small fields,
// and whose `values` frame carries a float32 array (a slice of gradients, weights or
// optimizer state). One type rather than nine keeps the core protocol's messages and their
// rules as they were: a peer that takes no part in sharding never sees one.
//
//   kind          direction  header                 JSON fields                 values
//   server_hello  S → C      run 0                  endpoint, hostname, pid,    —
//                                                   public_key?
//   state         C → S      run, version           shard, shards, lower,       parameters [n] then
//                                                   upper, config_yaml,         each optimizer slot [n]
//                                                   optimizer_step, slots,
//                                                   authorized_keys?
//   state         S → C      run, version           shard, lower, upper,        the same
//                                                   optimizer_step, slots
//   update        C → S      run, step, version     blocks, leaves, lr_bits     —
//   updated       S → C      run, step, version+1   shard, finite               —
//   gather        C → S      run, version           —                           —
//   map           C → W      run, version           servers [{endpoint, lower,  —
//                                                   upper, public_key?}],
//                                                   buckets? (overlap)
//   gradient      W → S      run, step, version     first, count, lower?,       gradient slice [n], or
//                                                   upper? (overlap)            range [upper − lower]
//   pull          W → S      run, version           —                           —
//   slice         S → W      run, version           shard, lower, upper         parameters [n] (the
//                                                                               slice, or one range of it)
//
// In a run with `cluster.wire: bf16` the values of `gradient` and `slice` travel as bfloat16
// (header flag `bf16`, 2 bytes a value, `BFloat16Codec`); every other kind stays float32,
// so the state a server is given and gives back (checkpoints) is the float32 master.

import LoomKernels

/// One message of sharded aggregation.
public struct ShardMessage: Equatable, Sendable {
    public enum Kind: String, Codable, Sendable {
        case serverHello = "server_hello"
        case state, update, updated, gather, map, gradient, pull, slice
    }

    public var runID: UInt64
    public var step: UInt64
    public var weightsVersion: UInt64
    public var body: ShardBody
    /// float32, all finite (R12). A received message's float32 values are read where its
    /// frame holds them (`FloatValues`); `values.array` copies them out.
    public var values: FloatValues
    /// Header flag `bf16` (`gradient` and `slice` only): `values` travel as bfloat16, 2 bytes
    /// a value, rounded to nearest even, and are widened on receipt.
    public var bf16: Bool

    public init(runID: UInt64, step: UInt64 = 0, weightsVersion: UInt64 = 0, body: ShardBody, values: FloatValues = [],
                bf16: Bool = false) {
        self.runID = runID; self.step = step; self.weightsVersion = weightsVersion
        self.body = body; self.values = values; self.bf16 = bf16
    }

    public init(runID: UInt64, step: UInt64 = 0, weightsVersion: UInt64 = 0, body: ShardBody, values: [Float],
                bf16: Bool = false) {
        self.init(runID: runID, step: step, weightsVersion: weightsVersion, body: body, values: FloatValues(values), bf16: bf16)
    }

    /// The kinds whose values may travel as bfloat16: a worker's gradient slice and a
    /// server's weights slice. The state (optimizer slots, the float32 master) never does.
    public static let bf16Kinds: Set<Kind> = [.gradient, .slice]

    public var kind: Kind { body.kind }

    /// R11-R13 for shard messages: the fields the kind needs, in range, and a values frame
    /// of the size they imply.
    static func decode(_ h: WireHeader, _ p: PayloadReader) throws(WireError) -> ShardMessage {
        // The canonical compact form without JSONDecoder (`ShardBody.compact`), else JSONDecoder.
        let frame = p.frames[0]
        let body: ShardBody
        if frame.count <= WireHeader.maxJSONBytes, let compact = ShardBody.compact(frame) { body = compact } else {
            body = try p.json(0, as: ShardBody.self)
        }
        func bad(_ rule: String) -> WireError { .json(type: .shard, rule: "\(body.kind.rawValue): \(rule)") }
        if h.isBF16 && !bf16Kinds.contains(body.kind) { throw bad("only gradient and slice values may travel as bf16") }
        let values = try p.finiteFloatValues(1, bf16: h.isBF16)
        if body.kind != .serverHello && h.runID == 0 { throw .runID(type: .shard, actual: 0, rule: "only a server_hello may carry run id 0") }
        if body.kind == .serverHello && h.runID != 0 { throw .runID(type: .shard, actual: h.runID, rule: "a server_hello must carry run id 0") }
        func bounds() throws(WireError) -> Int {
            guard let lower = body.lower, let upper = body.upper, lower >= 0, upper >= lower, upper <= 1 << 31 else {
                throw bad("needs 0 <= lower <= upper <= 2^31")
            }
            return upper - lower
        }
        switch body.kind {
        case .serverHello:
            guard let endpoint = body.endpoint, (1...4096).contains(endpoint.utf8.count) else { throw bad("needs an endpoint of 1-4096 bytes") }
            guard (body.pid ?? 0) >= 1 else { throw bad("needs a pid >= 1") }
            if let key = body.publicKey, CurveKeyPair.decodeZ85(key) == nil { throw bad("public_key is not a 40-character Z85 CURVE key") }
        case .state:
            let n = try bounds()
            guard let shard = body.shard, shard >= 0, (body.optimizerStep ?? -1) >= 0, let slots = body.slots, slots.count <= 4 else {
                throw bad("needs shard >= 0, optimizer_step >= 0 and at most 4 slot names")
            }
            if let shards = body.shards, !(1...4096).contains(shards) || shard >= shards { throw bad("shard \(shard) of \(shards)") }
            if let keys = body.authorizedKeys {
                guard keys.count <= 65536, keys.allSatisfy({ CurveKeyPair.decodeZ85($0) != nil }) else {
                    throw bad("authorized_keys must be at most 65536 40-character Z85 CURVE keys")
                }
            }
            guard values.count == n * (1 + slots.count) else {
                throw .frameSize(type: .shard, frame: p.name(1), bytes: 4 * values.count, rule: "expected \(n) parameters and \(slots.count) slot(s) of \(n)")
            }
        case .update:
            guard let leaves = body.leaves, leaves >= 1, let blocks = body.blocks, !blocks.isEmpty, blocks.count % 2 == 0,
                  blocks.allSatisfy({ $0 >= 0 }), body.lrBits != nil else {
                throw bad("needs leaves >= 1, blocks as (start, count) pairs and lr_bits")
            }
        case .updated:
            guard body.shard != nil, body.finite != nil else { throw bad("needs shard and finite") }
        case .map:
            guard let servers = body.servers, (1...4096).contains(servers.count) else { throw bad("needs 1-4096 servers") }
            for s in servers where s.endpoint.isEmpty || s.lower < 0 || s.upper < s.lower { throw bad("server \(s.endpoint) [\(s.lower), \(s.upper))") }
            if let buckets = body.buckets {
                guard buckets.count <= 1 << 20, zip([0] + buckets, buckets).allSatisfy({ $0 < $1 }), (buckets.last ?? 0) <= 1 << 31 else {
                    throw bad("buckets must ascend from above 0, at most 2^20 of them below 2^31")
                }
            }
            for s in servers where s.publicKey.map({ CurveKeyPair.decodeZ85($0) == nil }) ?? false {
                throw bad("server \(s.endpoint): public_key is not a 40-character Z85 CURVE key")
            }
        case .gradient:
            guard let first = body.first, let count = body.count, first >= 0, count >= 1 else { throw bad("needs first >= 0 and count >= 1") }
            // With overlap a gradient carries one range of the parameters (`lower ..< upper`).
            if body.lower != nil || body.upper != nil {
                let n = try bounds()
                guard n >= 1, values.count == n else { throw bad("a range needs lower < upper and \(n) values") }
            }
        case .slice:
            let n = try bounds()
            guard body.shard != nil, values.count == n else { throw bad("needs shard and \(n) values") }
        case .gather, .pull:
            break
        }
        return ShardMessage(runID: h.runID, step: h.step, weightsVersion: h.weightsVersion, body: body, values: values,
                            bf16: h.isBF16)
    }
}

extension ShardMessage {
    /// The frames of this message (its `values` ignored) with `values` read from a buffer:
    /// a worker's push of one slice of its gradient, without copying the slice into an
    /// array first; with `bf16` narrowed straight from the buffer.
    public func encode(values: UnsafeBufferPointer<Float>) -> [[UInt8]] {
        var empty = self
        empty.values = []
        var frames = Message.shard(empty).encode()
        frames[2] = bf16 ? BFloat16Codec.narrow(values) : Array(UnsafeRawBufferPointer(values))
        var header = WireHeader(type: .shard, runID: runID, step: step, weightsVersion: weightsVersion,
                                flags: bf16 ? WireHeader.bf16Flag : 0)
        header.payloadFrameCount = 2
        header.payloadBytes = UInt64(frames[1].count + frames[2].count)
        frames[0] = header.encode()
        return frames
    }
}

/// The JSON frame of a shard message; which fields a kind needs is in the table above.
public struct ShardBody: Codable, Equatable, Sendable {
    public var kind: ShardMessage.Kind
    public var endpoint: String?
    public var hostname: String?
    public var pid: Int?
    public var shard: Int?
    public var shards: Int?
    public var lower: Int?
    public var upper: Int?
    public var configYAML: String?
    public var optimizerStep: Int?
    /// Names of the optimizer slots that follow the parameters in `values`, in order.
    public var slots: [String]?
    /// A step's pieces as (start, count) pairs of micro-shards, in the order of the tree.
    public var blocks: [Int]?
    /// The step's micro-shard count: the reduction tree's leaves.
    public var leaves: Int?
    /// The step's learning rate, as the bits of a Double (exact).
    public var lrBits: UInt64?
    public var finite: Bool?
    public var servers: [ServerAddress]?
    /// The slices' buckets (map, with overlap): interior boundaries of the parameters,
    /// ascending; each bucket is cut into one piece per server (`ParameterSlices`), and a
    /// server's `lower ..< upper` are offsets of the layout. Absent: one bucket, and the
    /// layout is the parameters' order.
    public var buckets: [Int]?
    public var first: Int?
    public var count: Int?
    /// The optimizer's parameter groups within the slice (state, C → S).
    public var groups: [SliceGroup]?
    /// A server's CURVE public key (Z85), which workers must find at its endpoint
    /// (server_hello, when the server runs with keys).
    public var publicKey: String?
    /// The worker keys (Z85) a CURVE server is to admit: its coordinator's allow-list
    /// (state, when the coordinator runs with keys).
    public var authorizedKeys: [String]?

    public init(kind: ShardMessage.Kind) { self.kind = kind }

    enum CodingKeys: String, CodingKey {
        case kind, endpoint, hostname, pid, shard, shards, lower, upper, slots, blocks, leaves, finite, servers, buckets, first, count, groups
        case publicKey = "public_key"
        case authorizedKeys = "authorized_keys"
        case configYAML = "config_yaml"
        case optimizerStep = "optimizer_step"
        case lrBits = "lr_bits"
    }
}

/// One optimizer parameter group, restricted to a slice (offsets from the slice's start).
public struct SliceGroup: Codable, Equatable, Sendable {
    public var lower: Int
    public var upper: Int
    public var lrScale: Double
    public var weightDecay: Bool
    public var trainsFrom: Int

    public init(lower: Int, upper: Int, lrScale: Double, weightDecay: Bool, trainsFrom: Int) {
        self.lower = lower; self.upper = upper; self.lrScale = lrScale; self.weightDecay = weightDecay
        self.trainsFrom = trainsFrom
    }

    enum CodingKeys: String, CodingKey {
        case lower, upper
        case lrScale = "lr_scale"
        case weightDecay = "weight_decay"
        case trainsFrom = "trains_from"
    }
}

/// Where a worker finds one shard server, and which slice it holds.
public struct ServerAddress: Codable, Equatable, Sendable {
    public var endpoint: String
    public var lower: Int
    public var upper: Int
    /// The server's CURVE public key (Z85), when it runs with keys.
    public var publicKey: String?

    public init(endpoint: String, lower: Int, upper: Int, publicKey: String? = nil) {
        self.endpoint = endpoint; self.lower = lower; self.upper = upper; self.publicKey = publicKey
    }

    enum CodingKeys: String, CodingKey {
        case endpoint, lower, upper
        case publicKey = "public_key"
    }
}
