// Shared-memory payloads on the wire (R5, R14) and the regions themselves: real files in a
// tmpfs, mapped twice (as by two processes), with the sequence-lock checks of every read.

import Foundation
import LoomTestSupport
import LoomWire
import Testing

@Suite struct SharedPayloadWireTests {
    @Test func theSharedFlagIsBit0OfTheFlagsByteAndTheSlotIs16Bytes() throws {
        let frames = Message.result(SampleMessages.sharedResult).encode()
        #expect(frames[0][7] == 1)
        #expect(frames[1] == [1, 0, 0, 0, 0, 0, 0, 0, 0x01, 0, 0, 0, 0xED, 0xFE, 0, 0], "slot u32, reserved, tag u64 LE")
        #expect(Message.result(SampleMessages.result).encode()[0][7] == 0, "no flag without a shared slot")
        #expect(Message.assignment(SampleMessages.sharedAssignment).encode()[0][7] == 1)
    }

    @Test(arguments: [MessageType.heartbeat, .hello, .welcome, .shutdown])
    func theSharedFlagOnAnotherTypeIsRejected(type: MessageType) {
        let message: Message = switch type {
        case .hello: .hello(SampleMessages.hello)
        case .welcome: .welcome(SampleMessages.welcome)
        case .shutdown: .shutdown(SampleMessages.shutdown)
        default: .heartbeat(SampleMessages.heartbeat)
        }
        let expected: UInt64? = type == .hello ? nil : SampleMessages.runID
        #expect(decodeError(patchingHeader(message.encode(), at: 7, with: UInt8(1)), expectedRunID: expected)
                == .nonZeroReserved(type: type, offset: 7))
    }

    @Test(arguments: [UInt8(2), 0x80, 0x03])
    func otherFlagBitsAreRejectedEvenOnResults(flags: UInt8) {
        #expect(decodeError(patchingHeader(Message.result(SampleMessages.result).encode(), at: 7, with: flags))
                == .nonZeroReserved(type: .result, offset: 7))
    }

    /// frame 1 of a shared result or weights message replaced by `frame` (sizes fixed up).
    func withSlotFrame(_ message: Message, _ frame: [UInt8]) -> [[UInt8]] {
        var frames = message.encode()
        frames[1] = frame
        let total = frames.dropFirst().reduce(0) { $0 + UInt64($1.count) }
        return patchingHeader(frames, at: 48, with: total)
    }

    @Test func aMalformedSlotReferenceIsRejectedNamingTheRule() {
        let shortFrame = [UInt8](repeating: 0, count: 15)
        var reserved = Message.result(SampleMessages.sharedResult).encode()[1]
        reserved[5] = 1
        var zeroTag = reserved
        zeroTag[5] = 0
        for i in 8..<16 { zeroTag[i] = 0 }
        for (frame, rule) in [(shortFrame, "16 bytes"), (reserved, "reserved"), (zeroTag, "never 0")] {
            for message in [Message.result(SampleMessages.sharedResult), .weights(SampleMessages.sharedWeights)] {
                guard case .sharedSlot(message.type, let name, let why) = decodeError(withSlotFrame(message, frame)) else {
                    Issue.record("\(message.type) with slot frame \(frame): expected a shared-slot error"); continue
                }
                #expect(why.contains(rule) && name.hasPrefix("1 "), "\(name): \(why)")
            }
        }
    }

    @Test func aSharedResultStillChecksItsOtherFrames() {
        var frames = Message.result(SampleMessages.sharedResult).encode()
        frames[2] = [0, 0, 0xC0, 0x7F]  // NaN batch-norm statistic
        frames = patchingHeader(frames, at: 48, with: frames.dropFirst().reduce(0) { $0 + UInt64($1.count) })
        guard case .nonFinite(.result, _, 0, _, _, _) = decodeError(frames) else {
            Issue.record("expected non-finite"); return
        }
    }

    @Test func aHelloOfferWithABadTokenOrPathIsRejected() {
        for (field, offer) in [
            ("weights_token", SharedMemoryOffer(weightsToken: "xyz", resultsPath: "/dev/shm/loom-1-results-00", resultsToken: String(repeating: "00", count: 16))),
            ("results_token", SharedMemoryOffer(weightsToken: String(repeating: "00", count: 16), resultsPath: "/dev/shm/loom-1-results-00", resultsToken: String(repeating: "0", count: 31))),
            ("results_path", SharedMemoryOffer(weightsToken: String(repeating: "00", count: 16), resultsPath: "", resultsToken: String(repeating: "00", count: 16))),
        ] {
            var hello = SampleMessages.sharedHello
            hello.sharedMemory = offer
            guard case .json(.hello, let rule) = decodeError(Message.hello(hello).encode(), expectedRunID: nil) else {
                Issue.record("\(field): expected a JSON error"); continue
            }
            #expect(rule.contains(field), "\(rule)")
        }
    }

    @Test func helloAndWelcomeWithoutTheSharedFieldsDecodeWithout() throws {
        guard case .hello(let hello) = try Message.decode(Message.hello(SampleMessages.hello).encode(), expectedRunID: nil),
              case .welcome(let welcome) = try Message.decode(Message.welcome(SampleMessages.welcome).encode(), expectedRunID: nil) else {
            Issue.record("expected hello and welcome"); return
        }
        #expect(hello.sharedMemory == nil && welcome.sharedWeightsPath.isEmpty)
    }
}

@Suite struct SharedRegionTests {
    /// A tmpfs directory of this test's own (regions are looked for directly in it).
    final class Directory {
        let path: String
        init() throws {
            path = "/dev/shm/loom-test-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        }
        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    @Test func whatTheOwnerWritesTheOtherMappingReadsUnderItsTag() throws {
        let dir = try Directory()
        let owner = try SharedRegion.create(kind: "weights", slotCount: 2, slotBytes: 4000, directory: dir.path)
        let peer = try SharedRegion.open(path: owner.path, token: owner.token, directory: dir.path)
        #expect(!peer.isOwner && peer.slotCount == 2 && peer.slotBytes == 4000 && peer.token == owner.token)
        let values = (0..<1000).map { Float($0) * 0.5 - 7 }
        values.withUnsafeBytes { owner.write(slot: 1, tag: 42, payload: $0) }
        var out = [Float](repeating: 0, count: 1000)
        #expect(out.withUnsafeMutableBytes { peer.read(slot: 1, tag: 42, into: $0) })
        #expect(out == values)
        // Another tag, another slot, another size: nothing is read as if it were that.
        #expect(!out.withUnsafeMutableBytes { peer.read(slot: 1, tag: 41, into: $0) })
        #expect(!out.withUnsafeMutableBytes { peer.read(slot: 0, tag: 42, into: $0) })
        var short = [Float](repeating: 0, count: 999)
        #expect(!short.withUnsafeMutableBytes { peer.read(slot: 1, tag: 42, into: $0) })
        #expect(!out.withUnsafeMutableBytes { peer.read(slot: 2, tag: 42, into: $0) }, "slot out of range")
        // A new write under a new tag: the old tag no longer reads.
        values.reversed().withUnsafeBytes { owner.write(slot: 1, tag: 43, payload: $0) }
        #expect(!out.withUnsafeMutableBytes { peer.read(slot: 1, tag: 42, into: $0) })
        #expect(out.withUnsafeMutableBytes { peer.read(slot: 1, tag: 43, into: $0) } && out == values.reversed())
    }

    /// A read in two halves (the coordinator sums gradients where they lie): the payload in
    /// place under its tag and size only, and `stillHolds` false once a new write began.
    @Test func thePayloadInPlaceIsGoodUntilTheTagChanges() throws {
        let dir = try Directory()
        let owner = try SharedRegion.create(kind: "results", slotCount: 2, slotBytes: 4000, directory: dir.path)
        let peer = try SharedRegion.open(path: owner.path, token: owner.token, directory: dir.path)
        let values = (0..<1000).map { Float($0) * 0.25 - 3 }
        values.withUnsafeBytes { owner.write(slot: 0, tag: 7, payload: $0) }
        let bytes = try #require(peer.payload(slot: 0, tag: 7, byteCount: 4000))
        #expect(Array(bytes.bindMemory(to: Float.self)) == values)
        #expect(peer.stillHolds(slot: 0, tag: 7))
        #expect(peer.payload(slot: 0, tag: 6, byteCount: 4000) == nil, "another tag")
        #expect(peer.payload(slot: 0, tag: 7, byteCount: 3996) == nil, "another size")
        #expect(peer.payload(slot: 1, tag: 7, byteCount: 4000) == nil, "a slot never written")
        #expect(peer.payload(slot: 2, tag: 7, byteCount: 4000) == nil, "slot out of range")
        values.withUnsafeBytes { owner.write(slot: 0, tag: 8, payload: $0) }
        #expect(!peer.stillHolds(slot: 0, tag: 7), "what was computed from the old payload is void")
        #expect(peer.stillHolds(slot: 0, tag: 8))
    }

    @Test func theFileIsPrivateAndGoesWithItsOwner() throws {
        let dir = try Directory()
        var owner: SharedRegion? = try SharedRegion.create(kind: "results", slotCount: 2, slotBytes: 10, directory: dir.path)
        let path = owner!.path
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        #expect(path.hasPrefix(dir.path + "/loom-\(getpid())-results-"))
        let peer = try SharedRegion.open(path: path, directory: dir.path)
        peer.close()
        #expect(FileManager.default.fileExists(atPath: path), "a reader closing removes nothing")
        owner = nil
        #expect(!FileManager.default.fileExists(atPath: path), "the owner removes its file")
    }

    @Test func openRefusesWhatIsNotThatRegion() throws {
        let dir = try Directory()
        let owner = try SharedRegion.create(kind: "weights", slotCount: 2, slotBytes: 64, directory: dir.path)
        func refusal(_ path: String, token: [UInt8]? = nil) -> String? {
            do {
                _ = try SharedRegion.open(path: path, token: token, directory: dir.path)
                return nil
            } catch {
                return error.description
            }
        }
        #expect(refusal("/etc/passwd")?.contains("not a Loom region") == true)
        #expect(refusal(dir.path + "/../" + (owner.path as NSString).lastPathComponent)?.contains("not a Loom region") == true)
        #expect(refusal(owner.path, token: [UInt8](repeating: 0, count: 16))?.contains("token") == true)
        // A link to the region, named like one, is not followed.
        let link = dir.path + "/loom-1-weights-feedfeedfeed"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: owner.path)
        #expect(refusal(link) != nil)
        // A file named like a region but not one: no magic, or a header that does not fit its size.
        let fake = dir.path + "/loom-1-weights-000000000000"
        try Data(repeating: 0, count: 8192).write(to: URL(fileURLWithPath: fake))
        #expect(refusal(fake)?.contains("magic") == true)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: owner.path))
        bytes.removeLast(4096)
        try bytes.write(to: URL(fileURLWithPath: fake))
        #expect(refusal(fake)?.contains("does not fit") == true)
    }

    @Test func regionsNoProcessHoldsAreRemovedOnCreateAndLiveOnesStay() throws {
        let dir = try Directory()
        // Left behind (nobody holds its lock), whatever pid its name says, even this one's.
        let stale = dir.path + "/loom-\(getpid())-weights-0123456789ab"
        try Data([1]).write(to: URL(fileURLWithPath: stale))
        let other = dir.path + "/notloom-1-weights-0123456789ab"
        try Data([1]).write(to: URL(fileURLWithPath: other))
        let live = try SharedRegion.create(kind: "results", slotCount: 1, slotBytes: 8, directory: dir.path)
        #expect(!FileManager.default.fileExists(atPath: stale))
        #expect(FileManager.default.fileExists(atPath: other), "only loom-* files are looked at")
        _ = try SharedRegion.create(kind: "weights", slotCount: 1, slotBytes: 8, directory: dir.path)
        #expect(FileManager.default.fileExists(atPath: live.path), "a live region (its creator holds the lock) stays")
    }

    /// A reader racing a writer: the writer publishes tags 1, 2, 3... with payloads all equal
    /// to the tag; the reader asks for the newest tag it has seen announced, and every copy
    /// accepted under tag t must be all t (a copy that mixed two writes is refused).
    @Test func aReadDuringWritesIsEitherWholeOrRefused() throws {
        let dir = try Directory()
        let count = 200_000
        let owner = try SharedRegion.create(kind: "weights", slotCount: 1, slotBytes: 4 * count, directory: dir.path)
        let peer = try SharedRegion.open(path: owner.path, directory: dir.path)
        let published = Locked<UInt64>(0)
        let stop = Locked(false)
        let writer = Thread {
            var tag: UInt64 = 0
            var payload = [Float](repeating: 0, count: count)
            while !stop.current {
                tag += 1
                for i in 0..<count { payload[i] = Float(tag) }
                payload.withUnsafeBytes { owner.write(slot: 0, tag: tag, payload: $0) }
                published.withValue { $0 = tag }
            }
        }
        writer.start()
        var out = [Float](repeating: 0, count: count)
        var whole = 0, mixed = 0, refused = 0
        // At least `minimumReads` reads, and on until one got through whole (how many do
        // depends on how the two threads share the cores), within 30 s.
        let minimumReads = 100_000
        let deadline = Date().addingTimeInterval(30)
        while (whole == 0 || whole + mixed + refused < minimumReads) && Date() < deadline {
            let tag = published.current
            guard tag > 0 else { continue }
            if out.withUnsafeMutableBytes({ peer.read(slot: 0, tag: tag, into: $0) }) {
                if out.allSatisfy({ $0 == Float(tag) }) { whole += 1 } else { mixed += 1 }
            } else {
                refused += 1
            }
        }
        stop.withValue { $0 = true }
        while !writer.isFinished { Thread.sleep(forTimeInterval: 0.001) }
        #expect(mixed == 0, "\(mixed) torn copies accepted (\(whole) whole, \(refused) refused)")
        #expect(whole > 0, "some copies got through: \(whole) whole, \(refused) refused")
    }
}
