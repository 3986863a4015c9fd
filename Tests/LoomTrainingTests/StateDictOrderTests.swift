// `/model@state_dict_order` is PyTorch's `state_dict()` order: module by module, each
// module's parameters then its buffers (running_mean, running_var, num_batches_tracked).
// Checked on the reference CNN's checkpoint, structurally, and — when a Python with torch
// is at hand — against the keys of Tests/Fixtures/generate.py's `ReferenceCNN`.

import Foundation
import LoomCheckpoint
import LoomConfig
import LoomHDF5
import LoomTestSupport
import LoomTraining
import Testing

/// The python3 (or `$LOOM_TORCH_PYTHON`) that imports torch, h5py and yaml, if any.
private let torchPython: String? = {
    var candidates = ["/usr/bin/python3"]
    let path = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { "\($0)/python3" }
    candidates = path + candidates
    if let p = ProcessInfo.processInfo.environment["LOOM_TORCH_PYTHON"], !p.isEmpty { candidates = [p] }
    for python in candidates where FileManager.default.isExecutableFile(atPath: python) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = ["-c", "import torch, h5py, yaml"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { continue }
        p.waitUntilExit()
        if p.terminationStatus == 0 { return python }
    }
    return nil
}()

@Suite struct StateDictOrderTests {
    /// The `state_dict_order` of a step-0 checkpoint of the reference CNN.
    static func referenceOrder() throws -> [String] {
        let model = TestPaths.repositoryRoot.appendingPathComponent("configs/models/reference-cnn.yaml").path
        let config = try ConfigLoader.parse(yaml: "model: {file: \(model)}\ntraining: {batch_size: 8, micro_batch: 4}",
                                            source: "order", defaultName: "order")
        let problem = try TrainingProblem.synthetic(config: config)
        let state = try TrainingState(problem: problem, trainLabels: [(0..<16).map { Int32($0 % 10) }],
                                      trainIndices: Array(0..<16), validationIndices: [])
        let directory = try TestPaths.temporaryDirectory("loom-order")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("ckpt.h5").path
        try CheckpointWriter.write(state.snapshot(runID: "0000000000000001", datasetFingerprint: "x"), to: path)
        let file = try HDF5File.open(path)
        defer { file.close() }
        return try #require(try file.root.stringArrayAttribute("state_dict_order", on: "model"))
    }

    @Test func eachModulesParametersThenBuffersInModuleOrder() throws {
        let order = try Self.referenceOrder()
        let modules = order.map { String($0[..<$0.lastIndex(of: ".")!]) }
        // A module's keys are consecutive: it never reappears after another module.
        var seen: [String] = []
        for module in modules where seen.last != module {
            #expect(!seen.contains(module), "\(module) appears twice in \(order)")
            seen.append(module)
        }
        #expect(seen == ["c1", "b1", "c2", "b2", "f1", "f2"])
        let suffixes = order.filter { $0.hasPrefix("b1.") }.map { $0.dropFirst(3) }
        #expect(suffixes == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"])
    }

    @Test(.enabled(if: torchPython != nil, "needs a Python with torch, h5py and yaml (set LOOM_TORCH_PYTHON)"))
    func matchesPyTorchsStateDictOfTheFixtureModel() throws {
        let python = try #require(torchPython)
        let fixtures = TestPaths.repositoryRoot.appendingPathComponent("Tests/Fixtures").path
        let out = try TestPaths.temporaryDirectory("loom-order-py").appendingPathComponent("keys.txt")
        defer { try? FileManager.default.removeItem(at: out.deletingLastPathComponent()) }
        FileManager.default.createFile(atPath: out.path, contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = ["-c", "import sys; sys.path.insert(0, sys.argv[1]); import generate; "
                       + "print('\\n'.join(generate.ReferenceCNN().state_dict().keys()))", fixtures]
        p.standardOutput = try FileHandle(forWritingTo: out)
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let keys = try String(contentsOf: out, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(keys.count == 18)  // six modules: 2 + 5 + 2 + 5 + 2 + 2
        #expect(try Self.referenceOrder() == keys)
    }
}
