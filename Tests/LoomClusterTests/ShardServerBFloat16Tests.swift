// `cluster.wire: bf16` through shard servers, with real processes: the servers sum bf16
// gradient slices with the tree's rounding rule and hand out the bf16 rounding of their
// float32 master slices, so S = 1, 2 and 3 give the weights of the bf16
// `loom train --workers 0` bit for bit; and the servers' sockets carry half the bytes.

import Foundation
import LoomTestSupport
import Testing

@Suite(.serialized) struct ShardServerBFloat16Tests {
    @Test func oneToThreeServersInABF16RunGiveTheWeightsOfTheBF16OneProcessRun() throws {
        let h = try ClusterHarness("servers-bf16", model: "reference-cnn", maxSteps: 3, extra: ["cluster.wire=bf16"])
        let reference = try h.referenceModel()
        for s in 1...3 {
            let run = "run\(s)"
            let coordinator = try h.startCoordinator(run: run, extra: ["--min-workers", "2", "--set", "cluster.servers=\(s)"])
            for i in 0..<s { try h.startServer("\(run)-server\(i)") }
            try h.startWorker("\(run)-w0")
            try h.startWorker("\(run)-w1", extra: ["--exit-on-shutdown", "--no-local-data"])
            let model = try h.finish(coordinator, run: run)
            #expect(bitwiseEqual(model, reference), "bf16, \(s) server(s): weights differ from the bf16 one-process run")
            for i in 0..<s {
                let name = "\(run)-server\(i).log"
                #expect(h.waitFor("3 steps applied", in: name, seconds: 30), "\(h.log(name))")
                #expect(h.log(name).contains("wire bf16"), "\(h.log(name))")
            }
        }
    }

    /// The same run in fp32 and in bf16 with 2 servers: the bf16 run's weights are not the
    /// fp32 run's, and each server's socket carried about half the bytes each way (counted
    /// by the server: whole messages, headers included).
    @Test func bf16HalvesTheBytesOnEveryServersLink() throws {
        let h = try ClusterHarness("servers-bf16-bytes", model: "mlp", maxSteps: 3)
        let fp32 = try h.referenceModel()
        var bytes: [String: [(gradients: Int, weights: Int)]] = [:]
        for (run, extra) in [("fp32", [String]()), ("bf16", ["--wire", "bf16"])] {
            let coordinator = try h.startCoordinator(run: run, extra: ["--min-workers", "1", "--set", "cluster.servers=2"] + extra)
            let servers = try (0..<2).map { try h.startServer("\(run)-server\($0)") }
            try h.startWorker("\(run)-w", extra: ["--exit-on-shutdown", "--no-shared-memory"])
            let model = try h.finish(coordinator, run: run)
            #expect(bitwiseEqual(model, fp32) == (run == "fp32"), "\(run): weights against the fp32 one-process run")
            for (i, server) in servers.enumerated() {
                #expect(h.wait(server, seconds: 30), "\(run) server \(i) did not exit")
                let log = h.log("\(run)-server\(i).log")
                let counted = try #require(Self.byteCounts(log), "no byte counts in \(log)")
                bytes[run, default: []].append(counted)
            }
        }
        for i in 0..<2 {
            let (f, b) = (bytes["fp32"]![i], bytes["bf16"]![i])
            #expect(f.gradients > 0 && f.weights > 0, "server \(i): \(f)")
            let up = Double(b.gradients) / Double(f.gradients), down = Double(b.weights) / Double(f.weights)
            #expect(up > 0.45 && up < 0.55, "server \(i): gradient bytes bf16/fp32 = \(up) (\(b.gradients) / \(f.gradients))")
            #expect(down > 0.45 && down < 0.55, "server \(i): weights bytes bf16/fp32 = \(down) (\(b.weights) / \(f.weights))")
        }
    }

    /// "... N bytes of gradient slices in, M bytes of weights slices out" of a server's last line.
    static func byteCounts(_ log: String) -> (gradients: Int, weights: Int)? {
        guard let line = log.split(separator: "\n").last(where: { $0.contains("shard server done") }) else { return nil }
        func number(before marker: String) -> Int? {
            guard let end = line.range(of: marker)?.lowerBound else { return nil }
            return Int(String(line[..<end].reversed().drop { $0 == " " }.prefix { $0.isNumber }.reversed()))
        }
        guard let g = number(before: " bytes of gradient slices in"), let w = number(before: " bytes of weights slices out") else { return nil }
        return (g, w)
    }
}
