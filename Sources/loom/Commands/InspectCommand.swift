import ArgumentParser

// Placeholder until the checkpoint inspection API lands.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", abstract: "(being built)")
    func run() throws { throw CLIError("not built yet") }
}
