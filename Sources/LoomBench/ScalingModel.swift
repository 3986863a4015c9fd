// The cost model of docs/SCALING.md: what a synchronous step costs on N hosts, from the
// model's size, the link rate, the compute time and two costs measured on this host (adding
// two gradients, one optimizer step). It predicts the figures `loom bench --hosts` measures,
// and what other designs would meet on the same links.

/// A step's predicted time, in seconds, by where it goes.
public struct StepCost: Sendable {
    public var compute: Double
    /// Weights from the servers to the workers, and gradients back, on the busiest link.
    public var weightsOut: Double
    public var gradientsIn: Double
    public var reduce: Double
    public var optimizer: Double
    /// CPU time of moving the weights out and a gradient back that no link rate explains
    /// (encoding, CURVE, copies, decoding and checks at both ends).
    public var transferCPU: Double = 0
    public var total: Double { compute + weightsOut + gradientsIn + reduce + optimizer + transferCPU }
}

public struct ScalingModel: Sendable {
    /// Trainable parameters (4 bytes each on the wire in fp32).
    public var parameters: Int
    /// Link rate in bytes per second (tc's rate: whole Ethernet frames).
    public var linkBytesPerSecond: Double
    /// Link bytes per payload byte: TCP/IP and Ethernet headers (1514-byte frames for 1448
    /// bytes of payload), ZeroMQ and CURVE framing. 1.049 measured on the bed (part 1 note).
    public var framing: Double = 1.049
    /// Compute per host per step (the stand-in's hold).
    public var compute: Double
    /// Seconds to add one gradient to another (memory-bound, measured here).
    public var addSeconds: Double
    /// Seconds of one optimizer step over all parameters (measured here).
    public var optimizerSeconds: Double
    /// The CPU time of one round trip of the weights and a gradient without a link between
    /// (`StepCost.transferCPU`): `loom bench --hosts` takes it from its 1-host run, where
    /// coordinator and worker share host 0 and only the loopback lies between them.
    public var transferCPU: Double = 0
    /// Bytes per parameter on the wire: 4 (fp32), 2 with bf16.
    public var bytesPerValue: Double = 4
    /// With overlap and servers: the parameters of the layers the backward pass finishes
    /// last (the slices' last bucket, `ParameterSlices.buckets`), and among how many servers
    /// they are spread (1 in one contiguous slice; `ParameterSlices.pieceCount` by buckets).
    public var lastBucketValues = 0
    public var lastBucketPieces = 1

    public init(parameters: Int, linkBytesPerSecond: Double, compute: Double, addSeconds: Double, optimizerSeconds: Double) {
        self.parameters = parameters
        self.linkBytesPerSecond = linkBytesPerSecond
        self.compute = compute
        self.addSeconds = addSeconds
        self.optimizerSeconds = optimizerSeconds
    }

    /// Seconds one model-sized array takes on one link.
    public var modelOnLink: Double { Double(parameters) * bytesPerValue * framing / linkBytesPerSecond }

    /// One coordinator on host 0 (S = 1), a worker on every host (host 0's over loopback):
    /// the coordinator's link carries N − 1 weights out, then N − 1 gradients in, one after
    /// the other (no overlap: a worker starts once its weights are in, the weights of all
    /// share the link and arrive together). N − 1 additions, one optimizer step.
    public func singleCoordinator(hosts n: Int) -> StepCost {
        let remote = Double(n - 1)
        var c = StepCost(compute: compute, weightsOut: remote * modelOnLink, gradientsIn: remote * modelOnLink,
                         reduce: remote * addSeconds, optimizer: optimizerSeconds)
        c.transferCPU = transferCPU
        return c
    }

    /// S = N shards, one per host, co-located with its workers (part 2 of the plan): each
    /// host pushes (N − 1)/N of its gradient to the other shards and receives as much for
    /// its own, full duplex; the same for weights. Each shard adds N slices of 1/N and steps
    /// the optimizer on 1/N of the parameters, all shards at once.
    public func sharded(hosts n: Int) -> StepCost {
        let share = Double(n - 1) / Double(n)
        var c = StepCost(compute: compute, weightsOut: share * modelOnLink, gradientsIn: share * modelOnLink,
                         reduce: Double(n - 1) * addSeconds / Double(n), optimizer: optimizerSeconds / Double(n))
        c.transferCPU = transferCPU
        return c
    }

    /// The ring-allreduce bound PyTorch DDP meets on the same links: 2(N − 1)/N model sizes
    /// per host per step each way, every host its own optimizer step on all parameters.
    public func ringAllreduce(hosts n: Int) -> StepCost {
        let share = Double(n - 1) / Double(n)
        var c = StepCost(compute: compute, weightsOut: share * modelOnLink, gradientsIn: share * modelOnLink,
                         reduce: Double(n - 1) * addSeconds / Double(n), optimizer: optimizerSeconds)
        c.transferCPU = transferCPU
        return c
    }

    /// With overlap (part 4): communication hides behind compute up to `hidden` of it (0 to
    /// 1: the share of the backward and forward pass it can run beside); the rest shows.
    public static func overlapped(_ c: StepCost, hidden: Double) -> Double {
        let comm = c.weightsOut + c.gradientsIn
        return c.compute + max(0, comm - hidden * c.compute) + c.reduce + c.optimizer
    }

    /// The share h of a host's compute that can hide communication with overlap: the
    /// backward pass (two thirds of a training step's compute) of a block's last
    /// micro-shard, the only one whose gradient ranges are final while compute goes on,
    /// less the part of it that passes before each layer's gradient is ready.
    /// `layers`: (parameters, forward FLOPs) per layer in backward order; a layer's bytes
    /// can hide behind what is left of the backward pass once it is done, so h is the
    /// byte-weighted mean of that remainder. Without layers, the whole backward pass.
    public static func overlapShare(microShardsPerBlock c: Int, layers: [(parameters: Int, flops: Int)] = []) -> Double {
        let backward = 2.0 / 3.0 / Double(max(c, 1))
        let bytes = Double(layers.reduce(0) { $0 + $1.parameters })
        let flops = Double(layers.reduce(0) { $0 + $1.flops })
        guard bytes > 0, flops > 0 else { return backward }
        var done = 0.0, share = 0.0
        for layer in layers {
            done += Double(layer.flops) / flops
            share += Double(layer.parameters) / bytes * (1 - done)
        }
        return backward * share
    }

    /// With overlap, what no compute hides: after the backward pass, the last bucket's
    /// gradients converge on the servers holding it, from N − 1 hosts, and its new weights
    /// leave them for N − 1 workers, one after the other on those servers' links:
    /// 2 (N − 1) φ B / (k R) for B bytes spread over k servers.
    public func tail(hosts n: Int) -> Double {
        guard n > 1, lastBucketValues > 0 else { return 0 }
        let bytes = Double(lastBucketValues) / Double(max(1, lastBucketPieces)) * bytesPerValue * framing
        return 2 * Double(n - 1) * bytes / linkBytesPerSecond
    }

    /// Weak-scaling efficiency: the step at one host over the step at N (per-host batch fixed).
    public static func efficiency(one: Double, n: Double) -> Double { one / n }
}
