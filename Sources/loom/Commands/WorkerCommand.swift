import ArgumentParser

// Placeholder until LoomCluster lands; owned by the cluster engineer.
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "worker", abstract: "(being built)")
    func run() throws { throw CLIError("not built yet") }
}
