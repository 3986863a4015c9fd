// Which OpenBLAS kernels run, and why.
//
// Debian's OpenBLAS is built for every x86-64 core type (DYNAMIC_ARCH) and picks one from
// CPUID when it loads. A CPU newer than the OpenBLAS release is not in its tables, and it
// falls back to a generic SSE3 core (`Prescott`): sgemm then runs at a third of the speed
// the CPU has (32 against 90+ GFLOP/s on an AVX-512 Xeon with 0.3.21). OpenBLAS takes the
// core from the OPENBLAS_CORETYPE environment variable instead, read once when the library
// loads, so the choice must be made before that: the CLI re-executes the process with the
// variable set (`BLASCoreChoice`), and the user's own value always wins.
import CBLAS

/// One of OpenBLAS's x86-64 core types, ranked by the widest instructions its kernels use.
public struct BLASCoreType: Equatable, Sendable {
    /// The name OpenBLAS reports (`openblas_get_corename`) and accepts in OPENBLAS_CORETYPE.
    public var name: String
    /// 1 SSE/SSE3, 2 SSE4.2, 3 AVX, 4 AVX2 + FMA, 5 AVX-512.
    public var rank: Int
    /// What the CPU must support to run these kernels.
    public var needs: CPUInfo.Features

    /// The x86-64 core types of OpenBLAS 0.3.x that Loom knows, generic ones first.
    public static let known: [BLASCoreType] = {
        let sse3 = ["Katmai", "Coppermine", "Northwood", "Prescott", "Banias", "Atom", "Athlon", "Opteron",
                    "OpteronSSE3", "Barcelona", "Nano", "Bobcat"]
        let ssse3 = ["Core2", "Penryn", "Dunnington"]
        return sse3.map { BLASCoreType(name: $0, rank: 1, needs: [.sse3]) }
            + ssse3.map { BLASCoreType(name: $0, rank: 1, needs: [.sse3, .ssse3]) } + [
            BLASCoreType(name: "Nehalem", rank: 2, needs: [.sse3, .ssse3, .sse41, .sse42]),
            BLASCoreType(name: "Sandybridge", rank: 3, needs: [.sse42, .avx]),
            BLASCoreType(name: "Bulldozer", rank: 3, needs: [.sse42, .avx]),
            BLASCoreType(name: "Piledriver", rank: 3, needs: [.sse42, .avx, .fma]),
            BLASCoreType(name: "Steamroller", rank: 3, needs: [.sse42, .avx, .fma]),
            BLASCoreType(name: "Excavator", rank: 3, needs: [.sse42, .avx, .fma, .avx2]),
            BLASCoreType(name: "Haswell", rank: 4, needs: CPUInfo.Features.avx2fma),
            BLASCoreType(name: "Zen", rank: 4, needs: CPUInfo.Features.avx2fma),
            BLASCoreType(name: "SkylakeX", rank: 5, needs: CPUInfo.Features.avx2fma.union(.avx512)),
            BLASCoreType(name: "Cooperlake", rank: 5, needs: CPUInfo.Features.avx2fma.union(.avx512).union(.avx512bf16)),
            BLASCoreType(name: "SapphireRapids", rank: 5, needs: CPUInfo.Features.avx2fma.union(.avx512).union(.avx512bf16)),
        ]
    }()

    /// The core type named `name` (OpenBLAS's spelling, any case).
    public static func named(_ name: String) -> BLASCoreType? {
        known.first { $0.name.lowercased() == name.lowercased() }
    }

    /// The best kernels for `cpu`: AVX-512 F/BW/DQ/VL gives SkylakeX; AVX2 with FMA gives Zen
    /// on AMD's Zen families and Haswell elsewhere; nil below that (OpenBLAS's own choice
    /// among the older cores is then as good as Loom's).
    public static func best(for cpu: CPUInfo) -> BLASCoreType? {
        let f = cpu.features
        if f.isSuperset(of: CPUInfo.Features.avx2fma.union(.avx512)) { return named("SkylakeX") }
        if f.isSuperset(of: .avx2fma) { return named(cpu.isAMDZen ? "Zen" : "Haswell") }
        return nil
    }

    /// The core types `cpu` can run whose kernels differ from each other's, one per
    /// family of kernels: what the fixture tests run under (a core type that computes wrong
    /// results on this host is caught there).
    public static func distinctRunnable(on cpu: CPUInfo) -> [BLASCoreType] {
        ["Prescott", "Core2", "Nehalem", "Sandybridge", "Haswell", "Zen", "SkylakeX", "Cooperlake"]
            .compactMap(named).filter { cpu.features.isSuperset(of: $0.needs) }
    }
}

/// How the OpenBLAS core of this process came about.
public enum BLASCoreChoice: Equatable, Sendable {
    /// OpenBLAS's own detection, kept.
    case detected(core: String)
    /// The user set OPENBLAS_CORETYPE; OpenBLAS runs `core` (a name OpenBLAS does not know is
    /// ignored by it, then `core` differs from `requested`).
    case userSet(requested: String, core: String)
    /// Loom set OPENBLAS_CORETYPE to `core` because OpenBLAS detected only `detected`.
    case chosenByLoom(core: String, detected: String, because: String)

    /// One phrase for the first log line: which kernels run and why.
    public var explanation: String {
        switch self {
        case .detected(let core):
            return "\(core) (detected by OpenBLAS)"
        case .userSet(let requested, let core) where requested.lowercased() == core.lowercased():
            return "\(core) (OPENBLAS_CORETYPE=\(requested), set by the user)"
        case .userSet(let requested, let core):
            return "\(core) (OPENBLAS_CORETYPE=\(requested) is set but OpenBLAS does not know that core and chose \(core) itself)"
        case .chosenByLoom(let core, let detected, let because):
            return "\(core) (chosen by Loom: OpenBLAS detected only the generic \(detected), and this CPU has \(because))"
        }
    }

    /// What to do in a process that has not re-executed yet: nil keeps the kernels that run,
    /// a core type means "re-execute with OPENBLAS_CORETYPE set to it".
    /// - Parameters:
    ///   - running: the core OpenBLAS runs now (`BLAS.coreName`).
    ///   - cpu: this CPU.
    ///   - userValue: OPENBLAS_CORETYPE as the process found it (nil or empty when unset).
    public static func upgrade(running: String, cpu: CPUInfo, userValue: String?) -> BLASCoreType? {
        if let userValue, !userValue.isEmpty { return nil }
        guard let current = BLASCoreType.named(running), let best = BLASCoreType.best(for: cpu),
              current.rank < best.rank else { return nil }
        return best
    }

    /// Why `core` was chosen on `cpu`, in words.
    public static func reason(for core: BLASCoreType, on cpu: CPUInfo) -> String {
        switch core.rank {
        case 5: "AVX-512 F/BW/DQ/VL"
        case 4 where core.name == "Zen": "AVX2 and FMA (AMD Zen, family \(cpu.family))"
        default: "AVX2 and FMA"
        }
    }
}

extension BLAS {
    /// The core type whose kernels OpenBLAS runs in this process (`openblas_get_corename`).
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }
}
