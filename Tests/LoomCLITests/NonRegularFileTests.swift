// A FIFO (or a directory) given as a dataset, checkpoint or config gets a clear error at
// once: opening a FIFO for reading used to block until a writer came, that is forever.

import Foundation
import LoomTestSupport
import Testing

@Suite struct NonRegularFileTests {
    static func fifo(in ws: Workspace, _ name: String) throws -> String {
        let path = ws.path(name)
        try #require(mkfifo(path, 0o600) == 0, "mkfifo \(path)")
        return path
    }

    @Test func inspectRefusesAFIFOAtOnce() throws {
        let ws = try Workspace("fifo-inspect", train: 8, test: 8)
        let r = try ws.loom(["inspect", try Self.fifo(in: ws, "ckpt.h5")], timeout: 20)
        expectCleanFailure(r, naming: ["ckpt.h5", "not a regular file"], "inspect a FIFO")
    }

    @Test func aFIFOAsTheDatasetIsRefusedAtOnce() throws {
        let ws = try Workspace("fifo-data", train: 8, test: 8)
        var spec = TrainSpec(workspace: ws, run: "run")
        spec.datasetPath = try Self.fifo(in: ws, "data.h5")
        let r = try ws.loom(spec.arguments(), timeout: 20)
        expectCleanFailure(r, naming: ["data.h5", "not a regular file"], "a FIFO as data.path")
    }

    @Test func aFIFOOrADirectoryAsTheConfigIsRefusedAtOnce() throws {
        let ws = try Workspace("fifo-config", train: 8, test: 8)
        let r = try ws.loom(["train", "--config", try Self.fifo(in: ws, "run.yaml")], timeout: 20)
        expectCleanFailure(r, naming: ["run.yaml", "not a regular file"], "a FIFO as the config")
        let d = try ws.loom(["train", "--config", ws.directory.path], timeout: 20)
        expectCleanFailure(d, naming: ["not a regular file"], "a directory as the config")
    }
}
