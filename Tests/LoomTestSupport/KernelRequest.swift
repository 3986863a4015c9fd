import Foundation
import LoomKernels

/// The kernels a test process was asked to run, by the test that starts this test binary
/// again under every kernel (LoomCLITests' KernelMatrixTests): LOOM_TEST_KERNEL_PATH names
/// the path of Loom's own kernels, LOOM_TEST_EXPECT_BLAS_CORE the OpenBLAS core type that
/// OPENBLAS_CORETYPE asked for. Outside such a child both are unset and nothing changes.
public enum KernelRequest {
    public static var path: KernelPath? {
        ProcessInfo.processInfo.environment["LOOM_TEST_KERNEL_PATH"].flatMap { KernelPath(rawValue: $0) }
    }

    public static var blasCore: String? {
        ProcessInfo.processInfo.environment["LOOM_TEST_EXPECT_BLAS_CORE"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Whether this process was started to run under requested kernels.
    public static var isSet: Bool { path != nil || blasCore != nil }

    /// Switches to the requested path, once; every fixture read goes through here.
    public static let applied: Void = {
        if let path { try? KernelPath.use(path) }
    }()
}
