// Prints (does not assert) the reference CNN's training throughput as a fraction of
// single-thread sgemm, measured in the same run. Meaningful in release builds:
//   swift test -c release --filter Bench
import LoomKernels
import LoomModel
import Testing

@Test func trainingBenchmarkReportsThroughput() throws {
    let model = try referenceModel()
    let sgemm = BLAS.measureSgemmGFLOPS(size: 512, seconds: 0.5)
    let training = TrainingBenchmark.run(model: model, batch: 128, microBatch: 32, seconds: 1)
    print(String(format: "Bench: sgemm %.1f GFLOP/s; training %.0f samples/s, %.1f GFLOP/s; ratio %.2f",
                 sgemm, training.samplesPerSecond, training.gflops, training.gflops / sgemm))
    #expect(training.samplesPerSecond > 0)
}
