// `loom bench` of a model with depthwise layers sets them against the host's memory
// bandwidth, measured in the same run; a model without them gets no bandwidth line.

import Foundation
import LoomTestSupport
import Testing

@Suite struct BenchDepthwiseTests {
    @Test func depthwiseLayersAreMeasuredAgainstTheMemoryBandwidth() throws {
        let ws = try Workspace("bench-depthwise")
        let model = TestPaths.repositoryRoot.appendingPathComponent("configs/models/mobilenet-small.yaml").path
        let r = try ws.loom(["bench", "--model", model, "--batch", "4", "--micro-batch", "4", "--seconds", "0.05", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("memory bandwidth (1 thread, 64 MiB arrays, thread CPU time): copy "))
        #expect(r.stdout.contains("depthwise (6 layers, micro-batch 4): forward "))
        let json = r.stdout.split(separator: "\n").last { $0.hasPrefix("{") }.map(String.init) ?? ""
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] ?? [:]
        #expect(object["depthwise_layers"] as? Int == 6)
        for key in ["memory_copy_bytes_per_s", "memory_triad_bytes_per_s", "depthwise_forward_bytes_per_s",
                    "depthwise_backward_bytes_per_s"] {
            #expect((object[key] as? Double ?? 0) > 0, "\(key) in \(json)")
        }
    }

    @Test func aModelWithoutDepthwiseLayersHasNoBandwidthLine() throws {
        let ws = try Workspace("bench-no-depthwise")
        let model = TestPaths.repositoryRoot.appendingPathComponent("configs/models/mlp.yaml").path
        let r = try ws.loom(["bench", "--model", model, "--batch", "8", "--micro-batch", "8", "--seconds", "0.05"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("ratio training/sgemm"))
        #expect(!r.stdout.contains("memory bandwidth"))
    }
}
