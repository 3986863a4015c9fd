// Which kernels a process computes with. Identical bits across workers hold only when all
// of them run the same kernels: OpenBLAS's core types block and order their sums
// differently, so a worker on another core type computes other roundings of the same
// gradients. The identity travels in the worker's hello (the coordinator refuses a
// worker whose BLAS core differs from the run's) and into every checkpoint.
import CKernels

/// The instruction path of Loom's own kernels (CKernels). All paths compute the same bits
/// (the kernels' 16-lane layout and -ffp-contract=off; tested), so the path is reported but
/// is not part of what must match between workers.
public enum KernelPath: String, CaseIterable, Sendable {
    case sse2, avx2, avx512

    /// What the CPU needs for this path.
    public var needs: CPUInfo.Features {
        switch self {
        case .sse2: []
        case .avx2: [.avx, .avx2]
        case .avx512: .avx512
        }
    }

    /// The widest path `cpu` runs.
    public static func best(for cpu: CPUInfo) -> KernelPath {
        allCases.last { cpu.features.isSuperset(of: $0.needs) } ?? .sse2
    }

    /// The paths `cpu` runs.
    public static func runnable(on cpu: CPUInfo) -> [KernelPath] {
        allCases.filter { cpu.features.isSuperset(of: $0.needs) }
    }

    /// The path the kernels run in this process: the widest the CPU runs from the start, or
    /// what `use` chose since (the CLI does for LOOM_KERNEL_PATH; tests do to cover every path).
    public static var current: KernelPath {
        switch Int(loom_kernels_path()) {
        case Int(LOOM_PATH_AVX512): .avx512
        case Int(LOOM_PATH_AVX2): .avx2
        default: .sse2
        }
    }

    /// Makes the kernels run `path`. Throws when this CPU cannot run it.
    public static func use(_ path: KernelPath, cpu: CPUInfo = .current) throws(KernelPathError) {
        guard cpu.features.isSuperset(of: path.needs) else {
            throw KernelPathError(path: path, cpu: cpu)
        }
        switch path {
        case .sse2: loom_kernels_set_path(Int32(LOOM_PATH_SSE2))
        case .avx2: loom_kernels_set_path(Int32(LOOM_PATH_AVX2))
        case .avx512: loom_kernels_set_path(Int32(LOOM_PATH_AVX512))
        }
    }
}

/// A kernel path this CPU cannot run.
public struct KernelPathError: Error, CustomStringConvertible, Equatable {
    public var path: KernelPath
    public var cpu: CPUInfo
    public var description: String {
        "this CPU (\(cpu.vendor), family \(cpu.family)) cannot run Loom's \(path.rawValue) kernels; it runs \(KernelPath.runnable(on: cpu).map(\.rawValue).joined(separator: ", "))"
    }
}

/// The kernels a process computes with: OpenBLAS's core type, Loom's own path and the
/// revision of Loom's arithmetic.
public struct KernelIdentity: Equatable, Sendable, CustomStringConvertible {
    /// OpenBLAS's core name (`openblas_get_corename`), e.g. "SkylakeX".
    public var blasCore: String
    /// Loom's own kernels' instruction path, e.g. "avx512".
    public var loomPath: String
    /// Which arithmetic Loom's own kernels compute (`revision` of the build that wrote it;
    /// 0 when not recorded: checkpoints and workers from before revisions were kept).
    public var revision: Int

    public init(blasCore: String, loomPath: String, revision: Int = KernelIdentity.revision) {
        self.blasCore = blasCore
        self.loomPath = loomPath
        self.revision = revision
    }

    /// The arithmetic of this build's kernels. It goes up by one with every change that
    /// makes a kernel compute other bits for the same inputs (another summation order,
    /// another algorithm for a shape), so that a worker or a checkpoint of another build is
    /// recognised as computing other bits. docs/KERNELS.md ("Kernel revisions") lists them.
    public static let revision = 2

    /// This process's kernels.
    public static var current: KernelIdentity {
        KernelIdentity(blasCore: BLAS.coreName, loomPath: KernelPath.current.rawValue)
    }

    /// Whether a worker with `other` computes the same bits as this: the BLAS core must match
    /// (case aside), and so must the kernel revision; Loom's paths compute the same bits, so
    /// they need not.
    public func computesSameBits(as other: KernelIdentity) -> Bool {
        blasCore.lowercased() == other.blasCore.lowercased() && revision == other.revision
    }

    public var description: String {
        "OpenBLAS \(blasCore), Loom \(loomPath), kernel revision \(revision == 0 ? "not recorded" : String(revision))"
    }
}
