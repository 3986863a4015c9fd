// What this CPU can run: its vendor, family and the instruction sets the operating system
// lets a program use (CPUID and XGETBV, read by CKernels). The BLAS core choice and the
// instruction path of Loom's own kernels are both derived from it.
import CKernels

/// This CPU's vendor, family and usable instruction sets.
public struct CPUInfo: Equatable, Sendable {
    /// Instruction-set extensions, as `loom_cpu_features` reports them.
    public struct Features: OptionSet, Sendable, Hashable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }

        public static let sse3 = Features(rawValue: UInt32(LOOM_CPU_SSE3))
        public static let ssse3 = Features(rawValue: UInt32(LOOM_CPU_SSSE3))
        public static let sse41 = Features(rawValue: UInt32(LOOM_CPU_SSE41))
        public static let sse42 = Features(rawValue: UInt32(LOOM_CPU_SSE42))
        public static let avx = Features(rawValue: UInt32(LOOM_CPU_AVX))
        public static let fma = Features(rawValue: UInt32(LOOM_CPU_FMA))
        public static let avx2 = Features(rawValue: UInt32(LOOM_CPU_AVX2))
        public static let avx512f = Features(rawValue: UInt32(LOOM_CPU_AVX512F))
        public static let avx512bw = Features(rawValue: UInt32(LOOM_CPU_AVX512BW))
        public static let avx512dq = Features(rawValue: UInt32(LOOM_CPU_AVX512DQ))
        public static let avx512vl = Features(rawValue: UInt32(LOOM_CPU_AVX512VL))
        public static let avx512bf16 = Features(rawValue: UInt32(LOOM_CPU_AVX512BF16))

        /// What OpenBLAS's SkylakeX kernels and Loom's AVX-512 path need.
        public static let avx512: Features = [.avx512f, .avx512bw, .avx512dq, .avx512vl]
        /// What OpenBLAS's Haswell and Zen kernels need.
        public static let avx2fma: Features = [.avx, .avx2, .fma]

        /// The names of the set bits, for logs.
        public var names: [String] {
            let all: [(Features, String)] = [
                (.sse3, "sse3"), (.ssse3, "ssse3"), (.sse41, "sse4.1"), (.sse42, "sse4.2"), (.avx, "avx"),
                (.fma, "fma"), (.avx2, "avx2"), (.avx512f, "avx512f"), (.avx512bw, "avx512bw"),
                (.avx512dq, "avx512dq"), (.avx512vl, "avx512vl"), (.avx512bf16, "avx512bf16"),
            ]
            return all.filter { contains($0.0) }.map(\.1)
        }
    }

    /// CPUID's vendor string: "GenuineIntel", "AuthenticAMD", ...
    public var vendor: String
    /// Base plus extended family (23 and 25 are AMD's Zen 1-2 and Zen 3-4).
    public var family: Int
    public var features: Features

    public init(vendor: String, family: Int, features: Features) {
        self.vendor = vendor
        self.family = family
        self.features = features
    }

    /// The CPU this process runs on.
    public static let current: CPUInfo = {
        var bytes = [CChar](repeating: 0, count: 13)
        loom_cpu_vendor(&bytes)
        let vendor = String(decoding: bytes.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return CPUInfo(vendor: vendor, family: Int(loom_cpu_family()), features: Features(rawValue: loom_cpu_features()))
    }()

    /// An AMD CPU of the Zen families (17h and later).
    public var isAMDZen: Bool { vendor == "AuthenticAMD" && family >= 0x17 }
}
