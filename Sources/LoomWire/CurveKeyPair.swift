import CZeroMQ
import Foundation

/// A CURVE (Curve25519) key pair in Z85 text form, 40 characters per key.
///
/// Files written by `save(to:)` (and read by `load(directory:)`):
/// - `loom.pub`, mode 0644: comment lines starting with `#`, then the public key.
/// - `loom.key`, mode 0600, created with that mode: comment lines, then the secret key.
/// A `.pub` file may be copied as is into a coordinator's `authorized/` folder or to a
/// worker as `coordinator.pub`.
public struct CurveKeyPair: Equatable, Sendable {
    /// Z85 public key, 40 characters.
    public let publicKey: String
    /// Z85 secret key, 40 characters. Never log it.
    public let secretKey: String

    public static let publicKeyFile = "loom.pub"
    public static let secretKeyFile = "loom.key"

    /// A pair from existing keys; checks both are Z85 and that the public key is the one
    /// derived from the secret key.
    public init(publicKey: String, secretKey: String) throws(SecurityError) {
        try Self.requireCurve()
        try Self.validateZ85(publicKey, what: "public key")
        try Self.validateZ85(secretKey, what: "secret key")
        guard Self.derivePublicKey(secretKey) == publicKey else {
            throw .invalidKey(what: "pair", reason: "public key \(publicKey) does not belong to the secret key")
        }
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// A fresh random pair from libzmq (libsodium underneath).
    public static func generate() throws(SecurityError) -> CurveKeyPair {
        try requireCurve()
        var pub = [CChar](repeating: 0, count: 41)
        var sec = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&pub, &sec) == 0 else {
            throw .invalidKey(what: "generated pair", reason: String(cString: zmq_strerror(zmq_errno())))
        }
        return try CurveKeyPair(publicKey: String(cString: pub), secretKey: String(cString: sec))
    }

    /// Reads `directory/loom.pub` and `directory/loom.key`. The secret key file must not
    /// be readable by group or others (like ssh, a leaked key is refused, not used).
    public static func load(directory: String) throws(SecurityError) -> CurveKeyPair {
        let secretPath = directory + "/" + secretKeyFile
        var info = stat()
        if stat(secretPath, &info) == 0, info.st_mode & 0o077 != 0 {
            throw .invalidKey(what: secretPath, reason: String(format: "mode %o lets others read the secret key; chmod 600 it", info.st_mode & 0o777))
        }
        let publicKey = try loadPublicKey(file: directory + "/" + publicKeyFile)
        let secretKey = try readKey(file: secretPath, what: "secret key")
        do {
            return try CurveKeyPair(publicKey: publicKey, secretKey: secretKey)
        } catch {
            throw .invalidKey(what: "pair in \(directory)", reason: "\(publicKeyFile) does not belong to \(secretKeyFile)")
        }
    }

    /// Reads one public key file (a `.pub` as written by `save`).
    public static func loadPublicKey(file: String) throws(SecurityError) -> String {
        let key = try readKey(file: file, what: "public key")
        try validateZ85(key, what: "public key in \(file)")
        return key
    }

    /// Every `*.pub` key in `directory` (the coordinator's allow-list); at least one.
    public static func loadPublicKeys(directory: String) throws(SecurityError) -> Set<String> {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw .noAuthorizedKeys(directory: directory)
        }
        var keys = Set<String>()
        for name in names.sorted() where name.hasSuffix(".pub") {
            keys.insert(try loadPublicKey(file: directory + "/" + name))
        }
        guard !keys.isEmpty else { throw .noAuthorizedKeys(directory: directory) }
        return keys
    }

    /// Writes `directory/loom.pub` (0644) and `directory/loom.key` (0600), creating the
    /// directory (0700) if needed. Never overwrites an existing key file.
    public func save(to directory: String) throws(SecurityError) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw .writeFailed(path: directory, reason: "cannot create directory: \(error.localizedDescription)")
        }
        let pubPath = directory + "/" + Self.publicKeyFile
        let keyPath = directory + "/" + Self.secretKeyFile
        for path in [pubPath, keyPath] where FileManager.default.fileExists(atPath: path) {
            throw .fileExists(path: path)
        }
        try Self.writeNew(path: keyPath, mode: 0o600,
                          text: "# Loom CURVE secret key (Z85). Keep it private; never copy it off this machine.\n\(secretKey)\n")
        try Self.writeNew(path: pubPath, mode: 0o644,
                          text: "# Loom CURVE public key (Z85). Copy it to the coordinator's authorized/ folder, or to workers as coordinator.pub.\n\(publicKey)\n")
    }

    // MARK: - Helpers

    static func requireCurve() throws(SecurityError) {
        guard zmq_has("curve") != 0 else { throw .curveUnavailable }
    }

    /// 40 characters that decode as Z85 into 32 bytes.
    static func validateZ85(_ key: String, what: String) throws(SecurityError) {
        guard key.utf8.count == 40 else {
            throw .invalidKey(what: what, reason: "\(key.utf8.count) characters, a Z85 CURVE key has 40")
        }
        guard decodeZ85(key) != nil else {
            throw .invalidKey(what: what, reason: "not valid Z85 text")
        }
    }

    /// The 32 key bytes of a Z85 key, nil if it is not valid Z85.
    static func decodeZ85(_ key: String) -> [UInt8]? {
        let z85 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"
        guard key.utf8.count == 40, key.allSatisfy({ z85.contains($0) }) else { return nil }
        var bytes = [UInt8](repeating: 0, count: 32)
        return zmq_z85_decode(&bytes, key) == nil ? nil : bytes
    }

    /// The Z85 text of 32 key bytes.
    static func encodeZ85(_ bytes: [UInt8]) -> String? {
        guard bytes.count == 32 else { return nil }
        var text = [CChar](repeating: 0, count: 41)
        return zmq_z85_encode(&text, bytes, 32) == nil ? nil : String(cString: text)
    }

    private static func derivePublicKey(_ secretKey: String) -> String? {
        var pub = [CChar](repeating: 0, count: 41)
        return zmq_curve_public(&pub, secretKey) == 0 ? String(cString: pub) : nil
    }

    /// The first line that is neither empty nor a `#` comment, trimmed.
    private static func readKey(file: String, what: String) throws(SecurityError) -> String {
        guard FileManager.default.fileExists(atPath: file) else { throw .fileNotFound(path: file) }
        // A FIFO would block the read until something writes to it (past SIGTERM, once the
        // command's handlers are installed): only a regular file (links followed) is read.
        var status = stat()
        guard stat(file, &status) == 0, status.st_mode & S_IFMT == S_IFREG else {
            throw .readFailed(path: file, reason: "not a regular file (a FIFO, device or directory)")
        }
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw .readFailed(path: file, reason: error.localizedDescription)
        }
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        guard let key = lines.first(where: { !$0.isEmpty && !$0.hasPrefix("#") }) else {
            throw .readFailed(path: file, reason: "no \(what) in the file")
        }
        return key
    }

    /// Creates `path` with `mode` from the start (O_EXCL: fails if it exists), writes and
    /// fsyncs `text`. Creating with the mode means a secret is never briefly world-readable.
    private static func writeNew(path: String, mode: mode_t, text: String) throws(SecurityError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else {
            let code = errno
            if code == EEXIST { throw .fileExists(path: path) }
            throw .writeFailed(path: path, reason: String(cString: strerror(code)))
        }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(fd) == 0 else {
            throw .writeFailed(path: path, reason: String(cString: strerror(errno)))
        }
    }
}
