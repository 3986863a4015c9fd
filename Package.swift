// swift-tools-version:6.0
// Loom: data-parallel training of fashion-attribute networks on CPU clusters.
// The target list is the architecture (see docs/ARCHITECTURE.md); dependencies point down.
import PackageDescription

/// Release builds of the numeric modules drop bounds checks in the inner loops; the
/// kernels index raw pointers and are covered by the fixture tests in debug builds.
let numericSettings: [SwiftSetting] = [
    .unsafeFlags(["-Ounchecked", "-wmo"], .when(configuration: .release)),
]

let package = Package(
    name: "Loom",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "loom", targets: ["loom"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        // System libraries, found through pkg-config, installed by deploy/bootstrap.sh.
        .systemLibrary(name: "CZeroMQ", pkgConfig: "libzmq", providers: [.apt(["libzmq3-dev"])]),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5", providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CTurboJPEG", pkgConfig: "libturbojpeg", providers: [.apt(["libturbojpeg0-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        // libpng reports errors by longjmp: the shim keeps setjmp in C and returns a status.
        .target(name: "CPNGShim", dependencies: ["CPNG"]),
        // What Swift cannot import from hdf5.h: the H5T_NATIVE_* and H5P_DEFAULT macros.
        .target(name: "CHDF5Shim", dependencies: ["CHDF5"]),
        // What Swift cannot import from malloc.h: mallopt (see LoomKernels/HeapTuning.swift).
        .target(name: "CHeapTuning"),
        // What Swift cannot import from sched.h and stdatomic.h: CPU affinity (local workers,
        // one core each) and atomics on memory shared with another process (SharedRegion).
        .target(name: "CSystem"),
        // Loom's memory-bound kernels for SSE2, AVX2 and AVX-512, chosen at run time, and
        // CPUID. No fused multiply-add anywhere, so that every path computes the same bits.
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-ffp-contract=off", "-O2"])]),

        .target(name: "LoomKernels", dependencies: ["CBLAS", "CHeapTuning", "CKernels"], swiftSettings: numericSettings),
        .target(name: "LoomHDF5", dependencies: ["CHDF5", "CHDF5Shim"]),
        .target(name: "LoomConfig", dependencies: ["Yams"]),
        // Image files: JPEG (TurboJPEG) and PNG (libpng) decoding, crop, area resize.
        .target(name: "LoomImage", dependencies: ["CTurboJPEG", "CPNGShim"], swiftSettings: numericSettings),
        .target(name: "LoomData", dependencies: ["LoomKernels", "LoomHDF5", "LoomConfig", "LoomImage", "CZlib", "Yams"],
                swiftSettings: numericSettings),
        .target(name: "LoomModel", dependencies: ["LoomKernels", "LoomConfig"], swiftSettings: numericSettings),
        .target(name: "LoomTraining", dependencies: ["LoomKernels", "LoomModel", "LoomData", "LoomConfig", "LoomCheckpoint",
                                               .product(name: "Logging", package: "swift-log")],
                swiftSettings: numericSettings),
        .target(name: "LoomCheckpoint", dependencies: ["LoomHDF5", "LoomConfig"]),
        .target(name: "LoomWire", dependencies: ["CZeroMQ", "CSystem", "LoomKernels"]),
        .target(name: "LoomCluster", dependencies: [
            "LoomWire", "LoomTraining", "LoomCheckpoint", "LoomData", "LoomModel", "LoomConfig", "CSystem",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "loom", dependencies: [
            "LoomCluster", "LoomCheckpoint", "LoomTraining", "LoomData", "LoomModel", "LoomConfig",
            "LoomHDF5", "LoomWire", "LoomKernels", "CBLAS",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        .target(name: "LoomTestSupport", dependencies: ["LoomHDF5", "LoomKernels", "LoomData", "LoomImage"], path: "Tests/LoomTestSupport"),
        .testTarget(name: "LoomKernelsTests", dependencies: ["LoomKernels", "LoomTestSupport"]),
        .testTarget(name: "LoomImageTests", dependencies: ["LoomImage"]),
        .testTarget(name: "LoomHDF5Tests", dependencies: ["LoomHDF5", "LoomTestSupport"]),
        .testTarget(name: "LoomConfigTests", dependencies: ["LoomConfig"]),
        .testTarget(name: "LoomDataTests", dependencies: ["LoomData", "LoomImage", "LoomTestSupport"]),
        .testTarget(name: "LoomModelTests", dependencies: ["LoomModel", "LoomTraining", "LoomTestSupport"]),
        .testTarget(name: "LoomTrainingTests", dependencies: ["LoomTraining", "LoomTestSupport", "LoomHDF5", "LoomConfig", "LoomData", "LoomCheckpoint",
                                                         .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "LoomCheckpointTests", dependencies: ["LoomCheckpoint", "LoomTestSupport"]),
        .testTarget(name: "LoomWireTests", dependencies: ["LoomWire", "LoomTestSupport"]),
        .testTarget(name: "LoomClusterTests", dependencies: ["LoomCluster", "LoomWire", "LoomTestSupport"]),
        .testTarget(name: "LoomCLITests", dependencies: ["LoomHDF5", "LoomCluster", "LoomData", "LoomImage", "LoomTestSupport"]),
    ],
    swiftLanguageModes: [.v5]
)
