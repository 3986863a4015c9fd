import Foundation
import LoomWire
import Testing

@Suite struct CurveKeyPairTests {
    @Test func generatedKeysAre40CharacterZ85AndDistinct() throws {
        let a = try CurveKeyPair.generate()
        let b = try CurveKeyPair.generate()
        let z85 = Set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#")
        for key in [a.publicKey, a.secretKey] {
            #expect(key.count == 40 && key.allSatisfy { z85.contains($0) })
        }
        #expect(a.publicKey != b.publicKey && a.secretKey != b.secretKey)
    }

    @Test func savedKeyFilesHaveTheirModesAndLoadBack() throws {
        let directory = try makeTemporaryDirectory() + "/keys"
        let pair = try CurveKeyPair.generate()
        try pair.save(to: directory)
        let attributes = { (name: String) throws -> Int in
            try (FileManager.default.attributesOfItem(atPath: directory + "/" + name)[.posixPermissions] as? Int) ?? -1
        }
        #expect(try attributes("loom.key") == 0o600)
        #expect(try attributes("loom.pub") & 0o777 == 0o644 & ~Int(currentUmask()))
        #expect(try CurveKeyPair.load(directory: directory) == pair)
    }

    @Test func saveRefusesToOverwriteKeys() throws {
        let directory = try makeTemporaryDirectory()
        try CurveKeyPair.generate().save(to: directory)
        #expect(throws: SecurityError.fileExists(path: directory + "/loom.pub")) {
            try CurveKeyPair.generate().save(to: directory)
        }
    }

    @Test func secretKeyReadableByOthersIsRefused() throws {
        let directory = try makeTemporaryDirectory()
        try CurveKeyPair.generate().save(to: directory)
        chmod(directory + "/loom.key", 0o644)
        #expect(throws: SecurityError.self) { _ = try CurveKeyPair.load(directory: directory) }
    }

    @Test func mismatchedPairIsRejected() throws {
        let a = try CurveKeyPair.generate()
        let b = try CurveKeyPair.generate()
        #expect(throws: SecurityError.self) { _ = try CurveKeyPair(publicKey: a.publicKey, secretKey: b.secretKey) }
    }

    @Test func keyOfTheWrongLengthIsRejectedWithItsLength() {
        #expect(throws: SecurityError.invalidKey(what: "public key", reason: "5 characters, a Z85 CURVE key has 40")) {
            _ = try CurveKeyPair(publicKey: "short", secretKey: "x")
        }
    }

    @Test func coordinatorSecurityReadsTheAllowList() throws {
        let directory = try makeTemporaryDirectory()
        let coordinator = try CurveKeyPair.generate()
        try coordinator.save(to: directory)
        let workerA = try CurveKeyPair.generate()
        let workerB = try CurveKeyPair.generate()
        try workerA.save(to: directory + "/a")
        try workerB.save(to: directory + "/b")
        try FileManager.default.createDirectory(atPath: directory + "/authorized", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: directory + "/a/loom.pub", toPath: directory + "/authorized/a.pub")
        try FileManager.default.copyItem(atPath: directory + "/b/loom.pub", toPath: directory + "/authorized/b.pub")

        #expect(try Security.coordinator(keysDirectory: directory)
                == .curveServer(keys: coordinator, authorizedClientKeys: [workerA.publicKey, workerB.publicKey]))
    }

    @Test func coordinatorWithoutAuthorizedKeysIsAnError() throws {
        let directory = try makeTemporaryDirectory()
        try CurveKeyPair.generate().save(to: directory)
        #expect(throws: SecurityError.noAuthorizedKeys(directory: directory + "/authorized")) {
            _ = try Security.coordinator(keysDirectory: directory)
        }
    }

    @Test func workerSecurityReadsTheCoordinatorKey() throws {
        let directory = try makeTemporaryDirectory()
        let worker = try CurveKeyPair.generate()
        try worker.save(to: directory)
        let coordinator = try CurveKeyPair.generate()
        try coordinator.save(to: directory + "/c")
        try FileManager.default.copyItem(atPath: directory + "/c/loom.pub", toPath: directory + "/coordinator.pub")
        #expect(try Security.worker(keysDirectory: directory)
                == .curveClient(keys: worker, serverPublicKey: coordinator.publicKey))
    }

    @Test func missingCoordinatorKeyNamesTheFile() throws {
        let directory = try makeTemporaryDirectory()
        try CurveKeyPair.generate().save(to: directory)
        #expect(throws: SecurityError.fileNotFound(path: directory + "/coordinator.pub")) {
            _ = try Security.worker(keysDirectory: directory)
        }
    }

    private func currentUmask() -> mode_t {
        let mask = umask(0o022)
        umask(mask)
        return mask
    }
}

@Suite struct LoopbackEndpointTests {
    @Test(arguments: ["tcp://127.0.0.1:5555", "tcp://127.1.2.3:1", "tcp://localhost:5555", "tcp://LOCALHOST:1",
                      "tcp://[::1]:5555", "ipc:///tmp/loom.ipc", "inproc://x"])
    func loopbackEndpoints(endpoint: String) {
        #expect(isLoopbackEndpoint(endpoint))
    }

    @Test(arguments: ["tcp://*:5555", "tcp://0.0.0.0:5555", "tcp://10.0.0.5:5555", "tcp://127.0.0.1.evil.com:80",
                      "tcp://eth0:5555", "tcp://[::]:5555", "tcp://128.0.0.1:1", "tcp://127.0.0.1", "udp://127.0.0.1:1",
                      "tcp://10.0.0.1:1;127.0.0.1:2"])
    func nonLoopbackEndpoints(endpoint: String) {
        #expect(!isLoopbackEndpoint(endpoint))
    }
}
