// The kernels a worker computes with travel in its hello (blas_core, kernel_path): both are
// required, and must be short printable names, since the coordinator logs and compares them.

import LoomKernels
@testable import LoomWire
import Testing

struct HelloKernelsTests {
    @Test func theKernelsRoundTripAndAreSnakeCaseFields() throws {
        var hello = SampleMessages.hello
        hello.kernels = KernelIdentity(blasCore: "SkylakeX", loomPath: "avx512")
        let frames = Message.hello(hello).encode()
        let json = String(decoding: frames[1], as: UTF8.self)
        #expect(json.contains("\"blas_core\":\"SkylakeX\"") && json.contains("\"kernel_path\":\"avx512\""))
        #expect(try Message.decode(frames, expectedRunID: nil) == .hello(hello))
    }

    @Test func aHelloWithoutTheKernelsIsRejected() {
        let body = #"{"protocol_version":2,"hostname":"a","pid":1,"cores":2,"dataset_fingerprint":"","has_local_data":false,"kernel_path":"sse2"}"#
        let header = WireHeader(type: .hello, runID: 0, payloadFrameCount: 1, payloadBytes: UInt64(body.utf8.count))
        #expect(decodeError([header.encode(), Array(body.utf8)], expectedRunID: nil) == .json(type: .hello, rule: "missing required field \"blas_core\""))
    }

    @Test(arguments: ["", "Sky lake", String(repeating: "x", count: 65), "Zen\u{7}"])
    func aKernelNameThatIsNotAShortPrintableWordIsRejected(name: String) {
        var hello = SampleMessages.hello
        hello.kernels = KernelIdentity(blasCore: name, loomPath: "avx2")
        #expect(decodeError(Message.hello(hello).encode(), expectedRunID: nil)
                == .json(type: .hello, rule: "blas_core is not 1-64 printable ASCII characters without spaces"))
    }

    @Test func aWorkersHelloCarriesThisProcesssKernels() {
        let hello = SampleMessages.hello
        #expect(hello.kernels == KernelIdentity.current)
        #expect(hello.kernels.blasCore == BLAS.coreName)
    }
}
