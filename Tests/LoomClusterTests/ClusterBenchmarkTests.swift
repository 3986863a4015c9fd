// The scaling measurement behind `loom bench --workers 1,2`. Slow (real training for tens
// of seconds), so it runs only when LOOM_CLUSTER_BENCH=1, in a release build.

import Foundation
import LoomCluster
import LoomConfig
import LoomTestSupport
import Testing

@Suite(.serialized) struct ClusterBenchmarkTests {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["LOOM_CLUSTER_BENCH"] == "1"))
    func twoWorkersScaleTheReferenceCNN() throws {
        let model = TestPaths.repositoryRoot.appendingPathComponent("configs/models/reference-cnn.yaml").path
        let config = try ConfigLoader.parse(yaml: """
            name: bench
            model: {file: \(model)}
            optimizer: {kind: sgd, lr: 0.01, momentum: 0.9, weight_decay: 0.0005}
            training: {batch_size: 128, micro_batch: 32, epochs: 1000}
            """, source: "bench", defaultName: "bench")
        let loom = TestPaths.loomExecutable.path
        let one = try ClusterBenchmark.run(workers: 1, config: config, steps: 40, loomExecutable: loom)
        let two = try ClusterBenchmark.run(workers: 2, config: config, steps: 40, loomExecutable: loom)
        let efficiency = two.samplesPerSecond / (2 * one.samplesPerSecond)
        print(String(format: "cluster bench: 1 worker %.1f samples/s, 2 workers %.1f samples/s, efficiency %.3f, %.0f / %.0f bytes per step",
                     one.samplesPerSecond, two.samplesPerSecond, efficiency, one.bytesPerStep, two.bytesPerStep))
        #expect(efficiency >= 0.9)
    }
}
