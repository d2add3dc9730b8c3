import ArgumentParser
import Bench
import Foundation
import MiniappCore

/// `miniapp bench`: measures this machine and miniapp in one run.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmark: memory bandwidth and roofline, the heat kernel against it and against C, "
            + "schemes beyond one sweep per pass, fork-join, halo exchange, MPI_Allreduce, HDF5 writes.",
        discussion: "Run it directly (not under mpirun): it starts its own MPI runs. What the figures mean: "
            + "docs/performance.md.")

    @Flag(name: .long, help: "Fewer grids and repetitions (a few minutes less).")
    var quick = false

    @Option(name: .long, help: ArgumentHelp("Results as JSON.", valueName: "PATH"))
    var json = "bench.json"

    @Option(name: .long, help: ArgumentHelp("Results as HDF5.", valueName: "PATH"))
    var h5 = "bench.h5"

    @Option(name: .long, help: ArgumentHelp("A hostfile of two hosts or more: also measure MPI between ranks on "
                                            + "the first two (section 7, the performance model's network figures).",
                                            valueName: "PATH"))
    var hostfile: String?

    @Flag(name: .long, help: "Only the network between two hosts (section 7; needs --hostfile): seconds, not minutes.")
    var networkOnly = false

    @Flag(name: .long, help: "Only the exact sums inside one process (section 8): seconds, not minutes.")
    var exactSumsOnly = false

    @Option(name: .long, help: ArgumentHelp("The C reference loop (default: bench/stencil_reference.c next to the build); "
                                            + "the C copy, copy_reference.c, is taken from the same folder.",
                                            valueName: "PATH"))
    var cReference: String?

    func validate() throws {
        if networkOnly && hostfile == nil { throw ValidationError("--network-only needs --hostfile") }
        if networkOnly && exactSumsOnly { throw ValidationError("--network-only and --exact-sums-only exclude each other") }
        if let hostfile, !FileManager.default.isReadableFile(atPath: hostfile) {
            throw ValidationError("cannot read the hostfile '\(hostfile)'")
        }
    }

    func run() throws {
        let executable = LaunchCommand.executablePath()
        var options = Benchmark.Options(executable: executable)
        options.quick = quick
        options.jsonPath = json
        options.h5Path = h5
        options.cReference = cReference ?? Self.findReference(from: executable)
        options.hostfile = hostfile
        options.networkOnly = networkOnly
        options.exactSumsOnly = exactSumsOnly
        let status = Benchmark.run(options)
        if status != 0 { throw ExitCode(status) }
    }

    /// bench/stencil_reference.c in the working directory or above the executable.
    static func findReference(from executable: String) -> String? {
        var directory = URL(fileURLWithPath: executable).deletingLastPathComponent()
        let candidates = [URL(fileURLWithPath: FileManager.default.currentDirectoryPath)]
        for base in candidates + (0..<5).map({ _ -> URL in
            directory = directory.deletingLastPathComponent()
            return directory
        }) {
            let path = base.appendingPathComponent("bench/stencil_reference.c").path
            if FileManager.default.fileExists(atPath: path) { return path }
        }
        return nil
    }
}

/// `miniapp bench-part mpi|allreduce`: the MPI measurements of `miniapp
/// bench`, run by it through the launcher (mpi: on 2 ranks).
struct BenchPartCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench-part", abstract: "Part of `miniapp bench` (internal).",
                                                    shouldDisplay: false)

    @Argument var part: String
    @Option var json: String
    @Option var scratch: String = NSTemporaryDirectory()
    @Flag var network = false

    func run() throws {
        let status = switch part {
        case "mpi": MPIBenchmarks.run(jsonPath: json, scratchDirectory: scratch, network: network)
        case "allreduce": MPIBenchmarks.runAllreduce(jsonPath: json)
        default: throw ValidationError("unknown part '\(part)'")
        }
        if status != 0 { throw ExitCode(status) }
    }
}
