// Reports opened in a real browser: headless Chromium (Debian's `chromium`, installed by
// deploy/bootstrap.sh) loads each kind of page from disk with the network shut off, and
// the test checks what a person would: the screenshot is not blank, the console is quiet,
// and the DOM holds the charts, axes, legends and numbers.

import Foundation
import LoomTestSupport
import Testing

/// Headless Chromium, run to completion with output in files.
enum Chromium {
    /// `$LOOM_TEST_CHROMIUM`, else `chromium` or `chromium-browser` on the PATH.
    static let executable: String? = {
        if let path = ProcessInfo.processInfo.environment["LOOM_TEST_CHROMIUM"], !path.isEmpty { return path }
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":")
        for name in ["chromium", "chromium-browser"] {
            for dir in dirs where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") { return "\(dir)/\(name)" }
        }
        return nil
    }()

    static var available: Bool { executable != nil }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        /// Messages the page wrote to its console (errors, failed loads, uncaught exceptions).
        var consoleLines: [String] { stderr.split(separator: "\n").filter { $0.contains(":CONSOLE") }.map(String.init) }
    }

    /// Loads `page` with `arguments` (e.g. `--dump-dom`, `--screenshot=...`). Every host name
    /// resolves to nothing, so a page that fetched anything would log a console error.
    static func run(_ page: String, _ arguments: [String], in ws: Workspace, timeout: Double = 60) throws -> Result {
        let tag = UUID().uuidString.prefix(8)
        let out = ws.path("chromium-\(tag).out"), err = ws.path("chromium-\(tag).err")
        FileManager.default.createFile(atPath: out, contents: nil)
        FileManager.default.createFile(atPath: err, contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try #require(executable))
        p.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                       "--user-data-dir=\(ws.path("chromium-profile-\(tag)"))", "--host-resolver-rules=MAP * ~NOTFOUND",
                       "--enable-logging=stderr", "--v=0"] + arguments + [URL(fileURLWithPath: page).absoluteString]
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
        try p.run()
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        if p.isRunning {
            Issue.record("chromium still running after \(timeout) s; killed")
            kill(p.processIdentifier, SIGKILL)
        }
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
                      stderr: (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
    }
}

@Suite(.serialized, .enabled(if: Chromium.available, "chromium is not installed (deploy/bootstrap.sh installs it): browser tests skipped"))
struct BrowserReportTests {
    /// Loads `page` twice (DOM with console log, then a screenshot) and checks the common
    /// promises; returns the DOM.
    func open(_ page: String, in ws: Workspace, minimumFigures: Int) throws -> String {
        let dom = try Chromium.run(page, ["--dump-dom"], in: ws)
        try #require(dom.status == 0, "chromium --dump-dom failed: \(dom.stderr.suffix(2000))")
        #expect(dom.consoleLines.isEmpty, "console: \(dom.consoleLines)")
        let figures = ReportHTML.count(dom.stdout, "<figure class=\"chart")
        #expect(figures >= minimumFigures, "\(figures) charts in the DOM")
        #expect(ReportHTML.count(dom.stdout, "<g class=\"axis x\">") >= minimumFigures - 4, "axes")
        #expect(dom.stdout.contains("<ul class=\"legend\">"))
        #expect(!dom.stdout.contains("<script"))

        let png = ws.path("\(URL(fileURLWithPath: page).deletingPathExtension().lastPathComponent).png")
        let shot = try Chromium.run(page, ["--window-size=1280,1800", "--screenshot=\(png)"], in: ws)
        try #require(shot.status == 0, "chromium --screenshot failed: \(shot.stderr.suffix(2000))")
        let image = try PNGImage(file: png)
        #expect(image.width == 1280 && image.height == 1800)
        // A blank (or all-error) page is one colour; a report has text, lines and shaded cells.
        #expect(image.shareNotBackground > 0.03, "only \(image.shareNotBackground) of the pixels are not background")
        #expect(image.distinctColours() > 50, "\(image.distinctColours()) colours")
        return dom.stdout
    }

    @Test func theConsoleCheckSeesAnErrorWhenThereIsOne() throws {
        let ws = try Workspace("browser-console", train: 8, test: 8)
        let page = try ws.write("bad.html", "<html><body><p>x</p><img src=\"https://example.invalid/a.png\"><script>console.error('report-broken')</script></body></html>")
        let r = try Chromium.run(page, ["--dump-dom"], in: ws)
        #expect(r.consoleLines.contains { $0.contains("report-broken") }, "\(r.stderr.suffix(2000))")
    }

    @Test func aRunReportLooksRightInChromium() throws {
        let ws = try Workspace("browser-run")
        let run = try ReportRuns.copy(into: ws, as: "run", calibrate: true)
        let page = ws.path("run-report.html")
        let r = try ws.loom(["report", run, "--out", page])
        try #require(r.status == 0, "\(r.stderr)")
        let dom = try open(page, in: ws, minimumFigures: 8)
        for chart in ["loss", "lr", "throughput", "head-category", "confusion", "per-class", "reliability"] {
            #expect(dom.contains("data-chart=\"\(chart)\""), "chart \(chart)")
        }
        // The numbers of eval --json, as the browser shows them.
        let eval = try jsonObject(try ws.loom(["eval", "--json", run + "/latest.h5"]).stdout)
        let category = try #require((eval["heads"] as? [String: Any])?["category"] as? [String: Any])
        let accuracy = try #require(category["accuracy"] as? Double)
        #expect(dom.contains(String(format: ">%.2f%%</td>", 100 * accuracy)), "accuracy \(accuracy)")
        #expect(ReportHTML.confusionCounts(dom, head: "category") == (category["confusion"] as? [[Int]] ?? []).flatMap { $0 })
        #expect(ReportHTML.count(dom, "data-chart=\"reliability\"") == 2, "before and after calibration")
        // The feature map: every test sample (64 < 500) a point with its thumbnail.
        #expect(dom.contains("data-chart=\"pca-map\" data-head=\"category\" data-points=\"64\""))
        #expect(ReportHTML.count(dom, "<image href=\"data:image/png;base64,") == 64)
    }

    @Test func aComparisonReportLooksRightInChromium() throws {
        let ws = try Workspace("browser-compare")
        let first = try ReportRuns.copy(into: ws, as: "reference", calibrate: false)
        var spec = TrainSpec(workspace: ws, run: "sgdr", everySteps: 0)
        spec.epochs = 2
        spec.extra = ["schedule.kind=sgdr", "schedule.unit=step", "schedule.t_0=4"]
        let train = try ws.loom(spec.arguments(), timeout: 300)
        try #require(train.status == 0, "\(train.stderr)")
        let page = ws.path("compare-report.html")
        let r = try ws.loom(["report", first, spec.runDirectory, "--out", page])
        try #require(r.status == 0, "\(r.stderr)")
        let dom = try open(page, in: ws, minimumFigures: 12)
        #expect(dom.contains("<tr data-run=\"reference\">") && dom.contains("<tr data-run=\"sgdr\">"))
        for chart in ["compare-train-loss", "compare-lr", "compare-accuracy-category"] {
            #expect(dom.contains("data-chart=\"\(chart)\""), "chart \(chart)")
        }
        // sgdr with t_0 = 4 steps over 16 steps restarts 3 times.
        #expect(dom.contains("Learning rate (3 warm restarts)"))
    }
}
