// swift-tools-version:6.0
// Loom: data-parallel training of fashion-attribute networks on CPU clusters.
// The target list is the architecture (see docs/ARCHITECTURE.md); dependencies point down.
import PackageDescription

/// Release builds of the numeric modules drop bounds checks in the inner loops; the
/// kernels index raw pointers and are covered by the fixture tests in debug builds.
let numericSettings: [SwiftSetting] = [
    .unsafeFlags(["-Ounchecked", "-wmo"], .when(configuration: .release)),
]

/// The `loom` executable is glue: argument parsing, logging and output around calls into
/// the modules above, with no loop that runs per sample or per element. Optimising it takes
/// 25 s of a 150 s release build on 2 cores, at its very end where nothing runs beside it;
/// unoptimised it compiles in 6 s (docs/notes/2026-12-07-build-time.md).
let cliSettings: [SwiftSetting] = [
    .unsafeFlags(["-Onone"], .when(configuration: .release)),
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
        // Metrics: swift-metrics' API, swift-prometheus' registry and text exposition.
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
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

        // Progress bars that log lines do not break, and their text (no dependency).
        .target(name: "LoomConsole"),
        .target(name: "LoomKernels", dependencies: ["CBLAS", "CHeapTuning", "CKernels"], swiftSettings: numericSettings),
        .target(name: "LoomHDF5", dependencies: ["CHDF5", "CHDF5Shim"]),
        .target(name: "LoomConfig", dependencies: ["Yams"]),
        // TensorBoard event files (TFRecord + hand-encoded protobuf scalars): no dependency.
        .target(name: "LoomTensorBoard"),
        // Image files: JPEG (TurboJPEG) and PNG (libpng) decoding, crop, area resize.
        .target(name: "LoomImage", dependencies: ["CTurboJPEG", "CPNGShim"], swiftSettings: numericSettings),
        .target(name: "LoomData", dependencies: ["LoomKernels", "LoomHDF5", "LoomConfig", "LoomImage", "CZlib", "Yams"],
                swiftSettings: numericSettings),
        // The derived attribute benchmark: garments rendered from Fashion-MNIST, and a PNG
        // writer for its previews. Nothing at training time needs it.
        .target(name: "LoomSynthetic", dependencies: ["LoomKernels", "LoomData", "LoomImage"], swiftSettings: numericSettings),
        .target(name: "LoomModel", dependencies: ["LoomKernels", "LoomConfig"], swiftSettings: numericSettings),
        .target(name: "LoomCheckpoint", dependencies: ["LoomHDF5"]),
        .target(name: "LoomTraining", dependencies: ["LoomKernels", "LoomModel", "LoomData", "LoomConfig", "LoomCheckpoint",
                                               "LoomTensorBoard",
                                               .product(name: "Logging", package: "swift-log")],
                swiftSettings: numericSettings),
        // Messages and transports. Checks payloads with CKernels' finite test; links no BLAS.
        .target(name: "LoomWire", dependencies: ["CZeroMQ", "CSystem", "CKernels", "LoomKernels"]),
        // `loom report`, `loom embed`, `loom similar`: HTML pages and embeddings from runs.
        .target(name: "LoomReport", dependencies: ["LoomTraining", "LoomCheckpoint", "LoomConfig", "LoomData", "LoomTensorBoard", "LoomHDF5",
                                             "LoomImage",
                                             .product(name: "Logging", package: "swift-log")]),
        .target(name: "LoomCluster", dependencies: [
            "LoomWire", "LoomTraining", "LoomData", "LoomConfig", "LoomKernels",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // A coordinator in this process with `loom worker` children: spawning, CPU pinning.
        .target(name: "LoomLocal", dependencies: [
            "LoomCluster", "LoomWire", "LoomTraining", "CSystem", .product(name: "Logging", package: "swift-log"),
        ]),
        // `loom bench`: training throughput on synthetic data in one process, and real
        // worker processes on synthetic samples (`--workers`).
        .target(name: "LoomBench", dependencies: [
            "LoomCluster", "LoomLocal", "LoomWire", "LoomTraining", "LoomData", "LoomConfig", "LoomKernels", "LoomCheckpoint",
            "LoomModel",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // What `--metrics-port` serves: Loom's metrics recorded through swift-metrics, kept
        // and rendered by swift-prometheus (one registry per process, nothing global).
        .target(name: "LoomMetrics", dependencies: [
            "LoomWire",
            .product(name: "CoreMetrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        .executableTarget(name: "loom", dependencies: [
            "LoomCluster", "LoomLocal", "LoomBench", "LoomReport", "LoomMetrics", "LoomCheckpoint", "LoomTraining", "LoomData", "LoomSynthetic",
            "LoomConfig", "LoomWire", "LoomKernels", "LoomModel", "LoomImage", "LoomConsole", "CSystem",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: cliSettings),

        .target(name: "LoomTestSupport", dependencies: ["LoomHDF5", "LoomKernels", "LoomData", "LoomImage", "CZlib"], path: "Tests/LoomTestSupport"),
        .testTarget(name: "LoomKernelsTests", dependencies: ["LoomKernels", "CKernels", "LoomHDF5", "LoomTestSupport"]),
        .testTarget(name: "LoomImageTests", dependencies: ["LoomImage"]),
        .testTarget(name: "LoomHDF5Tests", dependencies: ["LoomHDF5", "LoomTestSupport"]),
        .testTarget(name: "LoomConfigTests", dependencies: ["LoomConfig"]),
        .testTarget(name: "LoomDataTests", dependencies: ["LoomData", "LoomImage", "LoomSynthetic", "LoomConfig", "LoomHDF5",
                                                     "LoomTestSupport"]),
        .testTarget(name: "LoomSyntheticTests", dependencies: ["LoomSynthetic", "LoomData", "LoomTestSupport"]),
        .testTarget(name: "LoomModelTests", dependencies: ["LoomModel", "LoomTraining", "LoomConfig", "LoomHDF5", "LoomKernels",
                                                      "LoomCheckpoint",
                                                      "LoomTestSupport"]),
        .testTarget(name: "LoomTrainingTests", dependencies: ["LoomTraining", "LoomTestSupport", "LoomHDF5", "LoomConfig", "LoomData",
                                                         "LoomCheckpoint", "LoomKernels",
                                                         .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "LoomCheckpointTests", dependencies: ["LoomCheckpoint", "LoomHDF5", "LoomTestSupport"]),
        .testTarget(name: "LoomWireTests", dependencies: ["LoomWire", "LoomKernels", "LoomTestSupport"]),
        .testTarget(name: "LoomClusterTests", dependencies: ["LoomCluster", "LoomWire", "LoomTraining", "LoomData", "LoomConfig",
                                                        "LoomCheckpoint", "LoomHDF5", "LoomKernels", "LoomTestSupport",
                                                        .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "LoomLocalTests", dependencies: ["LoomLocal"]),
        .testTarget(name: "LoomCLITests", dependencies: ["LoomHDF5", "LoomLocal", "LoomKernels", "LoomData", "LoomImage", "LoomBench",
                                                    "LoomTestSupport"]),
        .testTarget(name: "LoomTensorBoardTests", dependencies: ["LoomTensorBoard", "LoomReport", "LoomTestSupport"]),
        .testTarget(name: "LoomReportTests", dependencies: ["LoomReport", "LoomTraining", "LoomCheckpoint", "LoomTestSupport"]),
        .testTarget(name: "LoomConsoleTests", dependencies: ["LoomConsole", "LoomTestSupport"]),
        .testTarget(name: "LoomMetricsTests", dependencies: ["LoomMetrics", "LoomWire"]),
    ],
    swiftLanguageModes: [.v5]
)
