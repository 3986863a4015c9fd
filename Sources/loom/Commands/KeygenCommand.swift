import ArgumentParser
import LoomWire

/// `loom keygen --out DIR`: a CURVE key pair for a coordinator or a worker.
struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Write a CURVE key pair (DIR/loom.pub, DIR/loom.key with mode 0600).",
        discussion: """
        Coordinator: put each worker's loom.pub into DIR/authorized/<name>.pub and start it \
        with --keys DIR. Worker: copy the coordinator's loom.pub to DIR/coordinator.pub and \
        start it with --keys DIR. Existing key files are never overwritten.
        """)

    @Option(help: "Directory to write the key pair into (created with mode 0700).")
    var out: String

    @OptionGroup var global: GlobalOptions

    func run() throws {
        _ = global.bootstrap(process: "keygen")
        try runReportingErrors {
            let keys = try CurveKeyPair.generate()
            try keys.save(to: out)
            print("public key \(keys.publicKey)")
            print("wrote \(out)/\(CurveKeyPair.publicKeyFile) and \(out)/\(CurveKeyPair.secretKeyFile) (0600)")
        }
    }
}
