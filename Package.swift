// swift-tools-version:6.0
import PackageDescription

// The kernel module is compiled with -Ounchecked in release builds (no bounds or
// overflow checks in the hot loops, so they vectorise) and for AVX2-class x86-64
// (x86-64-v3: every x86 cluster node since 2013). MINIAPP_MARCH overrides it,
// e.g. MINIAPP_MARCH=native, or MINIAPP_MARCH=x86-64 for a baseline build.
// Kernels are called, not inlined, from other modules so that these flags apply.
// Swift never contracts a*b+c into an FMA, so results do not depend on the ISA.
#if arch(x86_64)
let defaultMarch: String? = "x86-64-v3"
#else
let defaultMarch: String? = nil
#endif
let march = Context.environment["MINIAPP_MARCH"] ?? defaultMarch
let kernelFlags: [SwiftSetting] = [
    .unsafeFlags(["-Ounchecked"] + (march.map { ["-Xcc", "-march=\($0)"] } ?? []), .when(configuration: .release)),
]

let package = Package(
    name: "miniapp",
    products: [
        .executable(name: "miniapp", targets: ["miniapp"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // C libraries, imported through pkg-config; the shims expose what Swift cannot import.
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c",
                       providers: [.apt(["libopenmpi-dev"])]),
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5-openmpi",
                       providers: [.apt(["libhdf5-openmpi-dev"])]),
        // Linux-only calls (affinity, futex) that Glibc does not show to Swift.
        .target(name: "CMiniappLinux"),

        // Thin Swift wrappers that own their handles.
        .target(name: "MPI", dependencies: ["CMPI"]),
        .target(name: "HDF5", dependencies: ["CHDF5", "MPI"]),

        // Persistent fork-join thread pool with per-thread slots.
        .target(name: "ThreadPool", dependencies: ["CMiniappLinux"]),

        // Streaming (non-temporal) stores for the kernels, which Swift cannot express.
        .target(name: "CKernelShims"),
        // Hot loops: stencils and the exact (order-independent) accumulator.
        .target(name: "Kernels", dependencies: ["CKernelShims"], swiftSettings: kernelFlags),

        // Input, decomposition, halo exchange, problems, output, console.
        .target(name: "MiniappCore",
                dependencies: ["MPI", "HDF5", "ThreadPool", "Kernels", "CMiniappLinux"]),

        // The command-line tool.
        .executableTarget(name: "miniapp", dependencies: [
            "MiniappCore",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Helpers shared by the test targets (a reproducible random generator).
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels", "TestSupport"]),
        .testTarget(name: "ThreadPoolTests", dependencies: ["ThreadPool"]),
        .testTarget(name: "MiniappCoreTests", dependencies: ["MiniappCore", "TestSupport"]),
    ]
)
