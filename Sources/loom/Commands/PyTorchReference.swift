// `loom bench --pytorch PYTHON`: the same model trained by PyTorch on this CPU in the same
// minute, for a ratio that does not drift with the machine. The scripts are
// deploy/bench/pytorch_reference.py (the reference CNN, also with DistributedDataParallel) and
// deploy/bench/pytorch_models.py (any model file, built from torch.nn modules layer for
// layer), with the batch and optimizer of loom bench; PyTorch is never a dependency of the
// build or the tests, only of this option.
import Foundation

enum PyTorchReference {
    struct Figures { var samplesPerSecond: Double; var version: String; var parameters: Int? }

    /// Runs `script` with `python` for `seconds` at `batch`: one thread, or `ddp` processes of
    /// one thread each (DistributedDataParallel over gloo) when `ddp` > 1.
    /// `arguments` go to the script first (pytorch_models.py's `--model FILE`).
    static func measure(python: String, script: String, batch: Int, seconds: Double, ddp: Int = 0,
                        arguments: [String] = []) throws -> Figures {
        guard FileManager.default.fileExists(atPath: script) else {
            throw CLIError("--pytorch: the script \(script) does not exist (run loom bench from the repository, or give --pytorch-script)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script] + arguments + ["--batch", "\(batch)", "--seconds", "\(seconds)", "--threads", "1", "--json"]
            + (ddp > 1 ? ["--ddp", "\(ddp)"] : [])
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        do { try process.run() } catch {
            throw CLIError("--pytorch: cannot run \(python): \(error.localizedDescription)")
        }
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let last = String(decoding: err, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
            throw CLIError("--pytorch: \(python) \(script) exited with status \(process.terminationStatus): \(last)")
        }
        let line = String(decoding: out, as: UTF8.self).split(separator: "\n").last { $0.hasPrefix("{") }
        guard let line, let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              let rate = object["samples_per_s"] as? Double else {
            throw CLIError("--pytorch: \(script) printed no JSON line with samples_per_s")
        }
        return Figures(samplesPerSecond: rate, version: object["torch_version"] as? String ?? "?",
                       parameters: object["parameters"] as? Int)
    }
}
