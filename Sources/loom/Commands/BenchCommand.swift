import ArgumentParser
import Foundation
import Logging
import LoomBench
import LoomCluster
import LoomLocal
import LoomConfig
import LoomData
import LoomKernels
import LoomTraining

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure speed as ratios taken in one run (use a release build).",
        discussion: """
        Without --workers: single-thread sgemm GFLOP/s, then the training throughput of the \
        model (forward, loss, backward, reduction and optimizer step, synthetic data) at the \
        given batch on one thread, counting 3x the forward FLOPs, and the ratio \
        training GFLOP/s / sgemm GFLOP/s.

        With --workers 1,2: samples/s of a coordinator with 1 then 2 local worker processes, \
        the scaling efficiency and the bytes sent per step; the counts are measured in \
        turn --rounds times and the medians reported. Also where a step's time went (until \
        the first result, waiting for the slowest worker, the coordinator's own work), and \
        the machine bound: the same split run by plain processes that meet at a barrier \
        every step and send no data, with Loom's samples/s as a share of theirs. With \
        --audit-cost, every count of 2 or more is also measured with the audit off \
        (cluster.audit 0) right after it is measured with the audit on (--audit, default \
        0.02), and the ratio of the two is printed; so are the share of steps audited and how \
        much longer an audited step took than the others of its run, and the cost they give.

        With --hosts 1,2,4,8 (root): weak scaling across hosts of the namespaced test bed \
        (deploy/tests/hosts.sh), links shaped to --link, one `loom worker --stand-in-ms` per \
        host holding each micro-shard for the compute time measured here (or --compute-ms), \
        --batch samples per host; prints efficiency, bytes per link and where the step's time \
        went beside the cost model of docs/SCALING.md.

        With --pytorch PYTHON: the same model, batch and optimizer trained by PyTorch in the \
        same run, on one thread, and the ratio of Loom's samples/s to PyTorch's. Without \
        --workers, Loom and PyTorch take turns --rounds times and the best of each is compared; \
        any model file has a twin (deploy/bench/pytorch_models.py builds it from torch.nn \
        modules; the reference CNN's is deploy/bench/pytorch_reference.py). With --workers \
        (reference CNN only): N DistributedDataParallel processes for each count N.

        A model with depthwise convolutions also gets the host's memory bandwidth from one \
        thread (STREAM-like copy and triad on 64 MiB arrays) and the bytes/s of its depthwise \
        layers' forward and backward passes at the micro-batch, as fractions of the larger of \
        copy and triad; the two are timed with the thread's CPU clock in alternating rounds, best \
        of each.
        """)

    @Option(help: "Model file.")
    var model: String = "configs/models/reference-cnn.yaml"

    @Option(help: "Global batch.")
    var batch: Int = 128

    @Option(help: "Micro-batch (micro-shard size).")
    var microBatch: Int = 32

    @Option(help: "model.convolution for the training measured: auto (Winograd where it takes the shape) or direct (the direct kernels' bits).")
    var convolution: String = ConvolutionChoice.auto.rawValue

    @Option(help: "Seconds per measurement.")
    var seconds: Double = 3

    @Option(help: "Comma-separated worker counts for the cluster benchmark (e.g. 1,2).")
    var workers: String?

    @Option(help: "With --workers: measure every count this many times in turn and report the medians; with --pytorch alone: measure Loom and PyTorch in turn this many times and compare the best of each.")
    var rounds: Int = 3

    @Option(help: "A Python with PyTorch: also measure PyTorch on the same model and batch, and print the ratio.")
    var pytorch: String?

    @Option(help: "The PyTorch script --pytorch runs (default: deploy/bench/pytorch_reference.py for the reference CNN, else deploy/bench/pytorch_models.py).")
    var pytorchScript: String?

    @Flag(help: "Also print one JSON line with all figures.")
    var json = false

    @Flag(help: "With --workers: let the scheduler place the workers (and barrier processes) instead of giving each its own CPU.")
    var noPin = false

    @Flag(help: "With --workers: send weights and gradients over the socket instead of through shared memory.")
    var noSharedMemory = false

    @Option(help: "With --workers: the audit rate (cluster.audit) the cluster runs with.")
    var audit: Double = ClusterConfig().audit

    @Flag(help: "With --workers: also measure every count of 2 or more with the audit off, in the same rounds, and print the ratio.")
    var auditCost = false

    @Option(help: "A run config: measure reading and augmenting its dataset, streamed from the file, against its training step.")
    var input: String?

    @Option(name: .customLong("set"), help: "With --input: override a config key (repeatable).")
    var overrides: [String] = []

    @OptionGroup var hostsOptions: HostsBenchOptions

    @OptionGroup var wireOption: WireOption

    @OptionGroup var global: GlobalOptions

    func run() throws {
        let logger = global.bootstrap(process: "bench")
        try runReportingErrors {
            global.prepareKernels(logger)
            if let input {
                try InputBench.run(config: try ConfigLoader.load(path: input, overrides: overrides),
                                   steps: max(3, Int(seconds * 10)), logger: logger)
                return
            }
            #if DEBUG
            logger.warning("this is a debug build: numbers are meaningless; build with -c release")
            #endif
            if let endpoint = hostsOptions.bedCoordinator {
                try HostsBench.coordinate(hostsOptions, endpoint: endpoint, config: try benchConfig(), logger: logger)
                return
            }
            if hostsOptions.hosts != nil {
                try HostsBench.run(hostsOptions, wire: wireOption.wire ?? .fp32, model: URL(fileURLWithPath: model).standardizedFileURL.path, batch: batch,
                                   microBatch: microBatch, logger: logger)
                return
            }
            var config = try benchConfig()
            config.cluster.sharedMemory = !noSharedMemory
            guard (0...1).contains(audit) else { throw CLIError("--audit must lie in [0, 1], got \(audit)") }
            config.cluster.audit = audit
            let isReference = URL(fileURLWithPath: model).lastPathComponent == "reference-cnn.yaml"
            if pytorch != nil && workers != nil && !isReference {
                throw CLIError("--pytorch with --workers compares the reference CNN only (configs/models/reference-cnn.yaml), not \(model)")
            }
            let script = pytorchScript ?? (isReference ? "deploy/bench/pytorch_reference.py" : "deploy/bench/pytorch_models.py")
            print(KernelSetup.summary)
            if let workers {
                let counts = workers.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
                guard !counts.isEmpty, counts.allSatisfy({ $0 > 0 }) else { throw CLIError("--workers wants counts like 1,2, got '\(workers)'") }
                guard rounds >= 1 else { throw CLIError("--rounds must be at least 1, got \(rounds)") }
                try ClusterBench.run(model: URL(fileURLWithPath: model).standardizedFileURL.path, config: config, workerCounts: counts, seconds: seconds, rounds: rounds, pinning: !noPin, json: json, auditCost: auditCost, logger: logger,
                                     pytorch: pytorch.map { (python: $0, script: script) })
                return
            }
            guard rounds >= 1 else { throw CLIError("--rounds must be at least 1, got \(rounds)") }
            let sgemm = BLAS.measureSgemmGFLOPS(size: 512, seconds: seconds)
            // Loom and PyTorch back to back, `rounds` times with --pytorch: the best of each
            // (the slowest runs are the ones another process disturbed most).
            var training: TrainingThroughput.Figures?
            var torch: PyTorchReference.Figures?
            let modelPath = URL(fileURLWithPath: model).standardizedFileURL.path
            for round in 1...(pytorch == nil ? 1 : rounds) {
                let t = try TrainingThroughput.measure(config: config, seconds: seconds)
                if training == nil || t.samplesPerSecond > training!.samplesPerSecond { training = t }
                guard let pytorch else { continue }
                let f = try PyTorchReference.measure(python: pytorch, script: script, batch: batch, seconds: seconds,
                                                     arguments: isReference && pytorchScript == nil ? [] : ["--model", modelPath])
                if torch == nil || f.samplesPerSecond > torch!.samplesPerSecond { torch = f }
                if rounds > 1 {
                    print(String(format: "round %d of %d: Loom %.1f samples/s, PyTorch %.1f samples/s (%.2fx)",
                                 round, rounds, t.samplesPerSecond, f.samplesPerSecond, t.samplesPerSecond / f.samplesPerSecond))
                }
            }
            let best = training!
            let ratio = best.gflops / sgemm
            print(String(format: "sgemm (1 thread, 512x512x512):   %7.2f GFLOP/s", sgemm))
            print(String(format: "training (%@, batch %d, micro %d): %7.1f samples/s  %7.2f GFLOP/s (3 x %.2f MFLOP forward per sample)%@",
                         config.name, batch, microBatch, best.samplesPerSecond, best.gflops,
                         Double(best.forwardFLOPs) / 1e6, torch != nil && rounds > 1 ? ", best of \(rounds)" : ""))
            print(String(format: "ratio training/sgemm:            %7.3f", ratio))
            if let torch {
                print(String(format: "PyTorch %@ (1 thread, batch %d): %7.1f samples/s%@", torch.version, batch, torch.samplesPerSecond,
                             rounds > 1 ? ", best of \(rounds)" : ""))
                print(String(format: "ratio Loom/PyTorch:              %7.2f", best.samplesPerSecond / torch.samplesPerSecond))
                if let p = torch.parameters, p != best.parameters {
                    print("warning: PyTorch's twin has \(p) parameters, Loom's model \(best.parameters): not the same network")
                }
            }
            // Depthwise convolutions against the memory bandwidth, in alternating rounds.
            var depthwise: (bandwidth: MemoryBandwidth.Figures, layers: DepthwiseThroughput.Figures, count: Int)?
            if !best.depthwiseShapes.isEmpty {
                let (layers, bandwidth) = DepthwiseThroughput.measureBesideBandwidth(
                    shapes: best.depthwiseShapes, batch: microBatch, seconds: seconds)
                let peak = max(bandwidth.copy, bandwidth.triad)
                print(String(format: "memory bandwidth (1 thread, 64 MiB arrays, thread CPU time): copy %.2f GB/s, triad %.2f GB/s",
                             bandwidth.copy / 1e9, bandwidth.triad / 1e9))
                print(String(format: "depthwise (%d layers, micro-batch %d): forward %.2f GB/s = %.2f, backward %.2f GB/s = %.2f of the bandwidth",
                             best.depthwiseShapes.count, microBatch, layers.forward / 1e9, layers.forward / peak,
                             layers.backward / 1e9, layers.backward / peak))
                depthwise = (bandwidth, layers, best.depthwiseShapes.count)
            }
            if json {
                var object: [String: Any] = ["sgemm_gflops": sgemm, "training_samples_per_s": best.samplesPerSecond,
                                             "training_gflops": best.gflops, "ratio": ratio, "batch": batch,
                                             "micro_batch": microBatch, "forward_flops_per_sample": best.forwardFLOPs,
                                             "model": model, "blas_core": BLAS.coreName, "loom_kernel_path": KernelPath.current.rawValue]
                if let torch {
                    object["pytorch_samples_per_s"] = torch.samplesPerSecond
                    object["pytorch_version"] = torch.version
                    object["ratio_loom_pytorch"] = best.samplesPerSecond / torch.samplesPerSecond
                    object["rounds"] = rounds
                }
                if let depthwise {
                    object["memory_copy_bytes_per_s"] = depthwise.bandwidth.copy
                    object["memory_triad_bytes_per_s"] = depthwise.bandwidth.triad
                    object["depthwise_forward_bytes_per_s"] = depthwise.layers.forward
                    object["depthwise_backward_bytes_per_s"] = depthwise.layers.backward
                    object["depthwise_layers"] = depthwise.count
                }
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(data: data, encoding: .utf8)!)
            }
        }
    }

    func benchConfig() throws -> RunConfig {
        guard let choice = ConvolutionChoice(rawValue: convolution) else {
            throw CLIError("--convolution must be auto or direct, got '\(convolution)'")
        }
        // The coordinator's half of `--hosts` with `--overlap on` tells servers and workers
        // through the YAML (cluster.overlap needs cluster.servers in it).
        let overlap = hostsOptions.bedCoordinator != nil && hostsOptions.overlap == "on"
        let servers = overlap ? (Int(hostsOptions.servers) ?? 0) : 0
        return try Self.config(model: URL(fileURLWithPath: model).standardizedFileURL.path, batch: batch, microBatch: microBatch,
                               wire: wireOption.wire ?? .fp32, servers: servers, overlap: overlap, convolution: choice)
    }

    /// A run config around the model file: synthetic 10-class data, SGD, batch/micro-batch,
    /// `model.convolution`.
    /// The wire format is in the YAML, which is what a coordinator sends its workers.
    static func config(model: String, batch: Int, microBatch: Int, wire: WireFormat = .fp32, servers: Int = 0,
                       overlap: Bool = false, convolution: ConvolutionChoice = .auto) throws -> RunConfig {
        let cluster = overlap ? "{wire: \(wire.rawValue), servers: \(servers), overlap: true}" : "{wire: \(wire.rawValue)}"
        let yaml = """
        name: bench
        model: {file: \(model)\(convolution == .auto ? "" : ", convolution: \(convolution.rawValue)")}
        optimizer: {kind: sgd, lr: 0.01, momentum: 0.9, weight_decay: 0.0005}
        training: {batch_size: \(batch), micro_batch: \(microBatch), epochs: 1000}
        cluster: \(cluster)
        """
        return try ConfigLoader.parse(yaml: yaml, source: "bench", defaultName: "bench")
    }
}

/// `loom bench --workers 1,2`: samples/s with each worker count, scaling efficiency, bytes per step.
///
/// The counts are measured in turn, `rounds` times over (1, 2, 1, 2, ...), and the medians
/// are reported: a background load that comes and goes then hits every count alike instead
/// of whichever happened to run during it.
enum ClusterBench {
    static func run(model: String, config: RunConfig, workerCounts: [Int], seconds: Double, rounds: Int,
                    pinning: Bool, json: Bool, auditCost: Bool = false, logger: Logger,
                    pytorch: (python: String, script: String)? = nil) throws {
        let exe = LocalCluster.selfExecutable()
        var figures: [Int: [ClusterBenchmark.Figures]] = [:]
        var barrier: [Int: [Double]] = [:]
        var torch: [Int: [Double]] = [:]
        var torchVersion = ""
        // The same counts with the audit off, measured right after each with it on.
        var withoutAudit: [Int: [ClusterBenchmark.Figures]] = [:]
        var unaudited = config
        unaudited.cluster.audit = 0
        for round in 1...rounds {
            var line: [String] = []
            for n in workerCounts {
                let r = try ClusterBenchmark.run(workers: n, config: config, seconds: seconds, loomExecutable: exe,
                                                 pinning: pinning, logger: logger)
                figures[n, default: []].append(r)
                line.append(String(format: "%d worker(s) %.1f samples/s", n, r.samplesPerSecond))
                if auditCost && n >= 2 && config.cluster.audit > 0 {
                    let off = try ClusterBenchmark.run(workers: n, config: unaudited, seconds: seconds, loomExecutable: exe,
                                                       pinning: pinning, logger: logger)
                    withoutAudit[n, default: []].append(off)
                    line.append(String(format: "%d worker(s) without the audit %.1f samples/s", n, off.samplesPerSecond))
                }
                // The same count as plain processes meeting at a barrier, with no data sent,
                // right after: the host's speed drifts from minute to minute, and the pair
                // compared is then measured seconds apart.
                if workerCounts.contains(1) && n <= config.training.batchSize / config.training.microBatch {
                    barrier[n, default: []].append(try BarrierBound.secondsPerStep(model: model, config: config, processes: n, seconds: seconds,
                                                                                  pinning: pinning))
                }
            }
            // PyTorch in the same round: one thread, or N DistributedDataParallel processes.
            if let pytorch {
                for n in workerCounts {
                    let f = try PyTorchReference.measure(python: pytorch.python, script: pytorch.script,
                                                         batch: config.training.batchSize, seconds: seconds, ddp: n)
                    torch[n, default: []].append(f.samplesPerSecond)
                    torchVersion = f.version
                    line.append(String(format: "PyTorch %d process(es) %.1f samples/s", n, f.samplesPerSecond))
                }
            }
            if rounds > 1 { print("round \(round) of \(rounds): " + line.joined(separator: ", ")) }
        }
        let samples = figures.mapValues { $0.map(\.samplesPerSecond) }
        let median = samples.mapValues { Self.median($0) }
        // Traffic per step, medians over the rounds like everything else.
        let bytes = figures.mapValues { Self.median($0.map(\.bytesPerStep)) }
        let shared = figures.mapValues { Self.median($0.map(\.sharedBytesPerStep)) }
        let cpus = CPUAffinity.allowedCPUs().count
        print(pinning && workerCounts.allSatisfy({ $0 <= cpus })
              ? "placement: each worker (and barrier process) on its own CPU of \(cpus)"
              : "placement: left to the scheduler (\(cpus) CPU(s))")
        for n in workerCounts {
            print(String(format: "%d worker(s): %8.1f samples/s  %8.2f MB sent per step (+ %.2f MB through shared memory)%@",
                         n, median[n]!, bytes[n]! / 1e6, shared[n]! / 1e6, rounds > 1 ? " (median of \(rounds) rounds)" : ""))
        }
        // Where a step's time went, medians over the rounds.
        var breakdown: [[String: Any]] = []
        for n in workerCounts {
            let f = figures[n]!
            let step = Self.median(f.map(\.stepMs)), first = Self.median(f.map(\.firstResultMs))
            let spread = Self.median(f.map(\.spreadMs)), own = Self.median(f.map(\.coordinatorMs))
            print(String(format: "%d worker(s): step %.1f ms = %.1f until the first result + %.1f waiting for the slowest worker + %.1f coordinator (reduce, optimizer, plan)",
                         n, step, first, spread, own))
            breakdown.append(["workers": n, "step_ms": step, "first_result_ms": first, "straggler_wait_ms": spread, "coordinator_ms": own])
        }
        var efficiency: [String: Double] = [:], bounds: [String: Double] = [:]
        if let one = median[1] {
            for n in workerCounts where n > 1 {
                let e = median[n]! / (Double(n) * one)
                efficiency["\(n)"] = e
                // Per round: that round's n-worker figure against its own 1-worker figure.
                let perRound = zip(samples[n]!, samples[1]!).map { $0 / (Double(n) * $1) }
                let spread = rounds > 1 ? String(format: "; per round %.3f-%.3f", perRound.min()!, perRound.max()!) : ""
                print(String(format: "scaling efficiency at %d workers: %.3f (samples/s with %d / (%d x samples/s with 1), medians%@)",
                             n, e, n, n, spread))
                if let t1 = barrier[1], let tn = barrier[n] {
                    // Per round, as for the workers; then the median.
                    let bound = Self.median(zip(t1, tn).map { $0 / (Double(n) * $1) })
                    bounds["\(n)"] = bound
                    print(String(format: "machine bound at %d: %.3f (%d processes meeting at a barrier every step, no data sent)", n, bound, n))
                }
            }
        }
        // Each count's throughput against the barrier processes' of the same round.
        var ofBound: [String: Double] = [:], barrierSamples: [String: Double] = [:]
        for n in workerCounts {
            guard let steps = barrier[n] else { continue }
            let batch = Double(config.training.batchSize)
            ofBound["\(n)"] = Self.median(zip(samples[n]!, steps).map { $0 / (batch / $1) })
        }
        if !ofBound.isEmpty {
            let b = config.training.batchSize
            for n in workerCounts { if let t = barrier[n] { barrierSamples["\(n)"] = Double(b) / Self.median(t) } }
            let bound = workerCounts.compactMap { n in barrierSamples["\(n)"].map { String(format: "%d: %.1f samples/s", n, $0) } }
            let share = workerCounts.compactMap { n in ofBound["\(n)"].map { String(format: "%d worker(s) %.0f%%", n, 100 * $0) } }
            print("barrier processes (the same work, no data sent): " + bound.joined(separator: ", "))
            print("Loom's throughput against them: " + share.joined(separator: ", "))
        }
        // The audit's cost: per round, samples/s with it over samples/s without (measured
        // seconds apart), then the median; and how many blocks were computed twice. Also
        // within the runs with the audit: the share of steps drawn, and how much longer an
        // audited step took than the others of its run (the median of the rounds' ratios of
        // medians), which give the cost without comparing two runs: 1 - 1 / (1 + f (r - 1)),
        // and with the rate a for f, the cost to expect (f is a few draws in a short run).
        var auditRatios: [String: Double] = [:], auditFractions: [String: Double] = [:], auditStepRatios: [String: Double] = [:]
        for n in workerCounts {
            guard let off = withoutAudit[n], let on = figures[n] else { continue }
            let perRound = zip(on, off).map { $0.samplesPerSecond / $1.samplesPerSecond }
            let ratio = Self.median(perRound)
            auditRatios["\(n)"] = ratio
            let audited = Self.median(on.map(\.auditedBlocksPerStep))
            print(String(format: "audit %g at %d worker(s): samples/s with / without = %.3f (cost %.1f%%; per round %.3f-%.3f), %.3f blocks computed twice per step",
                         config.cluster.audit, n, ratio, 100 * (1 - ratio), perRound.min()!, perRound.max()!, audited))
            let drawn = on.reduce(0) { $0 + $1.auditedSteps }, steps = on.reduce(0) { $0 + $1.steps }
            let fraction = Double(drawn) / Double(max(steps, 1))
            auditFractions["\(n)"] = fraction
            let stepRatios = on.compactMap { f in f.auditedStepMs.flatMap { a in f.plainStepMs.map { a / $0 } } }
            if stepRatios.isEmpty {
                print(String(format: "audit %g at %d worker(s): %d of %d steps audited", config.cluster.audit, n, drawn, steps))
            } else {
                let r = Self.median(stepRatios)
                auditStepRatios["\(n)"] = r
                let cost = 1 - 1 / (1 + fraction * (r - 1))
                let expected = 1 - 1 / (1 + config.cluster.audit * (r - 1))
                print(String(format: "audit %g at %d worker(s): %d of %d steps audited (%.1f%%), an audited step took %.2f x the others of its run (median of %d rounds): cost %.1f%% with the steps drawn, %.1f%% expected at %g",
                             config.cluster.audit, n, drawn, steps, 100 * fraction, r, stepRatios.count, 100 * cost, 100 * expected,
                             config.cluster.audit))
            }
        }
        var torchRatios: [String: Double] = [:]
        if !torch.isEmpty {
            for n in workerCounts {
                let t = Self.median(torch[n]!)
                torchRatios["\(n)"] = median[n]! / t
                print(String(format: "PyTorch %@, %d %@ of 1 thread (batch %d): %8.1f samples/s; Loom/PyTorch %.2f",
                             torchVersion, n, n == 1 ? "process" : "DDP processes (gloo)", config.training.batchSize, t, median[n]! / t))
            }
        }
        if json {
            var object: [String: Any] = [
                "workers": workerCounts.map { ["workers": $0, "samples_per_s": median[$0]!, "samples_per_s_rounds": samples[$0]!,
                                               "bytes_per_step": bytes[$0]!, "shared_memory_bytes_per_step": shared[$0]!] },
                "scaling_efficiency": efficiency, "batch": config.training.batchSize, "micro_batch": config.training.microBatch,
                "rounds": rounds, "pinned": pinning, "shared_memory": config.cluster.sharedMemory, "step_breakdown": breakdown, "barrier_bound": bounds, "barrier_samples_per_s": barrierSamples,
                "fraction_of_barrier_throughput": ofBound,
                "blas_core": BLAS.coreName, "loom_kernel_path": KernelPath.current.rawValue,
            ]
            if !auditRatios.isEmpty {
                object["audit"] = config.cluster.audit
                object["audit_ratio_with_without"] = auditRatios
                object["audit_steps_fraction"] = auditFractions
                object["audit_step_time_ratio"] = auditStepRatios
            }
            if !torch.isEmpty {
                object["pytorch_samples_per_s"] = Dictionary(uniqueKeysWithValues: torch.map { ("\($0.key)", Self.median($0.value)) })
                object["ratio_loom_pytorch"] = torchRatios
                object["pytorch_version"] = torchVersion
            }
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(data: data, encoding: .utf8)!)
        }
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }
}
