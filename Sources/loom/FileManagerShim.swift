import Foundation

enum FileManagerShim {
    static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }
    static var isTerminal: Bool { isatty(STDERR_FILENO) != 0 }
}
