import ArgumentParser
import Foundation
import LoomCheckpoint
import LoomConfig
import LoomModel

struct ImportWeightsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-weights",
        abstract: "Turn a PyTorch state_dict (safetensors or HDF5) into a step-0 checkpoint for train --init-from.",
        discussion: """
        Every tensor of the model is looked up in FILE by its Loom name (Loom's shipped ResNets \
        use torchvision's names, so torchvision's ResNet-18 needs no map), renamed by --map's \
        prefixes when given, and its shape checked. Tensors FILE lacks, or whose shape differs \
        (e.g. a 1000-class fc for a 10-class head), keep the model's fresh initialisation; the \
        command lists what was loaded, left at initialisation, did not fit, and went unused.
        """)

    @Argument(help: "The state_dict: a .safetensors file, or an HDF5 file of one dataset per tensor name (read by its signature).")
    var file: String

    @Option(help: "The model file (configs/models/*.yaml) the checkpoint is for.")
    var model: String

    @Option(help: "Output checkpoint (HDF5).")
    var out: String

    @Option(help: "YAML mapping of Loom name prefixes to the source's (e.g. {fc: classifier.1}).")
    var map: String?

    @Option(help: "Seed of the fresh initialisation of tensors not loaded.")
    var seed: UInt64 = 0

    @Flag(help: "Fail (exit 1) unless every tensor outside the heads was loaded.")
    var requireTrunk = false

    @OptionGroup var global: GlobalOptions

    func run() throws {
        let logger = global.bootstrap(process: "import-weights")
        try runReportingErrors {
            let modelPath = URL(fileURLWithPath: model).standardizedFileURL.path
            let config = try ConfigLoader.parse(yaml: "model:\n  file: '\(modelPath)'\n", source: modelPath,
                                                defaultName: "import-weights")
            let network = try Model(model: config.model, heads: config.heads)
            let entries = try map.map { (path) throws(ConfigError) in try NameMap.entries(path: path) } ?? []
            let prefixes = Dictionary(uniqueKeysWithValues: entries.map { ($0.loom, $0.source) })
            let source = HDF5StateDict.isHDF5(file) ? try HDF5StateDict.read(file) : try SafeTensorsFile.read(file)
            try Self.checkMap(entries, path: map ?? "", model: network.parameters.names + network.buffers.names,
                              modelPath: modelPath, source: source.tensors.map(\.name), sourcePath: file)
            let (parameters, buffers) = network.initialParameters(seed: seed)
            var tensors = (network.parameters.views.map { NamedTensor(name: $0.name, shape: $0.shape,
                                                                     values: Array(parameters[$0.range])) }
                           + network.buffers.views.map { NamedTensor(name: $0.name, shape: $0.shape,
                                                                    values: Array(buffers[$0.range])) })
            let report = WeightImport.apply(source: source.tensors, to: &tensors, prefixes: prefixes)
            let headLayers = Set(config.heads.map(\.layer))
            func inHead(_ entry: String) -> Bool {
                let name = String(entry.prefix { $0 != " " && $0 != ":" })
                return headLayers.contains(String(name[..<(name.lastIndex(of: ".") ?? name.endIndex)]))
            }
            print("\(file): \(source.tensors.count) float tensors" + (source.skipped.isEmpty ? "" :
                  "; skipped non-float \(source.skipped.joined(separator: ", "))"))
            print("loaded (\(report.loaded.count)): \(report.loaded.joined(separator: ", "))")
            print("left at initialisation (\(report.leftAtInit.count)): \(report.leftAtInit.isEmpty ? "none" : report.leftAtInit.joined(separator: ", "))")
            print("did not fit, left at initialisation (\(report.didNotFit.count)): \(report.didNotFit.isEmpty ? "none" : report.didNotFit.joined(separator: "; "))")
            print("unused in \(file) (\(report.unused.count)): \(report.unused.isEmpty ? "none" : report.unused.joined(separator: ", "))")
            guard !report.loaded.isEmpty else {
                throw CLIError("\(file): none of its \(source.tensors.count) float tensors fits the model \(model)"
                               + " (names or shapes differ; --map renames): nothing written")
            }
            let trunkMissing = (report.leftAtInit + report.didNotFit).filter { !inHead($0) }
            if requireTrunk && !trunkMissing.isEmpty {
                throw CLIError("--require-trunk: \(trunkMissing.count) trunk tensors not loaded: \(trunkMissing.joined(separator: "; "))")
            }
            // train --init-from loads every tensor of this checkpoint, initialised ones too: a
            // trunk tensor left here at initialisation is not caught there, so say it now.
            if !trunkMissing.isEmpty {
                let names = trunkMissing.map { String($0.prefix { $0 != ":" }) }.joined(separator: ", ")
                let message = "\(trunkMissing.count) trunk tensor(s) outside the heads were not loaded and keep their"
                    + " initialisation: \(names) (--require-trunk makes this an error)"
                logger.warning("\(message)")
            }
            let norms = network.buffers.views.compactMap { v -> String? in
                v.name.hasSuffix(".running_mean") ? String(v.name.dropLast(".running_mean".count)) : nil
            }
            let contents = CheckpointContents(
                runID: "0", step: 0, epoch: 0, stepInEpoch: 0, config: config.yaml, datasetFingerprint: "",
                model: tensors, batchNormLayers: norms, numBatchesTracked: 0,
                optimizer: OptimizerSnapshot(kind: config.optimizer.kind.rawValue, step: 0,
                                             slots: Self.zeroSlots(config.optimizer, parameters: network.parameters.count)),
                schedule: ScheduleSnapshot(kind: config.schedule.kind.rawValue, epoch: 0, tCur: 0, tI: 0, restarts: 0,
                                           lr: config.optimizer.lr),
                sampler: SamplerSnapshot(seed: config.training.seed, epoch: 0, stepInEpoch: 0),
                preprocessing: PreprocessingSnapshot(scale: 1.0 / 255.0, mean: [0], std: [1]),
                extraAttributes: ["imported_from": URL(fileURLWithPath: file).lastPathComponent])
            try CheckpointWriter.write(contents, to: out)
            print("wrote \(out): step 0, \(report.loaded.count) of \(tensors.count) tensors from \(file)")
        }
    }

    /// A map entry whose Loom prefix names no tensor of the model, or whose source prefix names
    /// no float tensor of the file, is a typo: without this check it would leave tensors at
    /// their initialisation, listed among many others.
    static func checkMap(_ entries: [NameMap.Entry], path: String, model: [String], modelPath: String,
                         source: [String], sourcePath: String) throws(ConfigError) {
        func matches(_ prefix: String, _ names: [String]) -> Bool {
            names.contains { $0 == prefix || $0.hasPrefix(prefix + ".") }
        }
        for entry in entries {
            guard matches(entry.loom, model) else {
                throw ConfigError(source: path, line: entry.line, keyPath: entry.loom,
                                  message: "'\(entry.loom)' names no tensor of the model \(modelPath) (a typo?)")
            }
            guard matches(entry.source, source) else {
                throw ConfigError(source: path, line: entry.line, keyPath: entry.loom,
                                  message: "'\(entry.source)' names no float tensor of \(sourcePath) (a typo?)")
            }
        }
    }

    /// The optimizer's slots at step 0 (all zero), so that the checkpoint restores like any
    /// other (`loom eval`, `predict`, `calibrate` restore the optimizer with the run).
    static func zeroSlots(_ optimizer: OptimizerConfig, parameters: Int) -> [String: [Float]] {
        let zeros = [Float](repeating: 0, count: parameters)
        switch optimizer.kind {
        case .sgd: return optimizer.momentum != 0 ? ["momentum_buffer": zeros] : [:]
        case .adam, .adamw: return ["exp_avg": zeros, "exp_avg_sq": zeros]
        }
    }
}
