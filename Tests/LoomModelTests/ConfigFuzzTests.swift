// Generated configs — YAML with numbers swapped for hostile ones, lines dropped or
// repeated, and `--set` overrides of every kind of key with every kind of value — through
// the whole path a run takes before it allocates: parse, resolve heads, build the model,
// check its workspace. No case may crash; each is a typed error or a model within
// ModelLimits. Deterministic: the cases come from a fixed seed.
import LoomConfig
import LoomModel
import LoomTraining
import Testing
import LoomTestSupport


enum ConfigFuzz {
    static let base = """
        name: fuzz
        model:
          input: [1, 28, 28]
          layers:
            - {kind: conv2d, name: c1, out: 8, kernel: 3, stride: 1, padding: 1}
            - {kind: batchnorm2d, name: b1}
            - {kind: relu}
            - {kind: maxpool2d, kernel: 2, stride: 2}
            - {kind: depthwise2d, name: d1, kernel: 3, padding: 1}
            - {kind: squeeze_excite, name: se1, squeeze: 4}
            - {kind: residual, block: [{kind: conv2d, name: r1, out: 8, kernel: 3, padding: 1}]}
            - {kind: avgpool2d, kernel: 2}
            - {kind: flatten}
            - {kind: dropout, p: 0.1}
            - {kind: linear, name: f1, out: 32}
        heads:
          - {name: category, kind: softmax, classes: 10, hidden: [16]}
        data: {augment: {crop_padding: 2}}
        optimizer: {kind: adamw, lr: 0.01}
        schedule: {kind: sgdr, t_0: 10, t_mult: 2}
        training: {batch_size: 16, micro_batch: 4, epochs: 1, max_steps: 5, seed: 3}
        cluster: {heartbeat_ms: 100, worker_timeout_ms: 1000}
        checkpoint: {every_steps: 5, keep: 2}
        """

    static let keys = [
        "model.input", "model.input.0", "model.input.1", "model.input.2",
        "model.layers.0.out", "model.layers.0.kernel", "model.layers.0.stride", "model.layers.0.padding",
        "model.layers.3.kernel", "model.layers.3.stride", "model.layers.3.padding",
        "model.layers.4.kernel", "model.layers.4.stride", "model.layers.4.padding",
        "model.layers.5.squeeze", "model.layers.6.block.0.out", "model.layers.6.block.0.stride",
        "model.layers.7.kernel", "model.layers.9.p", "model.layers.10.out", "model.layers.1.momentum",
        "model.layers.1.eps", "model.layers.2", "model.layers.99.out", "model.layers", "model",
        "heads.0.classes", "heads.0.hidden", "heads.0.hidden.0", "heads.0.kind", "heads.0.loss_weight",
        "heads.0.loss.gamma", "heads.0.loss.label_smoothing", "heads", "training.batch_size",
        "training.micro_batch", "training.epochs", "training.max_steps", "training.seed",
        "training.log_every_steps", "training.eval_every_steps", "cluster.heartbeat_ms",
        "cluster.worker_timeout_ms", "checkpoint.keep", "checkpoint.every_steps", "optimizer.lr",
        "optimizer.betas", "optimizer.eps", "optimizer.weight_decay", "optimizer.reference_batch",
        "schedule.t_0", "schedule.t_mult", "schedule.warmup", "schedule.kind", "schedule.step_size",
        "schedule.gamma", "schedule.t_max", "schedule.eta_min", "schedule.unit", "data.augment.crop_padding",
        "data.mean", "data.std", "data.validation_fraction", "calibration.max_iterations", "name", "x.y",
    ]

    static var numbers: [String] {
        var values = ["0", "-1", "1", "2", "3", "4", "7", "16", "64", "1000", "65536", "65537", "1048576",
                      "1048577", "1000000000000", "4000000000000", "4611686018427387904",
                      "9223372036854775807", "9223372036854775808", "-9223372036854775808",
                      "18446744073709551616", "1e12", "1.5", "-0.0", "1e308", "1e-320", ".nan", ".inf",
                      "-.inf", "0x10", "0o17", "1_000_000", "2147483647", "2147483648", "86400001"]
        for k in [10, 20, 30, 31, 32, 40, 62] { values += ["\(1 << k)", "\((1 << k) - 1)"] }
        return values
    }

    static let others = ["true", "null", "~", "[]", "{}", "[1, 2]", "[1, 28, 28]", "[0, 28, 28]",
                         "[3, 65536, 65536]", "{a: 1}", "'7'", "\"\"", "[[[[]]]]", "{kind: relu}",
                         "[{kind: linear, name: z, out: 1048576}]", "conv2d", "!!int 5", "&a 3", "*a",
                         "step", "sgdr", "cosine", "constant", "epoch", "4.9e-324", "1e-300"]

    /// One generated case: YAML text and overrides.
    static func generate(_ random: inout TestRandom) -> (yaml: String, overrides: [String]) {
        var lines = base.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        // Text mutations: a number swapped, a line dropped, doubled or cut short.
        for _ in 0..<Int(random.next() % 3) {
            let i = Int(random.next() % UInt64(lines.count))
            switch random.next() % 4 {
            case 0:
                let tokens = lines[i].split(separator: " ", omittingEmptySubsequences: false)
                let numeric = tokens.indices.filter { tokens[$0].contains(where: \.isNumber) }
                if let t = numeric.isEmpty ? nil : random.pick(numeric) {
                    var token = tokens[t]
                    let tail = token.drop(while: { $0.isNumber || $0 == "." || $0 == "-" || $0 == "e" })
                    token = Substring(random.pick(numbers)) + tail
                    var replaced = tokens
                    replaced[t] = token
                    lines[i] = replaced.joined(separator: " ")
                }
            case 1: lines.remove(at: i)
            case 2: lines.insert(lines[i], at: i)
            default: lines[i] = String(lines[i].prefix(Int(random.next() % UInt64(lines[i].count + 1))))
            }
        }
        var overrides: [String] = []
        for _ in 0..<Int(random.next() % 4) {
            let value = random.chance(0.75) ? random.pick(numbers) : random.pick(others)
            overrides.append("\(random.pick(keys))=\(value)")
        }
        return (lines.joined(separator: "\n"), overrides)
    }
}

@Suite struct ConfigFuzzTests {
    /// What happened to the cases, so that the test also shows it reached the model.
    struct Outcomes { var configErrors = 0, otherErrors = 0, models = 0 }

    @Test func generatedConfigsGiveAnErrorOrAModelWithinTheLimits() throws {
        var random = TestRandom(seed: 23)
        var outcomes = Outcomes()
        for _ in 0..<3000 {
            let (yaml, overrides) = ConfigFuzz.generate(&random)
            let config: RunConfig
            do {
                config = try ConfigLoader.parse(yaml: yaml, source: "fuzz.yaml", overrides: overrides, defaultName: "fuzz")
            } catch {
                #expect(!error.message.isEmpty)
                outcomes.configErrors += 1
                continue
            }
            let input = config.model.input.count == 3 ? config.model.input : [1, 28, 28]
            let heads = config.heads.map {
                ResolvedHead(name: $0.name, kind: $0.kind, attribute: $0.attribute, classes: max($0.classes, 2),
                             classNames: [], classWeights: nil)
            }
            do {
                let problem = try TrainingProblem(config: config, heads: heads,
                                                  imageShape: .init(height: input[1], width: input[2], channels: input[0]))
                let model = problem.model
                // The schedule the run would follow, at its first and at far-away steps.
                if let schedule = try? LRSchedule(config: config.schedule, baseLR: config.optimizer.lr,
                                                  stepsPerEpoch: 10, totalSteps: 1000) {
                    for step in [0, 1, 999, 1 << 40] { _ = schedule.position(atStep: step) }
                }
                #expect(model.parameters.count + model.buffers.count <= ModelLimits.parameters)
                let bytes = try #require(model.workspaceBytes(batch: config.training.microBatch))
                #expect(bytes <= ModelLimits.workspaceBytes)
                outcomes.models += 1
            } catch {
                #expect(!"\(error)".isEmpty)
                outcomes.otherErrors += 1
            }
        }
        // The generator must reach every stage, or the test checks less than it says.
        #expect(outcomes.configErrors > 300, "\(outcomes)")
        #expect(outcomes.models > 300, "\(outcomes)")
        #expect(outcomes.otherErrors > 10, "\(outcomes)")
    }
}
