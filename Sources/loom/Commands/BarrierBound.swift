// What synchronous data-parallel training could reach on this machine without any data
// traffic: N processes (like N workers, each single-threaded), each computing the block of the
// batch a worker would get (`ReductionTree.blocks`) and taking its own optimizer step, held
// together by a one-byte barrier every step (each child writes a byte when its step is done;
// the parent answers all of them once every child is in). Nothing is encoded, copied or sent,
// so the only loss left is that every step waits for the slowest core: on a machine whose
// cores' speed varies from step to step, the synchronous barrier alone costs throughput.
// `loom bench --workers` prints this bound next to the measured efficiency, to tell the
// machine's share of a gap from Loom's messages.
//
// The parent is `loom bench --workers`; the children are `loom bench-barrier` (a hidden
// command), talking over their standard input and output.

import ArgumentParser
import Foundation
import LoomBench
import LoomCluster
import LoomLocal
import LoomConfig
import LoomKernels
import LoomTraining

enum BarrierBound {
    /// Seconds per step of `config`'s batch cut over `processes` child processes as the
    /// coordinator cuts it for that many workers (`ReductionTree.blocks`), timed for about
    /// `seconds` after 2 warm-up steps.
    /// With `pinning`, child i runs on its own CPU, as `loom bench` pins its workers.
    static func secondsPerStep(model: String, config: RunConfig, processes: Int, seconds: Double,
                               pinning: Bool = true) throws -> Double {
        let shards = config.training.batchSize / config.training.microBatch
        guard processes >= 1, processes <= shards else {
            throw CLIError("bench: \(processes) barrier processes for \(shards) micro-shards per step: at most one process per micro-shard")
        }
        var children: [(process: Process, toChild: FileHandle, fromChild: FileHandle)] = []
        let allowed = pinning ? CPUAffinity.allowedCPUs() : []
        defer { WorkerProcesses.terminate(children.map(\.process)) }
        for part in 0..<processes {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: LocalCluster.selfExecutable())
            p.arguments = ["bench-barrier", "--model", model, "--batch", "\(config.training.batchSize)",
                           "--micro-batch", "\(config.training.microBatch)", "--part", "\(part)", "--parts", "\(processes)"]
            if let cpu = CPUAffinity.localWorkerCPU(index: part, count: processes, allowed: allowed) {
                p.arguments! += ["--cpu", "\(cpu)"]
            }
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
            for (part, child) in children.enumerated() {
                guard let byte = try child.fromChild.read(upToCount: 1), byte.count == 1 else {
                    child.process.waitUntilExit()
                    let how = child.process.terminationReason == .uncaughtSignal
                        ? "killed by signal \(child.process.terminationStatus)" : "exit status \(child.process.terminationStatus)"
                    throw CLIError("bench: barrier process \(part + 1) of \(processes) ended early (\(how)); its own error, if any, is above")
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

/// The child side of `BarrierBound`: computes block `part` of `parts` of every step's batch.
struct BenchBarrierCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-barrier",
        abstract: "One process of the machine bound of `loom bench --workers` (internal): after each step it writes a byte to stdout and goes on while it reads 1 from stdin.",
        shouldDisplay: false)

    @Option(help: "Model file.")
    var model: String
    @Option(help: "Global batch.")
    var batch: Int
    @Option(help: "Micro-batch (micro-shard size).")
    var microBatch: Int
    @Option(help: "Which block of the step's micro-shards this process computes (0-based).")
    var part: Int
    @Option(help: "How many processes share the step, as workers would.")
    var parts: Int
    @Option(help: "Run on this CPU only, as a pinned worker would.")
    var cpu: Int?
    @OptionGroup var global: GlobalOptions

    func run() throws {
        try runReportingErrors {
            if let cpu { try CPUAffinity.pinProcess(to: cpu) }
            let logger = global.bootstrap(process: "bench-barrier")
            global.prepareKernels(logger, level: .debug)
            try measure()
        }
    }

    private func measure() throws {
        let config = try BenchCommand.config(model: model, batch: batch, microBatch: microBatch)
        let shards = batch / microBatch
        let blocks = parts >= 1 && parts <= shards ? ReductionTree.blocks(leafCount: shards, parts: parts) : []
        guard part >= 0, part < blocks.count, blocks.count == parts else {
            throw CLIError("bench-barrier: part \(part) of \(parts) does not fit \(shards) micro-shards (one block per process, at most one process per micro-shard)")
        }
        let training = try SyntheticTraining(config: config, block: blocks[part])
        let input = FileHandle.standardInput, output = FileHandle.standardOutput
        while true {
            try training.step()
            try output.write(contentsOf: [1])
            guard let go = try input.read(upToCount: 1), go.first == 1 else { return }
        }
    }
}
