/// How a `ZeroMQTransport` authenticates and encrypts its connections.
///
/// Conventions for key directories (used by `loom coordinator|worker --keys DIR`):
/// - `DIR/loom.pub`, `DIR/loom.key`: this process's own key pair (see `CurveKeyPair.save`).
/// - Coordinator: `DIR/authorized/*.pub` are the public keys of the workers it admits.
/// - Worker: `DIR/coordinator.pub` is the public key of the coordinator it trusts.
/// - Shard server (`loom server --keys DIR`): as a worker's towards its coordinator; towards
///   workers a CURVE server with the same pair, admitting the keys its coordinator hands it.
public enum Security: Equatable, Sendable {
    /// Plain TCP: anyone who can reach the port can talk. Only for loopback, or `--insecure`.
    case none
    /// Coordinator side: CURVE server with `keys`, admitting only clients whose public key
    /// (Z85) is in `authorizedClientKeys`; checked by a ZAP handler (RFC 27).
    case curveServer(keys: CurveKeyPair, authorizedClientKeys: Set<String>)
    /// Worker side: CURVE client with `keys`, talking only to the server `serverPublicKey`.
    case curveClient(keys: CurveKeyPair, serverPublicKey: String)

    /// Name of the allow-list folder inside a coordinator's key directory.
    public static let authorizedDirectory = "authorized"
    /// Name of the coordinator's public key file inside a worker's key directory.
    public static let coordinatorKeyFile = "coordinator.pub"

    /// Coordinator security from a key directory: `DIR/loom.{pub,key}` and
    /// `DIR/authorized/*.pub` (at least one).
    public static func coordinator(keysDirectory directory: String) throws(SecurityError) -> Security {
        let keys = try CurveKeyPair.load(directory: directory)
        let authorized = try CurveKeyPair.loadPublicKeys(directory: directory + "/" + authorizedDirectory)
        return .curveServer(keys: keys, authorizedClientKeys: authorized)
    }

    /// Worker security from a key directory: `DIR/loom.{pub,key}` and `DIR/coordinator.pub`.
    public static func worker(keysDirectory directory: String) throws(SecurityError) -> Security {
        let keys = try CurveKeyPair.load(directory: directory)
        let server = try CurveKeyPair.loadPublicKey(file: directory + "/" + coordinatorKeyFile)
        return .curveClient(keys: keys, serverPublicKey: server)
    }

    /// A shard server's side towards workers, from its key directory (`DIR/loom.{pub,key}`,
    /// the pair it also shows its coordinator): a CURVE server that admits nobody until its
    /// coordinator hands it the allow-list (`ClientAuthorizing.authorizeClients`).
    public static func shardServer(keysDirectory directory: String) throws(SecurityError) -> Security {
        .curveServer(keys: try CurveKeyPair.load(directory: directory), authorizedClientKeys: [])
    }

    /// The client keys a CURVE server admits (empty otherwise): what a coordinator hands
    /// its shard servers.
    public var authorizedClientKeys: Set<String> {
        if case .curveServer(_, let keys) = self { return keys }
        return []
    }

    /// The public key a CURVE server shows its clients (nil otherwise).
    public var serverPublicKey: String? {
        if case .curveServer(let keys, _) = self { return keys.publicKey }
        return nil
    }
}

/// A bound transport whose CURVE allow-list can change while it runs: a shard server's,
/// which admits the workers its coordinator admits (docs/CLUSTER.md, "Shard servers").
public protocol ClientAuthorizing: AnyObject {
    /// Replaces the allow-list with `keys` (Z85 public keys); false when this transport
    /// is no CURVE server (the keys are then of no use to it).
    @discardableResult
    func authorizeClients(_ keys: Set<String>) -> Bool
}

/// One authentication decision of a CURVE server, reported to
/// `TransportFactory.bind(_:onAuthenticationEvent:)` so that the coordinator can log it.
public struct AuthEvent: Equatable, Sendable, CustomStringConvertible {
    /// Whether the client was admitted.
    public var accepted: Bool
    /// The client's public key (Z85), nil when the handshake failed before the client
    /// presented one (e.g. a plaintext client).
    public var clientPublicKey: String?
    /// Peer address (IP) from the ZAP request, or the endpoint for a failed handshake.
    public var address: String?
    /// Why: "authorized key", "key not in the allow-list", "handshake failed: ...".
    public var reason: String

    public init(accepted: Bool, clientPublicKey: String?, address: String?, reason: String) {
        self.accepted = accepted
        self.clientPublicKey = clientPublicKey
        self.address = address
        self.reason = reason
    }

    public var description: String {
        "\(accepted ? "accepted" : "refused") client key \(clientPublicKey ?? "(none)") from \(address ?? "(unknown)"): \(reason)"
    }
}

/// Errors of key handling and CURVE setup; they name the file or key concerned.
public enum SecurityError: Error, Equatable, Sendable, CustomStringConvertible {
    /// libzmq was built without CURVE (`zmq_has("curve")` is false).
    case curveUnavailable
    /// A key is not 40 characters of Z85, or a secret key does not match its public key.
    case invalidKey(what: String, reason: String)
    case fileNotFound(path: String)
    case readFailed(path: String, reason: String)
    case writeFailed(path: String, reason: String)
    /// `save` never overwrites a key file.
    case fileExists(path: String)
    /// A coordinator key directory with no `authorized/*.pub`: nobody could connect.
    case noAuthorizedKeys(directory: String)
    /// A server-side security given to a worker transport, or the reverse.
    case wrongRole(String)
    /// A shard server at `endpoint` speaks CURVE, and this worker has no key pair to show it.
    case clientKeysRequired(endpoint: String)

    public var description: String {
        switch self {
        case .curveUnavailable:
            return "this libzmq has no CURVE support (zmq_has(\"curve\") is false); install a libzmq built with libsodium"
        case .invalidKey(let what, let reason):
            return "invalid CURVE key \(what): \(reason)"
        case .fileNotFound(let path):
            return "key file \(path) does not exist"
        case .readFailed(let path, let reason):
            return "cannot read key file \(path): \(reason)"
        case .writeFailed(let path, let reason):
            return "cannot write key file \(path): \(reason)"
        case .fileExists(let path):
            return "key file \(path) already exists; refusing to overwrite it"
        case .noAuthorizedKeys(let directory):
            return "no worker public keys (*.pub) in \(directory): no worker could connect"
        case .wrongRole(let explanation):
            return explanation
        case .clientKeysRequired(let endpoint):
            return "the shard server at \(endpoint) admits only CURVE clients, and this worker has no keys: start it with --keys DIR (as its coordinator's workers)"
        }
    }
}

/// Whether `endpoint` can only be reached from this machine: `tcp://127.x.x.x:port`,
/// `tcp://localhost:port`, `tcp://[::1]:port`, `ipc://...`, `inproc://...`. Anything else
/// (including `tcp://*:port` and `tcp://0.0.0.0:port`) is not loopback, and a coordinator
/// bound there must use CURVE unless run with `--insecure` (ARCHITECTURE.md, invariant 5).
public func isLoopbackEndpoint(_ endpoint: String) -> Bool {
    if endpoint.hasPrefix("ipc://") || endpoint.hasPrefix("inproc://") { return true }
    guard endpoint.hasPrefix("tcp://"), !endpoint.contains(";") else { return false }
    let address = endpoint.dropFirst("tcp://".count)
    guard let colon = address.lastIndex(of: ":") else { return false }
    let host = address[..<colon].lowercased()
    if host == "localhost" || host == "[::1]" { return true }
    let parts = host.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count == 4, parts.allSatisfy({ !$0.isEmpty && $0.count <= 3 && $0.allSatisfy(\.isASCIIDigit) && Int($0)! <= 255 })
    else { return false }
    return parts[0] == "127"
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
