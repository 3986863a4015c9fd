import ArgumentParser

// Placeholder until LoomCluster lands; owned by the cluster engineer.
struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "keygen", abstract: "(being built)")
    func run() throws { throw CLIError("not built yet") }
}
