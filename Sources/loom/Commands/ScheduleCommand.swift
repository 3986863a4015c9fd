import ArgumentParser
import Foundation
import LoomData
import LoomTraining

struct ScheduleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule",
        abstract: "Print the learning rate of every step of a run (CSV), or draw it (--plot).")

    @OptionGroup var configOptions: ConfigOptions

    @Option(help: "Training samples per epoch (default: read from the dataset, less the validation fraction).")
    var trainSize: Int?

    @Option(help: "Write an SVG plot of the schedule to this file.")
    var plot: String?

    @OptionGroup var global: GlobalOptions

    func run() throws {
        _ = global.bootstrap(process: "schedule")
        try runReportingErrors {
            let config = try configOptions.load()
            var n = trainSize ?? 0
            if trainSize == nil {
                let dataset = try RunSetup.openDataset(config.data.path)
                let count = try dataset.split(config.data.trainSplit).count
                n = ValidationSplit.carve(count: count, fraction: config.data.validationFraction, seed: config.training.seed).train.count
            }
            let stepsPerEpoch = n / config.training.batchSize
            guard stepsPerEpoch > 0 else { throw CLIError("\(n) training samples make no batch of \(config.training.batchSize)") }
            let total = stepsPerEpoch * config.training.epochs
            let last = config.training.maxSteps > 0 ? min(config.training.maxSteps, total) : total
            let baseLR = LRSchedule.effectiveBaseLR(config: config.optimizer, batchSize: config.training.batchSize)
            let schedule = try LRSchedule(config: config.schedule, baseLR: baseLR, stepsPerEpoch: stepsPerEpoch, totalSteps: total)
            var lrs: [Double] = []
            var csv = "step,epoch,lr,restarts\n"
            for s in 0..<last {
                let p = schedule.position(atStep: s)
                lrs.append(p.lr)
                csv += "\(s),\(String(format: "%.6f", p.epoch)),\(p.lr),\(p.restarts)\n"
            }
            if let plot {
                try SVGPlot.line(values: lrs, title: "\(config.name): \(config.schedule.kind.rawValue) schedule, \(stepsPerEpoch) steps/epoch",
                                 xLabel: "step", yLabel: "learning rate").write(toFile: plot, atomically: true, encoding: .utf8)
                FileHandle.standardError.write("wrote \(plot)\n".data(using: .utf8)!)
            } else {
                print(csv, terminator: "")
            }
        }
    }
}

/// A minimal SVG line chart (no dependencies): axes, ticks, one polyline.
enum SVGPlot {
    static func line(values: [Double], title: String, xLabel: String, yLabel: String) -> String {
        let w = 800.0, h = 400.0, left = 70.0, right = 20.0, top = 40.0, bottom = 50.0
        let maxY = max(values.max() ?? 1, 1e-12), n = max(values.count - 1, 1)
        func x(_ i: Int) -> Double { left + (w - left - right) * Double(i) / Double(n) }
        func y(_ v: Double) -> Double { h - bottom - (h - top - bottom) * v / maxY }
        // Keep the file small: at most ~2000 points, always including local extremes.
        let stride = max(1, values.count / 2000)
        var points: [String] = []
        for i in Swift.stride(from: 0, to: values.count, by: stride) { points.append(String(format: "%.1f,%.1f", x(i), y(values[i]))) }
        if let last = values.indices.last { points.append(String(format: "%.1f,%.1f", x(last), y(values[last]))) }
        var svg = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(w))" height="\(Int(h))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(w / 2)" y="22" text-anchor="middle" font-size="14">\(escape(title))</text>
        <line x1="\(left)" y1="\(h - bottom)" x2="\(w - right)" y2="\(h - bottom)" stroke="black"/>
        <line x1="\(left)" y1="\(top)" x2="\(left)" y2="\(h - bottom)" stroke="black"/>
        <text x="\(w / 2)" y="\(h - 12)" text-anchor="middle">\(escape(xLabel))</text>
        <text x="16" y="\(h / 2)" text-anchor="middle" transform="rotate(-90 16 \(h / 2))">\(escape(yLabel))</text>

        """
        for t in 0...4 {
            let v = maxY * Double(t) / 4
            svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.3g</text>\n", left - 6, y(v) + 4, v)
            let i = values.count * t / 4
            svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%d</text>\n", x(min(i, n)), h - bottom + 16, i)
        }
        svg += "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"\(points.joined(separator: " "))\"/>\n</svg>\n"
        return svg
    }

    private static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
    }
}
