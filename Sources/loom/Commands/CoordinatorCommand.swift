import ArgumentParser

// Placeholder until LoomCluster lands; owned by the cluster engineer.
struct CoordinatorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "coordinator", abstract: "(being built)")
    func run() throws { throw CLIError("not built yet") }
}
