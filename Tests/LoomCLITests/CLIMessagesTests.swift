// What the CLI says, read as a user would: errors that blame the right source (a `--set`
// argument or the file and line), missing-dataset errors that name the option to use, and
// progress: log lines without a terminal, and on a real terminal (a pty, through
// util-linux's `script`) a bar that log lines do not break.

import Foundation
import LoomTestSupport
import Testing

@Suite struct CLIMessagesTests {
    @Test func aMisspeltSetArgumentIsBlamedNotTheFile() throws {
        let ws = try Workspace("msg-set")
        let r = try ws.loom(["train", "--config", TrainSpec.smokeConfig, "--set", "data.path=\(ws.datasetPath)",
                             "--set", "traning.lr=1"])
        #expect(r.status == 1)
        #expect(r.errorLine == "error: --set traning.lr=1: unknown key 'traning' (did you mean 'training'?)", "\(r.stderr)")
    }

    @Test func aMisspeltKeyInTheFileNamesTheFileLineAndKey() throws {
        let ws = try Workspace("msg-file")
        let smoke = try String(contentsOfFile: TrainSpec.smokeConfig, encoding: .utf8)
        var lines = smoke.components(separatedBy: "\n")
        let momentum = try #require(lines.firstIndex { $0.contains("momentum:") })
        lines.insert("  momentun: 0.5", at: momentum + 1)
        let config = try ws.write("typo.yaml", lines.joined(separator: "\n"))
        let model = TestPaths.repositoryRoot.appendingPathComponent("configs/models/mlp.yaml").path
        let r = try ws.loom(["train", "--config", config, "--set", "model.file=\(model)", "--set", "data.path=\(ws.datasetPath)"])
        #expect(r.status == 1)
        #expect(r.errorLine == "error: \(config):\(momentum + 2): unknown key 'optimizer.momentun' (did you mean 'momentum'?)",
                "\(r.stderr)")
    }

    /// A checkpoint trained on `copy.h5` (a relative data.path), then the file removed.
    @Test func evalPredictAndCalibrateWithAMissingDatasetNameTheOption() throws {
        let ws = try Workspace("msg-dataset")
        try FileManager.default.copyItem(atPath: ws.datasetPath, toPath: ws.path("copy.h5"))
        let spec = TrainSpec(workspace: ws, run: "run", everySteps: 0)
        let train = try ws.loom(spec.arguments(["--set", "data.path=copy.h5", "--set", "training.max_steps=2"]))
        try #require(train.status == 0, "\(train.stderr)")
        try FileManager.default.removeItem(atPath: ws.path("copy.h5"))
        for command in [["eval", spec.latest], ["predict", spec.latest, "--index", "0"], ["calibrate", spec.latest, "--split", "test"]] {
            let r = try ws.loom(command)
            #expect(r.status == 1, "\(command[0]): \(r.stderr)")
            let error = r.errorLine ?? ""
            #expect(error.hasPrefix("error: dataset file copy.h5 (looked for in "), "\(command[0]): \(error)")
            #expect(error.contains(ws.directory.lastPathComponent + ") does not exist"), "\(command[0]) names the directory it looked in: \(error)")
            #expect(error.contains("the checkpoint's config names it (data.path); pass --dataset PATH to use another copy, or import it there"),
                    "\(command[0]): \(error)")
        }
        let given = try ws.loom(["eval", spec.latest, "--dataset", ws.path("nothere.h5")])
        #expect(given.errorLine == "error: dataset file \(ws.path("nothere.h5")) (--dataset) does not exist", "\(given.stderr)")
        let other = try ws.loom(["eval", spec.latest, "--dataset", ws.datasetPath])
        #expect(other.status == 0 && other.stdout.contains("split test: 64 samples"), "\(other.stderr)")
    }

    /// Without a terminal: log lines that say what runs and how far, and no bar controls.
    @Test func withoutATerminalProgressIsLogLines() throws {
        let ws = try Workspace("msg-no-tty")
        let spec = TrainSpec(workspace: ws, run: "run", everySteps: 0)
        let train = try ws.loom(spec.arguments(["--set", "training.max_steps=8"]))
        try #require(train.status == 0, "\(train.stderr)")
        #expect(train.stderr.contains("info train: step 8/8 epoch 1/1 loss "), "\(train.stderr)")
        let eval = try ws.loom(["eval", spec.latest])
        #expect(eval.status == 0)
        #expect(eval.stderr.contains("info eval: evaluating \(spec.latest) on split 'test' of \(ws.datasetPath): 64 samples"), "\(eval.stderr)")
        for r in [train, eval] {
            #expect(!r.stderr.contains("\r") && !r.stderr.contains("\u{1B}"), "bar controls without a terminal: \(r.stderr.debugDescription)")
        }
    }

    /// On a terminal: `loom train` under `script` (a pty), with a checkpoint log line every
    /// 2 steps while the epoch's bar is shown. Each log line must come out whole on its own
    /// line, and each epoch's bar stays on screen, finished, with the totals.
    @Test func onATerminalLogLinesDoNotBreakTheBar() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/script") else {
            print("skipped: /usr/bin/script (util-linux) is not installed")
            return
        }
        let ws = try Workspace("msg-tty")
        let spec = TrainSpec(workspace: ws, run: "run", everySteps: 2)
        let command = ([TestPaths.loomExecutable.path] + spec.arguments()).map { "'\($0)'" }.joined(separator: " ")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        p.arguments = ["-q", "-e", "-c", command, "/dev/null"]
        p.currentDirectoryURL = ws.directory
        var env = ProcessInfo.processInfo.environment
        env["LOOM_NO_PROGRESS"] = nil
        p.environment = env
        p.standardInput = FileHandle.nullDevice
        let out = ws.path("tty.out")
        FileManager.default.createFile(atPath: out, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        p.waitUntilExit()
        try handle.close()
        let output = try String(contentsOfFile: out, encoding: .utf8)
        #expect(p.terminationStatus == 0, "\(output.suffix(2000))")
        #expect(output.contains("\u{1B}[2K"), "no bar drawn on a terminal: \(output.prefix(500).debugDescription)")
        let screen = TerminalScreen.lines(output)
        let logLines = screen.filter { $0.contains(" info train: ") }
        #expect(logLines.count >= 20, "\(screen)")
        for line in logLines {
            #expect(line.range(of: #"^\d{4}-\d\d-\d\dT"#, options: .regularExpression) != nil, "a log line broken by the bar: \(line)")
        }
        #expect(logLines.contains { $0.contains("info train: checkpoint ") && $0.contains("(step 2)") }, "\(logLines)")
        let bars = screen.filter { $0.hasPrefix("epoch ") }
        #expect(bars.count == 4, "one finished bar per epoch: \(bars)")
        for (e, bar) in bars.enumerated() {
            #expect(bar.hasPrefix("epoch \(e + 1)/4 [########################] 100% 8/8 steps  step \((e + 1) * 8)/32  "), "\(bar)")
        }
    }
}
