// Generated welcomes and assignments — header fields, counts, indices, records and JSON
// swapped for hostile values, bytes flipped, frames cut — through exactly what a worker
// does with them: decode (docs/PROTOCOL.md, R1–R14), then plan the run (config, run
// description, model, workspace) or compute the block. No case may crash; each is a
// typed error or a run within the limits / a result. Deterministic: a fixed seed.

import Foundation
import Logging
import LoomConfig
import LoomTraining
import LoomWire
import Testing
@testable import LoomCluster
import LoomTestSupport


private let hostileIntegers: [String] = {
    var values = ["0", "-1", "1", "2", "7", "65536", "65537", "1048577", "1000000000000", "4000000000000",
                  "4611686018427387904", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
                  "18446744073709551616", "1e12", "1.5", "1e308", "null", "\"x\"", "[]", "{}"]
    for k in [20, 31, 32, 62] { values += ["\(1 << k)", "\((1 << k) - 1)"] }
    return values
}()

private let hostileUInt64s: [UInt64] = [0, 1, 2, 3, 4, 7, 8, 255, 1 << 16, 1 << 31, 1 << 32, (1 << 32) - 1,
                                         1 << 62, (1 << 63) - 1, 1 << 63, UInt64.max - 1, UInt64.max]

/// Swaps the `n`th run of digits in `text` for `value`.
private func replacingNumber(in text: String, _ random: inout TestRandom) -> String {
    var chars = Array(text)
    var runs: [Range<Int>] = []
    var i = 0
    while i < chars.count {
        if chars[i].isNumber {
            let start = i
            while i < chars.count && chars[i].isNumber { i += 1 }
            runs.append(start..<i)
        } else {
            i += 1
        }
    }
    guard !runs.isEmpty else { return text }
    let run = random.pick(runs)
    chars.replaceSubrange(run, with: Array(random.pick(hostileIntegers)))
    return String(chars)
}

/// Byte-level damage to one frame: flips, truncation, growth.
private func damage(_ frames: [[UInt8]], _ random: inout TestRandom) -> [[UInt8]] {
    var frames = frames
    let f = random.below(frames.count)
    switch random.below(4) {
    case 0 where !frames[f].isEmpty:
        for _ in 0...random.below(4) { frames[f][random.below(frames[f].count)] ^= UInt8(1 << random.below(8)) }
    case 1:
        frames[f] = Array(frames[f].prefix(random.below(frames[f].count + 1)))
    case 2:
        frames[f] += (0..<random.below(64)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
    default:
        if frames.count > 1 && random.below(2) == 0 { frames.remove(at: f) } else { frames.append([]) }
    }
    return frames
}

/// The small run both fuzzers start from: the MLP, batch 8 in micro-shards of 4.
private func baseWelcome() throws -> (welcome: Welcome, problem: TrainingProblem) {
    let config = try ConfigLoader.parse(yaml: """
        name: fuzz
        model:
          input: [1, 28, 28]
          layers:
            - {kind: flatten}
            - {kind: linear, name: l1, out: 32}
            - {kind: relu}
            - {kind: dropout, p: 0.25}
        heads:
          - {name: category, kind: softmax, classes: 10, layer: l3, hidden: [16]}
        data: {tta: [identity, hflip]}
        training: {batch_size: 8, micro_batch: 4, seed: 5}
        cluster: {heartbeat_ms: 100, worker_timeout_ms: 1000}
        """, source: "fuzz", defaultName: "fuzz")
    let problem = try TrainingProblem.synthetic(config: config)
    let description = RunDescription(problem: problem, datasetFingerprint: "f00d")
    return (Welcome(runID: 9, configYAML: config.yaml, runJSON: description.json()), problem)
}

@Suite struct WireFuzzTests {
    @Test func generatedWelcomesGiveAnErrorOrARunWithinTheLimits() throws {
        let (base, _) = try baseWelcome()
        var random = TestRandom(seed: 61)
        var (dropped, refused, planned) = (0, 0, 0)
        for _ in 0..<3000 {
            var welcome = base
            switch random.below(3) {
            case 0: welcome.configYAML = replacingNumber(in: welcome.configYAML, &random)
            case 1: welcome.runJSON = replacingNumber(in: welcome.runJSON, &random)
            default:
                welcome.configYAML = replacingNumber(in: welcome.configYAML, &random)
                welcome.runJSON = replacingNumber(in: welcome.runJSON, &random)
            }
            var frames = Message.welcome(welcome).encode()
            if random.below(4) == 0 { frames = damage(frames, &random) }
            let message: Message
            do { message = try Message.decode(frames, expectedRunID: nil) } catch {
                dropped += 1
                continue
            }
            guard case .welcome(let decoded) = message else { continue }
            do {
                // A fixed machine size: the outcome must not depend on the test host.
                let plan = try WorkerSession.plan(decoded, endpoint: "fuzz", memoryBytes: 8 << 30)
                let model = plan.problem.model
                #expect(model.parameters.count + model.buffers.count <= 1 << 28)  // LoomModel's ModelLimits.parameters
                #expect((model.workspaceBytes(batch: plan.config.training.microBatch) ?? .max) <= 8 << 30)
                planned += 1
            } catch {
                guard case .badWelcome(let endpoint, let reason) = error else {
                    Issue.record("not a badWelcome: \(error)")
                    continue
                }
                #expect(endpoint == "fuzz" && !reason.isEmpty)
                refused += 1
            }
        }
        #expect(dropped > 100 && refused > 500 && planned > 300, "dropped \(dropped), refused \(refused), planned \(planned)")
    }

    @Test func generatedAssignmentsGiveAnErrorOrAResult() throws {
        let (welcome, problem) = try baseWelcome()
        let network = InMemoryNetwork()
        let coordinator = network.bindCoordinator()
        let transport = network.connectWorker()
        var options = WorkerOptions(endpoint: "fuzz")
        options.useLocalData = false
        var logger = Logger(label: "test.fuzz")
        logger.logLevel = .critical
        let worker = Worker(options: options, logger: logger, stop: StopFlag(), makeTransport: { transport })
        let session = WorkerSession(worker: worker, transport: transport)
        let plan = try WorkerSession.plan(welcome, endpoint: "fuzz", memoryBytes: 8 << 30)
        session.current = WorkerSession.Run(runID: welcome.runID, description: plan.description,
                                            slotComputer: SlotComputer(problem: plan.problem, microBatch: 4, slots: 1),
                                            heartbeat: .seconds(100), timeout: .seconds(100), tta: plan.tta)
        let (parameters, buffers) = problem.model.initialParameters(seed: 1)
        session.parameters = parameters
        session.buffers = buffers
        session.version = 0

        let pixels = problem.imageShape.elementCount
        let truth = GroundTruth.synthetic(heads: problem.heads, count: 4)
        let records = SampleRecords.pack(images: (0..<4 * pixels).map { UInt8(truncatingIfNeeded: $0) },
                                         labels: truth.labels, targets: truth.targets, pixels: pixels)
        let base = Assignment(runID: welcome.runID, step: 3, epoch: 0, weightsVersion: 0, firstShard: 1,
                              shardSampleCounts: [4], sampleIndices: [4, 5, 6, 7], sampleRecords: records,
                              headScales: [0.125])
        var random = TestRandom(seed: 62)
        var (dropped, refused, computed) = (0, 0, 0)
        for _ in 0..<3000 {
            var a = base
            switch random.below(9) {
            case 0: a.step = random.pick(hostileUInt64s)
            case 1: a.epoch = UInt32(truncatingIfNeeded: random.pick(hostileUInt64s))
            case 2: a.firstShard = UInt32(truncatingIfNeeded: random.pick(hostileUInt64s))
            case 3: a.weightsVersion = random.pick(hostileUInt64s)
            case 4:
                a.shardSampleCounts = (0..<1 + random.below(3)).map { _ in UInt32(truncatingIfNeeded: random.pick(hostileUInt64s)) }
            case 5: break  // the index frame's bytes, below
            case 6: a.sampleRecords = Array(a.sampleRecords.prefix(random.below(a.sampleRecords.count + 8)))
            case 7: a.headScales = (0..<random.below(3)).map { _ in random.pick([0, 1, -1, .nan, .infinity, 1e38]) }
            default: a.sharedResult.toggle()
            }
            // A label a record may carry: any int32 (a bad one must be skipped, never indexed).
            if random.below(4) == 0, !a.sampleRecords.isEmpty {
                let at = pixels + random.below(4) * (a.sampleRecords.count / 4)
                if at + 4 <= a.sampleRecords.count {
                    for k in 0..<4 { a.sampleRecords[at + k] = UInt8(truncatingIfNeeded: random.next()) }
                }
            }
            var frames = Message.assignment(a).encode()
            // Sample indices as the wire carries them (u64): any value, also ≥ 2^63.
            if frames.count > 2, frames[2].count >= 8, random.below(6) == 0 {
                let at = 8 * random.below(frames[2].count / 8)
                let value = random.pick(hostileUInt64s)
                for k in 0..<8 { frames[2][at + k] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(k))) }
            }
            if random.below(4) == 0 { frames = damage(frames, &random) }
            let message: Message
            do { message = try Message.decode(frames, expectedRunID: welcome.runID) } catch {
                dropped += 1
                continue
            }
            guard case .assignment(let decoded) = message else { continue }
            do {
                try session.compute(decoded)
                computed += 1
                let reply = try #require(try coordinator.receive(timeout: .seconds(1)))
                guard case .result(let result)? = try? Message.decode(reply.frames, expectedRunID: welcome.runID) else {
                    Issue.record("the worker's reply is not a valid result")
                    continue
                }
                #expect(result.step == decoded.step && result.firstShard == decoded.firstShard)
            } catch {
                #expect(!"\(error)".isEmpty)
                refused += 1
            }
        }
        #expect(dropped > 100 && refused > 300 && computed > 300, "dropped \(dropped), refused \(refused), computed \(computed)")
    }
}
