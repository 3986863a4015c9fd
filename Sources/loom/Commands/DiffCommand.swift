import ArgumentParser

// Placeholder until the checkpoint inspection API lands.
struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "diff", abstract: "(being built)")
    func run() throws { throw CLIError("not built yet") }
}
