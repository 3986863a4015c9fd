// What synchronous data-parallel training could reach on this machine without any data
// traffic: N processes (like N workers, each single-threaded), each computing 1/N of the batch
// and taking its own optimizer step, held together by a one-byte barrier every step (each
// child writes a byte when its step is done, the parent answers all of them once every child
// is in). Nothing is encoded, copied or sent, so the only loss left is that every step waits
// for the slowest core: on a machine whose cores' speed varies from step to step, the
// synchronous barrier alone costs throughput. `loom bench --workers` prints this bound next
// to the measured efficiency, to tell the machine's share of a gap from Loom's messages.
//
// The parent is `loom bench --workers`; the children are `loom bench-barrier` (a hidden
// command), talking over their standard input and output.

import ArgumentParser
import Foundation
import LoomConfig
import LoomData
import LoomKernels
import LoomTraining

enum BarrierBound {
    /// Seconds per step of `config`'s batch split over `processes` child processes (each a
    /// whole number of micro-shards), timed for about `seconds` after 2 warm-up steps.
    static func secondsPerStep(model: String, config: RunConfig, processes: Int, seconds: Double) throws -> Double {
        let shards = config.training.batchSize / config.training.microBatch
        guard processes >= 1, shards % processes == 0 else {
            throw CLIError("bench: \(shards) micro-shards per step do not split evenly over \(processes) processes")
        }
        var children: [(process: Process, toChild: FileHandle, fromChild: FileHandle)] = []
        defer {
            for child in children where child.process.isRunning { child.process.terminate() }
        }
        for part in 0..<processes {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: LocalCluster.selfExecutable())
            p.arguments = ["bench-barrier", "--model", model, "--batch", "\(config.training.batchSize)",
                           "--micro-batch", "\(config.training.microBatch)", "--part", "\(part)", "--parts", "\(processes)"]
            var environment = ProcessInfo.processInfo.environment
            environment["OPENBLAS_NUM_THREADS"] = "1"
            p.environment = environment
            let input = Pipe(), output = Pipe()
            p.standardInput = input
            p.standardOutput = output
            try p.run()
            children.append((p, input.fileHandleForWriting, output.fileHandleForReading))
        }
        // One step: every child reports (a byte), then every child may go on (a byte).
        func step(_ go: UInt8) throws {
            for child in children {
                guard let byte = try child.fromChild.read(upToCount: 1), byte.count == 1 else {
                    throw CLIError("bench: a barrier child process ended early (exit status \(child.process.isRunning ? 0 : child.process.terminationStatus))")
                }
            }
            for child in children { try child.toChild.write(contentsOf: [go]) }
        }
        for _ in 0..<2 { try step(1) }
        let start = Date()
        var steps = 0
        while Date().timeIntervalSince(start) < seconds || steps < 3 {
            try step(1)
            steps += 1
        }
        let elapsed = Date().timeIntervalSince(start)
        try step(0)
        for child in children { child.process.waitUntilExit() }
        return elapsed / Double(steps)
    }
}

/// The child side of `BarrierBound`: computes part `part` of `parts` of every step's batch.
struct BenchBarrierCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-barrier",
        abstract: "One process of the barrier bound of `loom bench --workers` (internal).",
        shouldDisplay: false)

    @Option var model: String
    @Option var batch: Int
    @Option var microBatch: Int
    @Option var part: Int
    @Option var parts: Int
    @OptionGroup var global: GlobalOptions

    func run() throws {
        _ = global.bootstrap(process: "bench-barrier")
        try runReportingErrors { try measure() }
    }

    private func measure() throws {
        BLAS.useSingleThread()
        let yaml = """
        name: bench
        model: {file: \(model)}
        optimizer: {kind: sgd, lr: 0.01, momentum: 0.9, weight_decay: 0.0005}
        training: {batch_size: \(batch), micro_batch: \(microBatch), epochs: 1000}
        """
        let config = try ConfigLoader.parse(yaml: yaml, source: "bench-barrier", defaultName: "bench")
        let problem = try TrainingProblem.synthetic(config: config)
        let m = microBatch, shards = batch / m
        guard parts >= 1, part >= 0, part < parts, shards % parts == 0 else {
            throw CLIError("bench-barrier: part \(part) of \(parts) does not split \(shards) micro-shards evenly")
        }
        let perPart = shards / parts
        let block = ShardBlock(start: part * perPart, count: perPart)
        var (parameters, buffers) = problem.model.initialParameters(seed: 1)
        let optimizer = try Optimizer(config: config.optimizer, parameterCount: parameters.count)
        var rng = KeyedRandom(seed: 3, purpose: .dataset)
        let n = perPart * m, pixels = problem.imageShape.elementCount
        let images = (0..<(n * pixels)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let labels = problem.heads.map { h in (0..<n).map { _ in Int32(rng.nextInt(below: h.classes)) } }
        let data = ShardData(sampleIDs: Array(0..<n), images: images, labels: labels,
                             targets: GroundTruth.synthetic(heads: problem.heads, count: n).targets)
        let plan = StepPlan(step: 0, epoch: 0, stepInEpoch: 0, sampleIndices: Array(0..<batch), microBatch: m,
                            headScales: problem.heads.map { _ in 1 / Float(batch) })
        let computer = ShardComputer(problem: problem, microBatch: m)
        let input = FileHandle.standardInput, output = FileHandle.standardOutput
        while true {
            let r = try computer.compute(plan: plan, block: block, data: data, parameters: parameters, buffers: buffers)
            // Its own optimizer step, as the coordinator takes one per step.
            optimizer.step(weights: &parameters, gradients: r.gradients, lr: 0.01)
            let stats = r.batchStatistics.map { $0 / Float(perPart) }
            stats.withUnsafeBufferPointer { s in
                buffers.withUnsafeMutableBufferPointer { problem.model.applyBatchStatistics(s.baseAddress!, to: $0.baseAddress!) }
            }
            try output.write(contentsOf: [1])
            guard let go = try input.read(upToCount: 1), go.first == 1 else { return }
        }
    }
}
