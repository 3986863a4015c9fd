// The JSON frame of the shard messages that carry data (`gradient`, `slice`, `pull`,
// `update`, `updated`), written and read without Foundation's JSONEncoder and JSONDecoder.
// On the test bed at 8 hosts those two took 8.5% of all the bed's CPU (about 180 such
// messages a step, each a few dozen bytes of JSON: docs/notes/2026-12-07-bed-cpu.md).
//
// The bytes are the same: a body whose fields are all integers, booleans, integer arrays and
// its kind is written exactly as `jsonFrame` writes it (sorted keys, no spaces;
// `ShardBodyCodingTests` compares the two on every such kind). Reading takes only that
// canonical form: one flat object, no whitespace, known keys once each, integers without
// leading zeros, the kind a plain string. Anything else (strings, nested objects, spaces,
// escapes, a field of the wrong type, a missing kind) goes to JSONDecoder, so what is
// accepted, what is refused and every error's wording stay as they were.

extension ShardBody {
    /// The body's JSON frame: the compact writer when every field it holds is an integer, a
    /// boolean or an integer array, `jsonFrame` (JSONEncoder) otherwise; the same bytes.
    func jsonFrame() -> [UInt8] {
        compactJSON() ?? LoomWire.jsonFrame(self)
    }

    /// The canonical JSON of a body without string, object or slot fields (beyond its
    /// kind), keys sorted; nil for any other body.
    func compactJSON() -> [UInt8]? {
        guard endpoint == nil, hostname == nil, configYAML == nil, slots == nil, servers == nil, groups == nil,
              publicKey == nil, authorizedKeys == nil else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(96)
        out.append(UInt8(ascii: "{"))
        var first = true
        func key(_ name: StaticString) {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            out.append(UInt8(ascii: "\""))
            name.withUTF8Buffer { out.append(contentsOf: $0) }
            out.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
        }
        func integer<I: BinaryInteger>(_ v: I) { out.append(contentsOf: String(v).utf8) }
        // In the order of the keys' names (what `.sortedKeys` gives).
        if let v = blocks { key("blocks"); integers(v, into: &out) }
        if let v = buckets { key("buckets"); integers(v, into: &out) }
        if let v = count { key("count"); integer(v) }
        if let v = finite { key("finite"); out.append(contentsOf: (v ? "true" : "false").utf8) }
        if let v = self.first { key("first"); integer(v) }
        key("kind"); out.append(UInt8(ascii: "\"")); out.append(contentsOf: kind.rawValue.utf8); out.append(UInt8(ascii: "\""))
        if let v = leaves { key("leaves"); integer(v) }
        if let v = lower { key("lower"); integer(v) }
        if let v = lrBits { key("lr_bits"); integer(v) }
        if let v = optimizerStep { key("optimizer_step"); integer(v) }
        if let v = pid { key("pid"); integer(v) }
        if let v = shard { key("shard"); integer(v) }
        if let v = shards { key("shards"); integer(v) }
        if let v = upper { key("upper"); integer(v) }
        out.append(UInt8(ascii: "}"))
        return out
    }

    private func integers(_ values: [Int], into out: inout [UInt8]) {
        out.append(UInt8(ascii: "["))
        for (i, v) in values.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: String(v).utf8)
        }
        out.append(UInt8(ascii: "]"))
    }

    /// The body of a frame in the canonical form `compactJSON` writes; nil when the frame is
    /// anything else (then JSONDecoder reads it, and says what is wrong with it).
    static func compact(_ frame: [UInt8]) -> ShardBody? {
        frame.withUnsafeBufferPointer { bytes in
            var reader = CompactReader(bytes: bytes)
            return reader.body()
        }
    }
}

/// Reads one canonical body; every method returns nil at the first byte it does not expect.
private struct CompactReader {
    let bytes: UnsafeBufferPointer<UInt8>
    var at = 0

    init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    enum Value { case integer(negative: Bool, magnitude: UInt64), boolean(Bool), string(Substring), integers([Int]) }

    mutating func body() -> ShardBody? {
        guard take(UInt8(ascii: "{")) else { return nil }
        var fields: [String: Value] = [:]
        if !take(UInt8(ascii: "}")) {
            repeat {
                guard let name = string(), take(UInt8(ascii: ":")), let value = value(), fields[String(name)] == nil else { return nil }
                fields[String(name)] = value
            } while take(UInt8(ascii: ","))
            guard take(UInt8(ascii: "}")) else { return nil }
        }
        guard at == bytes.count, case .string(let k)? = fields.removeValue(forKey: "kind"),
              let kind = ShardMessage.Kind(rawValue: String(k)) else { return nil }
        var body = ShardBody(kind: kind)
        for (name, value) in fields {
            switch (name, value) {
            case ("blocks", .integers(let v)): body.blocks = v
            case ("buckets", .integers(let v)): body.buckets = v
            case ("finite", .boolean(let v)): body.finite = v
            case ("lr_bits", .integer(negative: false, magnitude: let m)): body.lrBits = m
            case (_, .integer(negative: let negative, magnitude: let m)):
                guard let v = Self.int(negative: negative, magnitude: m) else { return nil }
                switch name {
                case "count": body.count = v
                case "first": body.first = v
                case "leaves": body.leaves = v
                case "lower": body.lower = v
                case "optimizer_step": body.optimizerStep = v
                case "pid": body.pid = v
                case "shard": body.shard = v
                case "shards": body.shards = v
                case "upper": body.upper = v
                default: return nil
                }
            default: return nil
            }
        }
        return body
    }

    static func int(negative: Bool, magnitude m: UInt64) -> Int? {
        if negative { return m <= UInt64(Int.max) ? -Int(m) : nil }
        return m <= UInt64(Int.max) ? Int(m) : nil
    }

    mutating func take(_ byte: UInt8) -> Bool {
        guard at < bytes.count, bytes[at] == byte else { return false }
        at += 1
        return true
    }

    /// A string of printable ASCII without escapes.
    mutating func string() -> Substring? {
        guard take(UInt8(ascii: "\"")) else { return nil }
        let start = at
        while at < bytes.count, bytes[at] != UInt8(ascii: "\"") {
            guard bytes[at] >= 0x20, bytes[at] < 0x7f, bytes[at] != UInt8(ascii: "\\") else { return nil }
            at += 1
        }
        guard at < bytes.count else { return nil }
        let text = Substring(decoding: UnsafeBufferPointer(rebasing: bytes[start..<at]), as: UTF8.self)
        at += 1
        return text
    }

    mutating func value() -> Value? {
        guard at < bytes.count else { return nil }
        switch bytes[at] {
        case UInt8(ascii: "\""): return string().map { .string($0) }
        case UInt8(ascii: "t"): return literal("true") ? .boolean(true) : nil
        case UInt8(ascii: "f"): return literal("false") ? .boolean(false) : nil
        case UInt8(ascii: "["):
            at += 1
            var values: [Int] = []
            if take(UInt8(ascii: "]")) { return .integers(values) }
            repeat {
                guard let (negative, m) = integer(), let v = Self.int(negative: negative, magnitude: m) else { return nil }
                values.append(v)
            } while take(UInt8(ascii: ","))
            return take(UInt8(ascii: "]")) ? .integers(values) : nil
        default:
            return integer().map { .integer(negative: $0.0, magnitude: $0.1) }
        }
    }

    mutating func literal(_ word: StaticString) -> Bool {
        let n = word.utf8CodeUnitCount
        guard bytes.count - at >= n else { return false }
        let same = word.withUTF8Buffer { w in (0..<n).allSatisfy { bytes[at + $0] == w[$0] } }
        if same { at += n }
        return same
    }

    /// `-?(0|[1-9][0-9]*)` whose magnitude fits 64 bits; a fraction or exponent after it is
    /// not the canonical form (the caller then fails on the byte it does not expect).
    mutating func integer() -> (Bool, UInt64)? {
        let negative = take(UInt8(ascii: "-"))
        let start = at
        var m: UInt64 = 0
        while at < bytes.count, bytes[at] >= UInt8(ascii: "0"), bytes[at] <= UInt8(ascii: "9") {
            let (times10, o1) = m.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt64(bytes[at] - UInt8(ascii: "0")))
            guard !o1, !o2 else { return nil }
            m = sum
            at += 1
        }
        let digits = at - start
        guard digits >= 1, digits == 1 || bytes[start] != UInt8(ascii: "0"), !(negative && m == 0) else { return nil }
        return (negative, m)
    }
}
