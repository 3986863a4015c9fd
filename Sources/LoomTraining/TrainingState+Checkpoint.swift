// TrainingState <-> CheckpointContents: everything resume needs, nothing it can derive.
// The sampler and every random stream are pure functions of (seed, epoch, step, sample),
// so the step counter is the whole of their state; it is stored as /sampler anyway so a
// reader sees where the epoch stands.

import Foundation
import LoomCheckpoint
import LoomKernels

extension TrainingState {
    /// The model's tensors in PyTorch's state_dict order (module by module: parameters,
    /// then buffers), PyTorch names and shapes.
    public func modelTensors() -> [NamedTensor] {
        func tensors(_ layout: ParameterLayout, _ values: [Float]) -> [NamedTensor] {
            layout.views.map { v in
                NamedTensor(name: v.name, shape: v.shape, values: Array(values[v.offset..<(v.offset + v.count)]))
            }
        }
        return StateDictOrder.ordered(tensors(problem.model.parameters, parameters) + tensors(problem.model.buffers, buffers))
    }

    /// What `CheckpointReader` must find for this model: every tensor, by name and shape.
    public var checkpointExpectation: CheckpointExpectation {
        let m = problem.model
        return CheckpointExpectation((m.parameters.views + m.buffers.views).map { ($0.name, $0.shape) })
    }

    public func snapshot(runID: String, datasetFingerprint: String) -> CheckpointContents {
        let position = schedule.position(atStep: step)
        let state = optimizer.state
        let bnLayers = problem.model.buffers.views.compactMap { v -> String? in
            v.name.hasSuffix(".running_mean") ? String(v.name.dropLast(".running_mean".count)) : nil
        }
        let data = problem.config.data
        return CheckpointContents(
            runID: runID, step: step, epoch: epoch, stepInEpoch: step % stepsPerEpoch,
            config: problem.config.yaml, datasetFingerprint: datasetFingerprint,
            model: modelTensors(), batchNormLayers: bnLayers, numBatchesTracked: step,
            optimizer: OptimizerSnapshot(kind: problem.config.optimizer.kind.rawValue, step: state.step, slots: state.slots),
            schedule: ScheduleSnapshot(kind: problem.config.schedule.kind.rawValue, epoch: position.epoch,
                                       tCur: position.tCur, tI: position.tI, restarts: position.restarts, lr: position.lr),
            sampler: SamplerSnapshot(seed: problem.config.training.seed, epoch: epoch, stepInEpoch: step % stepsPerEpoch),
            rngStates: [:],
            preprocessing: PreprocessingSnapshot(scale: 1.0 / 255.0,
                                                 mean: data.mean.isEmpty ? [0] : data.mean,
                                                 std: data.std.isEmpty ? [1] : data.std),
            calibration: calibration, metrics: history,
            extraAttributes: [
                "pending_train_loss": String(pendingLossBits, radix: 16),
                "pending_train_steps": String(pendingStepCount),
                "validation_count": String(validationIndices.count),
            ].merging(watch.attributes) { a, _ in a })
    }

    /// Continues from `contents` (already validated against `checkpointExpectation`).
    public func restore(from contents: CheckpointContents) throws(TrainingError) {
        guard contents.step <= plannedSteps else {
            throw .checkpointDoesNotFit(path: nil, reason: "it is at step \(contents.step), beyond this run's \(plannedSteps) steps")
        }
        let m = problem.model
        var newParameters = parameters, newBuffers = buffers
        let byName = Dictionary(contents.model.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for (layout, isBuffer) in [(m.parameters, false), (m.buffers, true)] {
            for v in layout.views {
                guard let t = byName[v.name], t.values.count == v.count else {
                    throw .checkpointDoesNotFit(path: nil, reason: "it has no tensor '\(v.name)' of \(v.count) values")
                }
                for i in 0..<v.count {
                    if isBuffer { newBuffers[v.offset + i] = t.values[i] } else { newParameters[v.offset + i] = t.values[i] }
                }
            }
        }
        do {
            try optimizer.restore(OptimizerState(slots: contents.optimizer.slots, step: contents.optimizer.step))
        } catch { throw .checkpointDoesNotFit(path: nil, reason: "optimizer state: \(error)") }
        parameters = newParameters
        buffers = newBuffers
        history = contents.metrics
        calibration = contents.calibration
        watchRestoreNotes = watch.restore(from: contents.extraAttributes)
        restoreCounters(step: contents.step,
                        pendingLossBits: UInt64(contents.extraAttributes["pending_train_loss"] ?? "0", radix: 16) ?? 0,
                        pendingSteps: Int(contents.extraAttributes["pending_train_steps"] ?? "0") ?? 0)
    }
}

/// What `initialize(from:)` did, tensor by tensor.
public struct InitializationReport: Sendable {
    public var loaded: [String] = []
    /// "name: reason" for tensors of this model left at their fresh initialisation.
    public var skipped: [String] = []
    /// Those of `skipped` outside the heads' own layers: trunk layers a fine-tune expected
    /// to start from the source's weights.
    public var skippedInTrunk: [String] = []
}

extension TrainingState {
    /// Transfer learning: copies every tensor of `source` whose name and shape match this
    /// model's. A shape mismatch on a layer in `frozenLayers` (which the caller asked to
    /// keep as loaded) is an error; other mismatches are skipped and reported.
    public func initialize(from source: CheckpointContents,
                           frozenLayers: Set<String> = []) throws(TrainingError) -> InitializationReport {
        var report = InitializationReport()
        let byName = Dictionary(source.model.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let headLayers = Set(problem.config.heads.map(\.layer))
        func skip(_ name: String, _ why: String) {
            report.skipped.append("\(name): \(why)")
            if !headLayers.contains(TrainingState.layerName(of: name)) { report.skippedInTrunk.append("\(name): \(why)") }
        }
        let m = problem.model
        for (layout, isBuffer) in [(m.parameters, false), (m.buffers, true)] {
            for v in layout.views {
                guard let t = byName[v.name] else {
                    if frozenLayers.contains(TrainingState.layerName(of: v.name)) {
                        throw .checkpointDoesNotFit(path: nil, reason: "--freeze \(TrainingState.layerName(of: v.name)): the source checkpoint has no tensor '\(v.name)'")
                    }
                    skip(v.name, "not in the source")
                    continue
                }
                guard t.shape == v.shape else {
                    if frozenLayers.contains(TrainingState.layerName(of: v.name)) {
                        throw .checkpointDoesNotFit(path: nil, reason: "cannot load '\(v.name)' for frozen layer: source shape \(t.shape), model shape \(v.shape)")
                    }
                    skip(v.name, "shape \(t.shape) vs \(v.shape)")
                    continue
                }
                for i in 0..<v.count {
                    if isBuffer { buffers[v.offset + i] = t.values[i] } else { parameters[v.offset + i] = t.values[i] }
                }
                report.loaded.append(v.name)
            }
        }
        return report
    }
}
