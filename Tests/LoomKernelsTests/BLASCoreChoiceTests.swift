// Which OpenBLAS kernels Loom asks for: a generic core on a CPU with better instructions is
// replaced by the best one CPUID allows; anything the user set, or a core that already uses
// the CPU's widest instructions, is kept.

import LoomKernels
import LoomTestSupport
import Testing

struct BLASCoreChoiceTests {
    static let xeonAVX512 = CPUInfo(vendor: "GenuineIntel", family: 6,
                                    features: [.sse3, .ssse3, .sse41, .sse42, .avx, .fma, .avx2, .avx512f, .avx512bw, .avx512dq, .avx512vl])
    static let epycZen2 = CPUInfo(vendor: "AuthenticAMD", family: 23, features: [.sse3, .ssse3, .sse41, .sse42, .avx, .fma, .avx2])
    static let haswell = CPUInfo(vendor: "GenuineIntel", family: 6, features: [.sse3, .ssse3, .sse41, .sse42, .avx, .fma, .avx2])
    static let oldAtom = CPUInfo(vendor: "GenuineIntel", family: 6, features: [.sse3, .ssse3])

    @Test func aGenericCoreOnAnAVX512XeonBecomesSkylakeX() {
        for generic in ["Prescott", "Core2", "Katmai", "Nehalem", "Sandybridge", "Haswell"] {
            #expect(BLASCoreChoice.upgrade(running: generic, cpu: Self.xeonAVX512, userValue: nil)?.name == "SkylakeX", "\(generic)")
        }
    }

    @Test func aGenericCoreOnAZenBecomesZenAndOnAnIntelAVX2Haswell() {
        #expect(BLASCoreChoice.upgrade(running: "Prescott", cpu: Self.epycZen2, userValue: nil)?.name == "Zen")
        #expect(BLASCoreChoice.upgrade(running: "Prescott", cpu: Self.haswell, userValue: nil)?.name == "Haswell")
        #expect(BLASCoreChoice.upgrade(running: "Sandybridge", cpu: Self.haswell, userValue: "")?.name == "Haswell")
    }

    @Test func coresThatUseTheWidestInstructionsAreKept() {
        #expect(BLASCoreChoice.upgrade(running: "SkylakeX", cpu: Self.xeonAVX512, userValue: nil) == nil)
        #expect(BLASCoreChoice.upgrade(running: "Cooperlake", cpu: Self.xeonAVX512, userValue: nil) == nil)
        #expect(BLASCoreChoice.upgrade(running: "Zen", cpu: Self.epycZen2, userValue: nil) == nil)
        #expect(BLASCoreChoice.upgrade(running: "Haswell", cpu: Self.epycZen2, userValue: nil) == nil)
    }

    @Test func theUsersValueAlwaysWins() {
        #expect(BLASCoreChoice.upgrade(running: "Prescott", cpu: Self.xeonAVX512, userValue: "Prescott") == nil)
        #expect(BLASCoreChoice.upgrade(running: "Prescott", cpu: Self.xeonAVX512, userValue: "Bogus") == nil)
    }

    @Test func nothingIsChosenWithoutAVX2OrForACoreLoomDoesNotKnow() {
        #expect(BLASCoreChoice.upgrade(running: "Prescott", cpu: Self.oldAtom, userValue: nil) == nil)
        #expect(BLASCoreChoice.upgrade(running: "Loongson3R4", cpu: Self.xeonAVX512, userValue: nil) == nil)
    }

    @Test func theExplanationSaysWhichKernelsRunAndWhy() {
        let chosen = BLASCoreChoice.chosenByLoom(core: "SkylakeX", detected: "Prescott",
                                                 because: BLASCoreChoice.reason(for: BLASCoreType.named("SkylakeX")!, on: Self.xeonAVX512))
        #expect(chosen.explanation.contains("SkylakeX") && chosen.explanation.contains("Prescott") && chosen.explanation.contains("AVX-512"))
        #expect(BLASCoreChoice.userSet(requested: "Haswell", core: "Haswell").explanation.contains("set by the user"))
        #expect(BLASCoreChoice.userSet(requested: "Bogus", core: "Zen").explanation.contains("does not know"))
        #expect(BLASCoreChoice.detected(core: "Zen").explanation.contains("detected by OpenBLAS"))
    }

    @Test func theCoreTypesToTestAreThoseTheCPURuns() {
        let names = BLASCoreType.distinctRunnable(on: Self.haswell).map(\.name)
        #expect(names == ["Prescott", "Core2", "Nehalem", "Sandybridge", "Haswell", "Zen"])
        #expect(BLASCoreType.distinctRunnable(on: Self.oldAtom).map(\.name) == ["Prescott", "Core2"])
        #expect(BLASCoreType.distinctRunnable(on: Self.xeonAVX512).map(\.name).contains("SkylakeX"))
        #expect(!BLASCoreType.distinctRunnable(on: Self.xeonAVX512).map(\.name).contains("Cooperlake"))
    }

    @Test func kernelsMatchWhenTheirBLASCoreMatches() {
        let a = KernelIdentity(blasCore: "SkylakeX", loomPath: "avx512")
        #expect(a.computesSameBits(as: KernelIdentity(blasCore: "skylakex", loomPath: "sse2")))
        #expect(!a.computesSameBits(as: KernelIdentity(blasCore: "Haswell", loomPath: "avx512")))
    }

    @Test func kernelsOfAnotherRevisionComputeOtherBits() {
        let now = KernelIdentity(blasCore: "SkylakeX", loomPath: "avx512")
        #expect(now.revision == KernelIdentity.revision && KernelIdentity.current.revision == KernelIdentity.revision)
        let older = KernelIdentity(blasCore: "SkylakeX", loomPath: "avx512", revision: KernelIdentity.revision - 1)
        #expect(!now.computesSameBits(as: older) && !older.computesSameBits(as: now))
        #expect(older.description.hasSuffix(KernelIdentity.revision == 1 ? "kernel revision not recorded"
                                                                          : "kernel revision \(KernelIdentity.revision - 1)"))
    }

    @Test func thisProcessReportsTheCoreOpenBLASRuns() {
        #expect(!BLAS.coreName.isEmpty && BLAS.coreName != "unknown")
        #expect(KernelIdentity.current.loomPath == KernelPath.current.rawValue)
    }
}

/// Run only in the children that KernelMatrixTests (LoomCLITests) starts under each kernel:
/// they must really compute with what they were asked for, or the matrix proves nothing.
@Suite(.enabled(if: KernelRequest.isSet, "runs in the kernel-matrix children only"))
struct RequestedKernelsTests {
    @Test func theRequestedKernelsRun() throws {
        KernelRequest.applied
        if let core = KernelRequest.blasCore { #expect(BLAS.coreName.lowercased() == core.lowercased()) }
        if let path = KernelRequest.path { #expect(KernelPath.current == path) }
    }
}
