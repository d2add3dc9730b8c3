// swift-tools-version:6.0
import PackageDescription

import Foundation

// The kernel module is compiled with -Ounchecked in release builds (no bounds or
// overflow checks in the hot loops, so they vectorise) for the vector instructions
// of the machine that builds it, as HPC codes are: x86-64-v4 (AVX-512) where it
// has them, x86-64-v3 (AVX2, every x86 cluster node since 2013) otherwise.
// MINIAPP_MARCH overrides it, e.g. MINIAPP_MARCH=x86-64-v3 for compute nodes
// without AVX-512, MINIAPP_MARCH=native, or MINIAPP_MARCH=x86-64 (baseline).
// Kernels are called, not inlined, from other modules so that these flags apply.
// Swift never contracts a*b+c into an FMA, so results do not depend on the ISA.
#if arch(x86_64)
let hostHasAVX512: Bool = {
    let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    let flags = cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") }?.split(separator: " ") ?? []
    return Set<Substring>(["avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"]).isSubset(of: flags)
}()
let defaultMarch: String? = hostHasAVX512 ? "x86-64-v4" : "x86-64-v3"
#else
let hostHasAVX512 = false
let defaultMarch: String? = nil
#endif
let march = Context.environment["MINIAPP_MARCH"] ?? defaultMarch
// The widest vectors the kernels are built for, for the benchmark's report and the results files.
let vectorCondition: String? = switch march {
case "x86-64-v4": "KERNELS_AVX512"
case "native" where hostHasAVX512: "KERNELS_AVX512"
case "x86-64-v3": "KERNELS_AVX2"
case "x86-64": "KERNELS_BASELINE"
default: nil
}
let kernelFlags: [SwiftSetting] = [
    .unsafeFlags(["-Ounchecked"] + (march.map { ["-Xcc", "-march=\($0)"] } ?? []), .when(configuration: .release)),
] + (vectorCondition.map { [.define($0, .when(configuration: .release))] } ?? [])

// MPI and HDF5 come from scripts/configure, which finds the MPI compiler
// wrapper (MPICC, else mpicc) and the parallel HDF5 built for it, and writes
// their flags as the pkg-config files miniapp-mpi and miniapp-hdf5 that
// PKG_CONFIG_PATH leads to. Run-time search paths that a .pc file cannot
// carry (modules, Spack) come in MINIAPP_RPATH.
let runtimePaths = (Context.environment["MINIAPP_RPATH"] ?? "").split(separator: ":").map(String.init)
let mpiLinkerFlags: [LinkerSetting] = runtimePaths.isEmpty ? [] : [
    .unsafeFlags(runtimePaths.flatMap { ["-Xlinker", "-rpath", "-Xlinker", $0] }),
]
// The git commit and compiler of the build (scripts/configure writes them
// into MINIAPP_BUILD_INFO/miniapp_build_info.h before every build).
let buildInfoFlags: [CSetting] = Context.environment["MINIAPP_BUILD_INFO"].map { [.unsafeFlags(["-I", $0])] } ?? []

let package = Package(
    name: "miniapp",
    products: [
        .executable(name: "miniapp", targets: ["miniapp"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // C libraries, through scripts/configure's pkg-config files; the
        // shims expose what Swift cannot import, alike for both MPI families.
        .systemLibrary(name: "CMPI", pkgConfig: "miniapp-mpi"),
        .systemLibrary(name: "CHDF5", pkgConfig: "miniapp-hdf5"),
        // Linux-only calls (affinity, futex) that Glibc does not show to Swift.
        .target(name: "CMiniappLinux"),
        // How this binary was built, for the run metadata.
        .target(name: "CBuildInfo", cSettings: buildInfoFlags),
        // Swift faces of those two: memory, the stop-signal handler, build facts.
        .target(name: "Platform", dependencies: ["CMiniappLinux", "CBuildInfo"]),

        // Thin Swift wrappers that own their handles.
        .target(name: "MPI", dependencies: ["CMPI"], linkerSettings: mpiLinkerFlags),
        .target(name: "HDF5", dependencies: ["CHDF5", "MPI"]),
        // Starting jobs: mpirun, Hydra's mpiexec or srun, as this build's MPI needs.
        .target(name: "Launch", dependencies: ["MPI"]),

        // Persistent fork-join thread pool with per-thread slots.
        .target(name: "ThreadPool", dependencies: ["CMiniappLinux"]),

        // Streaming (non-temporal) stores for the kernels, which Swift cannot express.
        .target(name: "CKernelShims"),
        // Hot loops: stencils and the exact (order-independent) accumulator.
        .target(name: "Kernels", dependencies: ["CKernelShims"], swiftSettings: kernelFlags),

        // Input, decomposition, halo exchange, problems, output, console.
        .target(name: "MiniappCore",
                dependencies: ["MPI", "HDF5", "Launch", "ThreadPool", "Kernels", "Platform"]),

        // miniapp bench: the machine's figures, and miniapp's against them (it launches mpirun and compiles C).
        .target(name: "Bench", dependencies: ["MiniappCore", "MPI", "HDF5", "Launch", "ThreadPool", "Kernels"]),

        // The command-line tool.
        .executableTarget(name: "miniapp", dependencies: [
            "MiniappCore", "Bench", "Launch", "MPI", "HDF5", "ThreadPool",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Helpers shared by the test targets (a reproducible random generator).
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels", "TestSupport"]),
        .testTarget(name: "ThreadPoolTests", dependencies: ["ThreadPool"]),
        .testTarget(name: "LaunchTests", dependencies: ["Launch", "MPI"]),
        .testTarget(name: "MiniappCoreTests", dependencies: ["MiniappCore", "MPI", "TestSupport"]),
    ]
)
