// `loom bench --hosts 1,2,4,8 --model M --link 1gbit`: weak scaling across hosts of the
// namespaced test bed, with the compute stand-in (docs/SCALING.md). For each host count,
// deploy/bench/hosts-bench.sh makes a bed of that many hosts (deploy/tests/hosts.sh), runs
// this binary's coordinator half (`--bed-coordinator`) on host 0 and one
// `loom worker --stand-in-ms` on every host; this process measures the compute time of a
// micro-shard here, prints per host count what was measured beside what the cost model
// (`ScalingModel`) predicts, and what sharding and a ring allreduce would give.

import ArgumentParser
import Foundation
import Logging
import LoomBench
import LoomCluster
import LoomConfig
import LoomKernels
import LoomModel
import LoomTraining
import LoomWire

struct HostsBenchOptions: ParsableArguments {
    @Option(help: "Comma-separated host counts for the multi-host benchmark on the test bed (e.g. 1,2,4,8; needs root). --batch is then the batch per host.")
    var hosts: String?

    @Option(help: "With --hosts: every host's link rate (tc: 1gbit, 500mbit, 10gbit).")
    var link: String = "1gbit"

    @Option(name: .customLong("compute-ms"), help: "With --hosts: compute per host per step in ms (default: measured here for the model at the batch per host, one thread).")
    var computeMs: Double?

    @Option(help: "With --hosts: compute slots per worker (loom worker --slots).")
    var slots: Int = 1

    @Option(help: "With --hosts: shard servers (loom server) on the first S hosts, or 'hosts' for one on every host (S = N); 0: the coordinator sums and applies everything.")
    var servers: String = "0"

    @Option(help: "With --hosts and shard servers: overlap (cluster.overlap) off, on, or both (each host count measured both ways, in turn).")
    var overlap: String = "off"

    @Option(help: "With --hosts, servers and overlap: cut the servers' slices by buckets (on, the default) or in one contiguous range each (off), to compare (docs/CLUSTER.md, \"Overlap\").")
    var buckets: String = "on"
    @Option(help: "With --hosts, servers and overlap: assign step k + 1 while step k runs (on, the default) or at its start (off), to compare (docs/SCALING.md, \"The start\").")
    var early: String = "on"
    @Option(help: "With --hosts and shard servers: the links between workers and servers with CURVE (curve, the default, as deployed) or without (plain: loom server --plaintext-workers), to measure what CURVE costs.")
    var serverLinks: String = "curve"

    @Option(help: "With --hosts: steps measured per host count (after 2 warm-up steps).")
    var steps: Int = 5

    @Option(help: "With --hosts: the bed driver script.")
    var bedScript: String = "deploy/bench/hosts-bench.sh"

    @Option(help: .hidden)
    var bedCoordinator: String?

    @Option(help: .hidden)
    var bedKeys: String?

    @Option(help: .hidden)
    var bedCheckpoint: String?

    @Option(help: .hidden)
    var bedTimeline: String?
}

enum HostsBench {
    /// The coordinator's half, on host 0 of a bed: prints one JSON line of `HostsBenchmark.Figures`.
    static func coordinate(_ o: HostsBenchOptions, endpoint: String, config: RunConfig, logger: Logger) throws {
        guard let hosts = Int(o.hosts ?? ""), hosts >= 1 else { throw CLIError("--bed-coordinator needs --hosts N (one count)") }
        let security: Security = try o.bedKeys.map { try Security.coordinator(keysDirectory: $0) } ?? .none
        let figures = try HostsBenchmark.coordinate(endpoint: endpoint, security: security, hosts: hosts, config: config,
                                                    steps: o.steps, warmup: 2,
                                                    checkpointPath: o.bedCheckpoint ?? "/tmp/loom-bench-\(getpid()).h5",
                                                    bed: ProcessInfo.processInfo.environment["LOOM_BED"],
                                                    servers: try serverCount(o.servers, hosts: hosts),
                                                    cpuMarker: o.bedKeys.map { ($0 as NSString).deletingLastPathComponent + "/" },
                                                    timeline: try o.bedTimeline.map { try StepTimeline(path: $0, role: StepTimeline.role(of: $0)) },
                                                    slicesByBuckets: o.buckets != "off", earlyAssignments: o.early != "off",
                                                    logger: logger)
        let data = try JSONEncoder().encode(figures)
        print(String(decoding: data, as: UTF8.self))
    }

    static func run(_ o: HostsBenchOptions, wire: WireFormat, model: String, batch: Int, microBatch: Int, logger: Logger) throws {
        let counts = (o.hosts ?? "").split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !counts.isEmpty, counts.allSatisfy({ (1...64).contains($0) }) else {
            throw CLIError("--hosts wants host counts of 1 to 64 like 1,2,4,8, got '\(o.hosts ?? "")'")
        }
        guard let rate = linkBytesPerSecond(o.link) else { throw CLIError("--link '\(o.link)' is not a rate like 1gbit, 500mbit, 10gbit") }
        guard batch > 0, microBatch > 0, batch % microBatch == 0 else {
            throw CLIError("--batch \(batch) is not a positive multiple of --micro-batch \(microBatch)")
        }
        for n in counts { _ = try serverCount(o.servers, hosts: n) }
        let modes = try overlapModes(o.overlap)
        if modes.contains(true) && o.servers == "0" {
            throw CLIError("--overlap \(o.overlap) needs shard servers (--servers hosts or a count): overlap is the servers' per-range update")
        }
        guard ["curve", "plain"].contains(o.serverLinks) else {
            throw CLIError("--server-links wants curve or plain, got '\(o.serverLinks)'")
        }
        guard (1...256).contains(o.slots) else { throw CLIError("--slots must be 1 to 256, got \(o.slots)") }
        guard o.steps >= 1 else { throw CLIError("--steps must be at least 1, got \(o.steps)") }
        guard ["on", "off"].contains(o.buckets) else { throw CLIError("--buckets wants on or off, got '\(o.buckets)'") }
        guard ["on", "off"].contains(o.early) else { throw CLIError("--early wants on or off, got '\(o.early)'") }
        if let c = o.computeMs, !(c > 0 && c <= 600_000) { throw CLIError("--compute-ms must be above 0 and at most 600000, got \(c)") }
        guard geteuid() == 0 else {
            throw CLIError("loom bench --hosts makes network namespaces (deploy/tests/hosts.sh) and needs root: run it with sudo, or as root in a container with CAP_NET_ADMIN")
        }
        guard FileManager.default.isReadableFile(atPath: o.bedScript) else {
            throw CLIError("--bed-script \(o.bedScript): no such file (run from the repository's root, or name the script)")
        }

        // What the model costs on this host: one micro-shard's compute (one thread), adding
        // two gradients, one optimizer step.
        let config = try BenchCommand.config(model: model, batch: batch, microBatch: microBatch, wire: wire)
        let shards = batch / microBatch
        let shardMs: Double
        if let computeMs = o.computeMs {
            shardMs = computeMs / Double((shards + o.slots - 1) / o.slots)
        } else {
            let t = try TrainingThroughput.measure(config: config, seconds: 3)
            shardMs = 1000 * Double(microBatch) / t.samplesPerSecond
        }
        let hostComputeMs = shardMs * Double((shards + o.slots - 1) / o.slots)
        let problem = try TrainingProblem.synthetic(config: config)
        let p = problem.model.parameters.count
        let (add, opt) = try measureCoordinatorCosts(parameters: p, config: config)
        var costs = ScalingModel(parameters: p, linkBytesPerSecond: rate, compute: hostComputeMs / 1000,
                                 addSeconds: add, optimizerSeconds: opt)
        costs.bytesPerValue = wire == .bf16 ? 2 : 4
        print(KernelSetup.summary)
        print(String(format: "model %@: %d parameters (%.2f MB fp32); per host: batch %d, %d micro-shard(s) of %d, %d slot(s), compute %.1f ms per step (%.1f ms per micro-shard%@)",
                     model, p, Double(4 * p) / 1e6, batch, shards, microBatch, o.slots, hostComputeMs, shardMs,
                     o.computeMs == nil ? ", measured here on one thread" : ", given"))
        print("gradients and weights on the wire: \(wire.rawValue)")
        if o.servers != "0" { print("links between workers and shard servers: \(o.serverLinks == "curve" ? "CURVE (authenticated, encrypted)" : "plain TCP (--server-links plain)")") }
        print(String(format: "link %@ (%.1f MB/s); measured here: adding two gradients %.2f ms, optimizer step %.2f ms",
                     o.link, rate / 1e6, add * 1000, opt * 1000))
        print("TCP congestion control on the bed's hosts: \(bedCongestionControl)")
        print("(other processes share this machine's cores: see docs/SCALING.md on what the bed can carry)")

        // Each host count with every overlap mode in turn, so that a load that comes and goes
        // hits both alike.
        var measured: [Bool: [Int: HostsBenchmark.Figures]] = [:]
        for n in counts {
            for overlap in modes {
                let figures = try runOnBed(o, wire: wire, hosts: n, holdMs: shardMs, model: model, batch: batch, microBatch: microBatch,
                                           overlap: overlap)
                measured[overlap, default: [:]][n] = figures
                print(String(format: "  %d host(s)%@: %.1f samples/s, step %.1f ms", n, modes.count > 1 ? (overlap ? ", overlap on" : ", overlap off") : "",
                             figures.samplesPerSecond, figures.stepMs))
            }
        }
        for overlap in modes {
            var costs = costs
            let runs = measured[overlap] ?? [:]
            print("")
            if modes.contains(true) { print("overlap \(overlap ? "on" : "off") (cluster.overlap)") }
            // The CPU cost of a round trip, from the 1-host run (no link between): its step
            // less the compute, the optimizer and the (absent) additions.
            if let one = runs[1] {
                costs.transferCPU = max(0, one.stepMs / 1000 - costs.compute - one.optimizerMs / 1000)
                print(String(format: "a round trip's CPU (encode, CURVE, copies, decode, checks), from the 1-host run: %.1f ms", costs.transferCPU * 1000))
            }
            report(counts: counts, measured: runs, model: model, config: config, costs: costs, batch: batch,
                   sharded: o.servers == "hosts", spans: problem.model.backwardSpans.map(\.parameters), buckets: o.buckets != "off",
                   hidden: overlap ? ScalingModel.overlapShare(microShardsPerBlock: (batch / microBatch + o.slots - 1) / o.slots,
                                                               layers: problem.model.backwardSpans.map { ($0.parameters.count, $0.flops) }) : nil)
        }
    }

    /// Above this share of the machine's cores taken by other processes during a run, the
    /// bench says the machine was not quiet (the bed's seventeen processes need its cores).
    static let busyShare = 0.05

    /// `--overlap off|on|both` as the modes to measure, in order.
    static func overlapModes(_ text: String) throws -> [Bool] {
        switch text {
        case "off": return [false]
        case "on": return [true]
        case "both": return [false, true]
        default: throw CLIError("--overlap wants off, on or both, got '\(text)'")
        }
    }

    /// What the bed's hosts use for TCP congestion control (deploy/tests/hosts.sh, `bed_cc`):
    /// `LOOM_BED_CC`, cubic by default, or the machine's own with `host`.
    static var bedCongestionControl: String {
        func read(_ name: String) -> String? {
            (try? String(contentsOfFile: "/proc/sys/net/ipv4/\(name)", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let machine = read("tcp_congestion_control") ?? "unknown"
        switch ProcessInfo.processInfo.environment["LOOM_BED_CC"] {
        case nil, "":
            // bed_cc keeps the machine's default, with a warning, where cubic is missing.
            if let available = read("tcp_available_congestion_control"), !available.split(separator: " ").contains("cubic") {
                return "\(machine), this machine's default (cubic, the bed's default, is not available here: \(available))"
            }
            return "cubic (the default; LOOM_BED_CC=host keeps this machine's \(machine))"
        case "host": return "\(machine), this machine's default (LOOM_BED_CC=host)"
        case let cc?: return "\(cc) (LOOM_BED_CC; this machine's default: \(machine))"
        }
    }

    /// The log level of the bed's processes: `LOOM_BED_LOG_LEVEL`, or warning.
    static var bedLogLevel: String { ProcessInfo.processInfo.environment["LOOM_BED_LOG_LEVEL"] ?? "warning" }

    /// One host count on a fresh bed: the driver script's output is the coordinator's JSON.
    static func runOnBed(_ o: HostsBenchOptions, wire: WireFormat, hosts n: Int, holdMs: Double, model: String, batch: Int,
                         microBatch: Int, overlap: Bool = false) throws -> HostsBenchmark.Figures {
        let exe = LocalCluster.selfExecutable()
        let servers = try serverCount(o.servers, hosts: n)
        let coordinatorArgs = ["--model", model, "--batch", "\(batch * n)", "--micro-batch", "\(microBatch)",
                               "--hosts", "\(n)", "--steps", "\(o.steps)", "--servers", "\(servers)", "--wire", wire.rawValue, "--overlap", overlap ? "on" : "off", "--buckets", o.buckets, "--early", o.early, "--log-level", bedLogLevel]
        let workerArgs = ["--stand-in-ms", String(format: "%.3f", holdMs), "--slots", "\(o.slots)", "--log-level", bedLogLevel]
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [o.bedScript, "\(n)", o.link] + coordinatorArgs + ["--"] + workerArgs
        p.environment = ProcessInfo.processInfo.environment.merging(["LOOM": exe, "LOOM_SERVERS": "\(servers)", "LOOM_SERVER_LINKS": o.serverLinks]) { $1 }
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0, let line = text.split(separator: "\n").last(where: { $0.hasPrefix("{") }) else {
            throw CLIError("bench on a bed of \(n) host(s) failed (status \(p.terminationStatus)): \(text.suffix(400))")
        }
        return try JSONDecoder().decode(HostsBenchmark.Figures.self, from: Data(line.utf8))
    }

    static func report(counts: [Int], measured: [Int: HostsBenchmark.Figures], model: String, config: RunConfig,
                       costs: ScalingModel, batch: Int, sharded: Bool = false, spans: [Range<Int>] = [], buckets: Bool = true,
                       hidden: Double? = nil) {
        let base = measured[1] ?? measured[counts.min()!]!
        let baseN = Double(base.hosts)
        // The design measured: S = N shard servers, or the single coordinator.
        func predictedCost(_ n: Int) -> StepCost { sharded ? costs.sharded(hosts: n) : costs.singleCoordinator(hosts: n) }
        // With overlap, the share `hidden` of the compute hides communication (docs/SCALING.md).
        // On the bed (not on real hosts) the hosts share this machine's cores: with overlap,
        // the step's communication CPU, N times the 1-host run's per-step CPU u, runs mostly
        // after the bulk of the gradient is pushed, C(1 - h) into the step, on K cores; the
        // step cannot end before that work and the last round trip (docs/SCALING.md, "Where
        // the CPU goes on the bed").
        let cores = Double(ProcessInfo.processInfo.activeProcessorCount)
        let perHostCPU = base.hosts == 1 ? base.cpu.map { $0.seconds.values.reduce(0, +) / Double(base.cpuSteps) } : nil
        func bedBound(_ n: Int) -> Double? {
            guard let hidden, let u = perHostCPU else { return nil }
            return costs.compute * (1 - hidden) + Double(n) * u / cores + predictedCost(n).transferCPU
        }
        // With overlap and servers, the last bucket's way in and out after the compute
        // (`ScalingModel.tail`): its size and spread as the coordinator cuts the slices.
        func tailed(_ n: Int) -> ScalingModel {
            var m = costs
            guard hidden != nil, sharded, n > 1 else { return m }
            let p = costs.parameters
            let edges = ParameterSlices.buckets(of: spans, parameterCount: p, count: n)
            m.lastBucketValues = edges.first ?? p
            m.lastBucketPieces = buckets ? ParameterSlices.pieceCount(m.lastBucketValues, slices: n) : 1
            return m
        }
        // `onBed` false: the model of real hosts, each with its own cores (no bed term): what
        // the bed would measure if its hosts' CPU did not share this machine's cores.
        func predictedTotal(_ n: Int, onBed: Bool = true) -> Double {
            let c = predictedCost(n)
            let model = hidden.map { ScalingModel.overlapped(c, hidden: $0) + c.transferCPU } ?? c.total
            let tail = hidden == nil ? 0 : c.compute + c.transferCPU + tailed(n).tail(hosts: n) + c.reduce + c.optimizer
            return max(model, onBed ? bedBound(n) ?? 0 : 0, tail)
        }
        let predictedOne = predictedTotal(base.hosts)
        print(sharded ? "measured with S = N shard servers, one per host beside its worker; model: the sharded one"
                      : "measured with one coordinator (S = 1); model: the single coordinator's")
        print("")
        print("hosts  samples/s  efficiency        step ms            compute  wait    reduce  optim   ckpt    MB/step host0 up/down  host1 up/down   sharded  ring(DDP)")
        print("                  meas.  model      meas.   model      (held)   (link)                                                                 model eff.")
        for n in counts {
            guard let f = measured[n] else { continue }
            let eff = f.samplesPerSecond / (Double(n) / baseN * base.samplesPerSecond)
            let effModel = predictedOne / predictedTotal(n)
            let wait = f.firstResultMs + f.spreadMs - costs.compute * 1000
            let shardedEff = costs.sharded(hosts: 1).total / costs.sharded(hosts: n).total
            let ringEff = costs.ringAllreduce(hosts: 1).total / costs.ringAllreduce(hosts: n).total
            func mb(_ v: [Double], _ i: Int) -> Double { i < v.count ? v[i] / 1e6 : 0 }
            print(String(format: "%5d  %9.1f  %5.3f  %5.3f  %8.1f  %8.1f  %7.1f  %6.1f  %6.1f  %6.1f  %6.1f  %6.2f/%-6.2f  %6.2f/%-6.2f   %5.3f    %5.3f",
                         n, f.samplesPerSecond, eff, effModel, f.stepMs, predictedTotal(n) * 1000, costs.compute * 1000, wait,
                         f.reduceMs, f.optimizerMs, f.checkpointMs, mb(f.linkUp, 0), mb(f.linkDown, 0),
                         mb(f.linkUp, 1), mb(f.linkDown, 1), shardedEff, ringEff))
        }
        print("")
        if sharded {
            print("model (docs/SCALING.md): step = compute + 2 (N-1)/N x model on each host's link + (N-1)/N additions + optimizer/N")
        } else {
            print("model (docs/SCALING.md): step = compute + (N-1) x model on the coordinator's link out + (N-1) x back in + (N-1) additions + optimizer")
        }
        print("  + a round trip's CPU (from the 1-host run, so the 1-host model is the measurement);")
        if let hidden {
            print(String(format: "  with overlap: communication hides behind h = %.3f of the compute (the backward pass of a block's last micro-shard after each layer's gradient is ready, byte-weighted);", hidden))
            // What the measurement says h was: the communication the model without overlap
            // charges, less what the step showed beyond compute, CPU, reduction and optimizer.
            if let u = perHostCPU {
                print(String(format: "  on this bed, %d hosts' CPU shares %.0f cores: step >= C(1 - h) + N u / %.0f + the round trip, u = %.1f ms of CPU a host per step (the 1-host run's processes)",
                             counts.max() ?? 1, cores, cores, u * 1000))
                // The same model without that term: hosts whose CPU (CURVE above all) is their own.
                let hosts = counts.filter { $0 > 1 && measured[$0] != nil }.map {
                    String(format: "%d: %.3f (%.1f ms)", $0, predictedTotal(base.hosts, onBed: false) / predictedTotal($0, onBed: false),
                           predictedTotal($0, onBed: false) * 1000)
                }
                if !hosts.isEmpty { print("  without it (real hosts, each with its own cores), the model's efficiency at " + hosts.joined(separator: ", ")) }
            }
            if sharded, let n = counts.max(), n > 1 {
                let m = tailed(n)
                print(String(format: "  and step >= C + the round trip + the last bucket's way in and out, 2 (N-1) x %d values / %d server(s) on a link (slices by buckets %@): %.1f ms at %d hosts",
                             m.lastBucketValues, m.lastBucketPieces, buckets ? "on" : "off", m.tail(hosts: n) * 1000, n))
            }
            for n in counts where n > 1 {
                guard let f = measured[n] else { continue }
                let c = predictedCost(n)
                let shown = f.stepMs / 1000 - c.compute - c.transferCPU - c.reduce - c.optimizer
                let h = (c.weightsOut + c.gradientsIn - max(0, shown)) / c.compute
                print(String(format: "  measured at %d hosts: h = %.3f (communication %.1f ms, of which %.1f ms showed)", n, h,
                             (c.weightsOut + c.gradientsIn) * 1000, max(0, shown) * 1000))
            }
        }
        // CPU over the timed steps, from /proc (BedCPU): robust where wall time is not.
        for n in counts {
            guard let f = measured[n], let cpu = f.cpu else { continue }
            let per = 1000 / Double(f.cpuSteps)
            let parts = ["coordinator", "server", "worker"].compactMap { role -> String? in
                guard let s = cpu.seconds[role] else { return nil }
                let user = (cpu.userSeconds[role] ?? 0) * per
                return String(format: "%@%@ %.1f ms (user %.1f), %.0f wake-ups", role, (cpu.processes[role] ?? 1) > 1 ? "s" : "", s * per, user,
                              Double(cpu.switches[role] ?? 0) / Double(f.cpuSteps))
            }
            let total = cpu.seconds.values.reduce(0, +) * per
            print(String(format: "CPU per step at %d host(s): %.1f ms; ", n, total) + parts.joined(separator: "; "))
            if let others = cpu.othersSeconds, let cores = cpu.machineCores, f.stepMs > 0 {
                // Other work on the bed's cores: a share of the machine while the steps ran.
                let share = others * per / (f.stepMs * Double(cores))
                print(String(format: "  other processes on this machine meanwhile: %.1f ms of CPU per step, %.0f%% of its %d cores%@", others * per,
                             100 * share, cores, share > Self.busyShare ? " (not a quiet machine: the bed's figures are for one; docs/SCALING.md)" : ""))
            }
        }
        print("wait = until the last result is in, minus the compute; ckpt = one checkpoint after the last step (not in the step).")
        print("sharded = the model of S = N servers co-located with the workers (loom bench --hosts ... --servers hosts); ring(DDP) = 2(N-1)/N model sizes per host per step, no overlap.")
        var lines: [[String: Any]] = []
        for n in counts {
            guard let f = measured[n], let data = try? JSONEncoder().encode(f),
                  var object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { continue }
            object["model_step_ms"] = predictedTotal(n) * 1000
            object["model_efficiency"] = predictedOne / predictedTotal(n)
            object["model_hosts_step_ms"] = predictedTotal(n, onBed: false) * 1000
            object["model_hosts_efficiency"] = predictedTotal(base.hosts, onBed: false) / predictedTotal(n, onBed: false)
            object["sharded"] = sharded
            object["overlap"] = hidden != nil
            lines.append(object)
        }
        if let data = try? JSONSerialization.data(withJSONObject: ["model": model, "compute_ms": costs.compute * 1000, "runs": lines,
                                                                   "wire": costs.bytesPerValue == 2 ? "bf16" : "fp32"],
                                                  options: [.sortedKeys]) {
            print(String(decoding: data, as: UTF8.self))
        }
    }

    /// The shard servers of a bed of `hosts` hosts for `--servers` (a count, or `hosts`).
    static func serverCount(_ text: String, hosts: Int) throws -> Int {
        if text == "hosts" { return hosts }
        guard let s = Int(text), s >= 0 else { throw CLIError("--servers wants a count (0 or more) or 'hosts', got '\(text)'") }
        guard s <= hosts else { throw CLIError("--servers \(s) is more than the \(hosts) host(s) of a bed: one server per host at most") }
        return s
    }

    /// Seconds to add two gradients of `parameters` floats, and of one optimizer step.
    static func measureCoordinatorCosts(parameters p: Int, config: RunConfig) throws -> (add: Double, optimizer: Double) {
        var a = [Float](repeating: 0.001, count: p)
        let b = [Float](repeating: 0.002, count: p)
        let optimizer = try Optimizer(config: config.optimizer, parameterCount: p)
        func best(_ body: () throws -> Void) rethrows -> Double {
            var t = Double.infinity
            for _ in 0..<5 {
                let s = Date()
                try body()
                t = min(t, Date().timeIntervalSince(s))
            }
            return t
        }
        let add = best {
            a.withUnsafeMutableBufferPointer { x in
                b.withUnsafeBufferPointer { y in _ = elementwiseSum(x.baseAddress!, y.baseAddress!, into: x.baseAddress!, count: p) }
            }
        }
        var w = [Float](repeating: 0.5, count: p)
        let opt = best { optimizer.step(weights: &w, gradients: b, lr: 0.001) }
        return (add, opt)
    }

    /// Bytes per second of a tc rate (decimal kbit, mbit, gbit, as tc reads them).
    static func linkBytesPerSecond(_ rate: String) -> Double? {
        let r = rate.lowercased()
        for (suffix, scale) in [("gbit", 1e9), ("mbit", 1e6), ("kbit", 1e3)] where r.hasSuffix(suffix) {
            guard let v = Double(r.dropLast(suffix.count)), v > 0 else { return nil }
            return v * scale / 8
        }
        return nil
    }
}
