// How a worker reaches a shard server named in its coordinator's server map: in the one
// ZeroMQ context of its server links, and with CURVE when the map gives the server's key
// (docs/CLUSTER.md, "Shard servers"). The key came over the coordinator's own CURVE link,
// from the server's hello: a process at that endpoint without the matching secret key
// fails the handshake, and the worker sends it nothing.

import LoomWire

extension Worker {
    /// A `connectServer` for `Worker.init`. `keys` is the worker's own pair (the one its
    /// coordinator admits, and so the server: it holds the coordinator's allow-list);
    /// `onHandshakeFailure` hears each refused or failed handshake with a server.
    /// A server with a key and a worker without keys is an error: no plaintext fallback.
    public static func serverConnector(keys: CurveKeyPair?, onHandshakeFailure: (@Sendable (String) -> Void)? = nil)
        -> (ServerAddress) throws(TransportError) -> Transport {
        { address throws(TransportError) in
            let security: Security
            switch (address.publicKey, keys) {
            case (nil, _):
                security = .none
            case (let serverKey?, let keys?):
                security = .curveClient(keys: keys, serverPublicKey: serverKey)
            case (.some, nil):
                throw .security(.clientKeysRequired(endpoint: address.endpoint))
            }
            let factory = TransportFactory(security: security)
            guard let context = serverLinkContext else {
                return try factory.connect(address.endpoint, onHandshakeFailure: onHandshakeFailure)
            }
            return try factory.connect(address.endpoint, in: context, onHandshakeFailure: onHandshakeFailure)
        }
    }
}

extension Security {
    /// The client key pair of a CURVE client (a worker's), nil otherwise.
    public var clientKeys: CurveKeyPair? {
        if case .curveClient(let keys, _) = self { return keys }
        return nil
    }
}
