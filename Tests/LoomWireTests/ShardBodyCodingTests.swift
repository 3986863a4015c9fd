import Foundation
@testable import LoomWire
import Testing

/// The shard bodies that carry data are written and read without Foundation's JSON coders
/// (`ShardBody.compactJSON`, `ShardBody.compact`): the bytes must be JSONEncoder's, and what
/// is read must be what JSONDecoder reads, or nothing (JSONDecoder then reads it).
struct ShardBodyCodingTests {
    static func body(_ kind: ShardMessage.Kind, _ set: (inout ShardBody) -> Void = { _ in }) -> ShardBody {
        var b = ShardBody(kind: kind)
        set(&b)
        return b
    }

    /// Every kind a step sends, with the fields it carries, and extremes of each field.
    static let dataBodies: [ShardBody] = [
        body(.gradient) { $0.first = 0; $0.count = 4 },
        body(.gradient) { $0.first = 12; $0.count = 3; $0.lower = 421_000; $0.upper = 421_834 },
        body(.slice) { $0.shard = 7; $0.lower = 0; $0.upper = Int(Int32.max) },
        body(.pull),
        body(.gather),
        body(.update) { $0.blocks = [0, 4, 4, 4]; $0.leaves = 8; $0.lrBits = (0.1 as Double).bitPattern },
        body(.update) { $0.blocks = []; $0.leaves = 1; $0.lrBits = UInt64.max },
        body(.updated) { $0.shard = 0; $0.finite = true },
        body(.updated) { $0.shard = 3; $0.finite = false },
        body(.gradient) { $0.first = Int.max; $0.count = Int.min + 1; $0.lower = -1; $0.upper = 0 },
        body(.state) { $0.shard = 1; $0.shards = 8; $0.optimizerStep = 0; $0.pid = 42; $0.buckets = [2048, 4096] },
    ]

    static func foundationJSON(_ b: ShardBody) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(b))
    }

    @Test func theCompactWriterGivesJSONEncodersBytes() throws {
        for b in Self.dataBodies {
            let compact = try #require(b.compactJSON(), "\(b)")
            #expect(compact == (try Self.foundationJSON(b)), "\(String(decoding: compact, as: UTF8.self))")
        }
    }

    @Test func bodiesWithStringsOrObjectsGoToJSONEncoder() throws {
        let others = [
            Self.body(.serverHello) { $0.endpoint = "tcp://10.0.0.1:5556"; $0.pid = 7 },
            Self.body(.state) { $0.slots = ["m"]; $0.shard = 0 },
            Self.body(.map) { $0.servers = [ServerAddress(endpoint: "tcp://a:1", lower: 0, upper: 3)] },
        ]
        for b in others {
            #expect(b.compactJSON() == nil)
            #expect(b.jsonFrame() == (try Self.foundationJSON(b)))
        }
    }

    @Test func theCompactReaderReadsWhatJSONDecoderReads() throws {
        for b in Self.dataBodies {
            let frame = try Self.foundationJSON(b)
            #expect(ShardBody.compact(frame) == b, "\(String(decoding: frame, as: UTF8.self))")
            #expect(try JSONDecoder().decode(ShardBody.self, from: Data(frame)) == b)
        }
    }

    /// Frames the compact reader leaves to JSONDecoder, and frames it reads: whatever it
    /// reads, JSONDecoder reads the same.
    @Test(arguments: [
        #"{ "kind":"pull"}"#, #"{"kind" :"pull"}"#, #"{"kind":"pull","extra":1}"#, #"{"kind":"pu\u006cl"}"#,
        #"{"kind":"pull","lower":01}"#, #"{"kind":"pull","lower":1.0}"#, #"{"kind":"pull","lower":1e3}"#,
        #"{"kind":"pull","lower":-0}"#, #"{"kind":"pull","lower":true}"#, #"{"kind":"pull","finite":1}"#,
        #"{"kind":"pull","lower":"1"}"#, #"{"kind":"pull","lower":null}"#, #"{"kind":"pull","lower":1,"lower":2}"#,
        #"{"kind":"nope"}"#, #"{"lower":1}"#, #"{"kind":"pull"} "#, #"{"kind":"pull"}x"#, #"{"kind":"pull""#,
        #"{"kind":"pull","lower":99999999999999999999}"#, #"{"kind":"pull","lr_bits":-1}"#,
        #"{"kind":"pull","lower":-9223372036854775808}"#, #"{"kind":"pull","blocks":[1,]}"#,
        #"{"kind":"pull","blocks":[1,[2]]}"#, #"{"upper":5,"kind":"slice","shard":1,"lower":2}"#,
        #"{"kind":"update","blocks":[-3,0],"lr_bits":18446744073709551615,"leaves":2}"#, "{}", "[]", "",
    ])
    func whatTheCompactReaderReadsJSONDecoderReadsTheSame(text: String) {
        let frame = Array(text.utf8)
        let foundation = try? JSONDecoder().decode(ShardBody.self, from: Data(frame))
        if let compact = ShardBody.compact(frame) {
            #expect(compact == foundation, "\(text)")
        }
    }

    /// A malformed field in a gradient still gets JSONDecoder's error, naming the field.
    @Test func aMistypedFieldIsStillRefusedNamingIt() throws {
        let good = ShardMessage(runID: 5, step: 1, weightsVersion: 1, body: Self.body(.gradient) { $0.first = 0; $0.count = 1 },
                                values: [1, 2])
        var frames = Message.shard(good).encode()
        #expect(try Message.decode(frames, expectedRunID: 5) == .shard(good))
        let bad = Array(#"{"count":1,"first":true,"kind":"gradient"}"#.utf8)
        var header = try WireHeader(frame: frames[0])
        header.payloadBytes = UInt64(bad.count + frames[2].count)
        frames[0] = header.encode()
        frames[1] = bad
        do {
            _ = try Message.decode(frames, expectedRunID: 5)
            Issue.record("a gradient whose first is true was accepted")
        } catch {
            guard case .json(type: .shard, let rule) = error else { Issue.record("\(error)"); return }
            #expect(rule.contains(#"field "first""#), "\(rule)")
        }
    }
}
