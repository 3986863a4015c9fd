// Every buffer a forward and backward pass touches, allocated once for a maximum batch so
// that the training step loop allocates nothing.
import LoomKernels

/// Activations, their gradients, conv scratch and saved statistics for one model and up
/// to `capacity` samples. Not thread-safe: one workspace per concurrent pass.
public final class Workspace {
    /// Largest batch a pass may use.
    public let capacity: Int
    /// Samples in the last forward pass.
    public internal(set) var count = 0
    /// Whether the last forward pass was in training mode.
    public internal(set) var training = false
    /// After a training forward, in the `buffers` layout: each batch-norm layer's batch
    /// mean in its running_mean slot and unbiased batch variance in its running_var slot.
    public let batchStatistics: UnsafeMutablePointer<Float>
    /// Floats in `batchStatistics` (= model.buffers.count).
    public let batchStatisticsCount: Int

    let model: Model
    /// Activations then gradients of every slot, each `slotSizes[s]·capacity` floats.
    let arena: UnsafeMutablePointer<Float>
    let activationOffsets: [Int]
    let gradientOffsets: [Int]
    let scratch: UnsafeMutablePointer<Float>
    let argmax: UnsafeMutablePointer<Int32>
    let masks: UnsafeMutablePointer<Float>
    /// Mean and 1/√(var + eps) used by the last forward, at the running_mean offsets (buffers layout).
    let savedMean: UnsafeMutablePointer<Float>
    let savedInvStd: UnsafeMutablePointer<Float>
    /// Per-channel coefficients of a fused tail's input gradient (meanDz at the running_mean
    /// offsets, slope at the running_var offsets), between the two halves of its backward pass.
    let backwardTerms: UnsafeMutablePointer<Float>
    /// Per-plane (mean, Σ (y − mean)²) (capacity, channels, 2) that a conv leaves for the
    /// fused batch-norm tail after it.
    let moments: UnsafeMutablePointer<Float>
    let momentsCount: Int
    let arenaCount: Int
    let scratchCount: Int

    init(model: Model, capacity: Int) {
        let capacity = max(capacity, 1)
        self.model = model
        self.capacity = capacity
        var offset = 0
        var activations: [Int] = []
        for size in model.slotSizes {
            activations.append(offset)
            offset += size * capacity
        }
        var gradients: [Int] = []
        for size in model.slotSizes {
            gradients.append(offset)
            offset += size * capacity
        }
        activationOffsets = activations
        gradientOffsets = gradients
        arenaCount = offset
        arena = .allocate(capacity: max(offset, 1))
        arena.initialize(repeating: 0, count: max(offset, 1))
        scratchCount = model.convShapes.map {
            $0.scratchCount(imagesPerGEMM: $0.imagesPerGEMM(batch: capacity))
        }.max() ?? 0
        scratch = .allocate(capacity: max(scratchCount, 1))
        scratch.initialize(repeating: 0, count: max(scratchCount, 1))
        argmax = .allocate(capacity: max(model.argmaxCount * capacity, 1))
        argmax.initialize(repeating: 0, count: max(model.argmaxCount * capacity, 1))
        masks = .allocate(capacity: max(model.maskCount * capacity, 1))
        masks.initialize(repeating: 0, count: max(model.maskCount * capacity, 1))
        batchStatisticsCount = model.buffers.count
        batchStatistics = .allocate(capacity: max(batchStatisticsCount, 1))
        savedMean = .allocate(capacity: max(batchStatisticsCount, 1))
        savedInvStd = .allocate(capacity: max(batchStatisticsCount, 1))
        backwardTerms = .allocate(capacity: max(batchStatisticsCount, 1))
        momentsCount = 2 * capacity * (model.convShapes.map(\.outChannels).max() ?? 0)
        moments = .allocate(capacity: max(momentsCount, 1))
        moments.initialize(repeating: 0, count: max(momentsCount, 1))
        for p in [batchStatistics, savedMean, savedInvStd, backwardTerms] {
            p.initialize(repeating: 0, count: max(batchStatisticsCount, 1))
        }
    }

    deinit {
        arena.deallocate()
        scratch.deallocate()
        argmax.deallocate()
        masks.deallocate()
        batchStatistics.deallocate()
        savedMean.deallocate()
        savedInvStd.deallocate()
        backwardTerms.deallocate()
        moments.deallocate()
    }

    /// Floats allocated by this workspace (activations, gradients and scratch), for logs.
    public var floatCount: Int { arenaCount + scratchCount + (model.argmaxCount + model.maskCount) * capacity }

    @inline(__always) func activation(_ slot: Int) -> UnsafeMutablePointer<Float> { arena + activationOffsets[slot] }
    @inline(__always) func gradient(_ slot: Int) -> UnsafeMutablePointer<Float> { arena + gradientOffsets[slot] }

    /// Head `head`'s logits (count, K) from the last forward pass.
    public func logits(head: Int) -> UnsafeMutablePointer<Float> { activation(model.logitSlots[head]) }

    /// The trunk's output (count, featureCount) from the last forward pass: what the heads
    /// read, kept intact by them.
    public func features() -> UnsafeMutablePointer<Float> { activation(model.featureSlot) }

    /// Where the caller writes head `head`'s loss gradient (count, K) before `backward`.
    public func dlogits(head: Int) -> UnsafeMutablePointer<Float> { gradient(model.logitSlots[head]) }
}
