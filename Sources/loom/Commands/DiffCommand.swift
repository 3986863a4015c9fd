import ArgumentParser
import LoomCheckpoint

struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Compare two checkpoints tensor by tensor, and their configs.",
        discussion: "Exit status 0 only when every weight and buffer is bitwise identical; 1 when they differ; 2 on an unreadable file.")

    @Argument(help: "First checkpoint.")
    var a: String

    @Argument(help: "Second checkpoint.")
    var b: String

    func run() throws {
        let diff: CheckpointDiff
        do {
            diff = try CheckpointDiff.compare(a, b)
        } catch {
            StandardError.write("error: \(error)\n")
            throw ExitCode(2)
        }
        print(diff.render(), terminator: "")
        if !diff.identical { throw ExitCode(1) }
    }
}
