// `--wire fp32|bf16` on train, coordinator and bench: the same as `--set cluster.wire=...`
// (docs/CLUSTER.md, "bf16 on the wire").

import ArgumentParser
import LoomConfig

extension WireFormat: ExpressibleByArgument {}

struct WireOption: ParsableArguments {
    @Option(help: ArgumentHelp("Gradients and weights between processes: fp32 (default) or bf16 (rounded to nearest even, half the bytes).",
                               discussion: "The same as --set cluster.wire=...: stored in the run's config, so a resume keeps it. A bf16 run rounds the same way with --workers 0."))
    var wire: WireFormat?

    /// The `--set` argument it stands for, if given.
    var overrides: [String] { wire.map { ["cluster.wire=\($0.rawValue)"] } ?? [] }
}
