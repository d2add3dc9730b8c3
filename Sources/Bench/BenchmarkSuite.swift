import Foundation
import HDF5
import Kernels
import Launch
import MiniappCore
import ThreadPool

/// `miniapp bench`: in one run, on this machine, the memory bandwidth and
/// the roofline bound it sets for the heat stencil; miniapp's heat kernel
/// against that bound and against a plain C loop (gcc -O3 -march=native);
/// the schemes that go beyond one sweep per pass over memory; the thread
/// pool's fork-join round; halo exchange against message size and the part
/// of it hidden behind computation; MPI_Allreduce; and HDF5 write bandwidth.
/// Results are printed, and written as JSON and HDF5.
public enum Benchmark {
    public struct Options: Sendable {
        public var quick = false
        public var jsonPath = "bench.json"
        public var h5Path = "bench.h5"
        /// The miniapp executable to start through the launcher.
        public var executable: String
        /// bench/stencil_reference.c, if found; bench/copy_reference.c, the
        /// C copy that checks our own, is taken from the same folder.
        public var cReference: String?
        /// A hostfile of two hosts or more: the MPI figures are also
        /// measured between ranks on the first two (section 7).
        public var hostfile: String?
        /// Only the machine's description and section 7.
        public var networkOnly = false
        /// Only the machine's description and section 8.
        public var exactSumsOnly = false

        public init(executable: String) { self.executable = executable }
    }

    public static func run(_ options: Options) -> Int32 {
        if LaunchEnvironment(ProcessInfo.processInfo.environment).isLaunched {
            Console.write("miniapp: error: run `miniapp bench` directly, not under a launcher (it starts its own MPI runs)\n",
                          to: .error)
            return ExitStatus.usage.rawValue
        }
        do {
            let suite = try Suite(options)
            try suite.runAll()
            return 0
        } catch let failure as MiniappFailure {
            Console.write("miniapp: error: \(failure.message)\n", to: .error)
            return failure.status.rawValue
        } catch {
            Console.write("miniapp: error: \(error)\n", to: .error)
            return ExitStatus.software.rawValue
        }
    }
}

/// One kernel measurement: a grid, a scheme, ranks x threads. Measured in
/// rounds (copy bandwidth, miniapp, C reference, copy bandwidth, ...); each
/// figure is the median over the rounds, and the two fractions are medians
/// of the ratios within each round, so that a change of the machine's load
/// between rounds moves both sides of a ratio.
struct KernelResult {
    let grid: Int
    let scheme: String
    let ranks: Int
    let threads: Int
    /// miniapp's stepping MLUP/s.
    let mlups: Double
    /// The roofline bound of each round's moment: the copy bandwidth / 16 B,
    /// the mean of the median copies just before and just after the round.
    /// miniapp's figure is a rate over a whole run, so it is set against a
    /// typical copy, not against the best of a dozen short ones.
    let bound: Double
    /// miniapp's MLUP/s over the bound of the same round.
    let fractionOfBound: Double
    /// The same from the best copy before or after the round (a peak: on a
    /// shared machine 5-20% above the median copy): the harsher figure.
    let bestBound: Double
    let fractionOfBestBound: Double
    /// The bound from the bandwidth table of section 1.
    let boundAtStart: Double
    /// The C loop's MLUP/s, and miniapp's over the C loop's of the same round.
    let cReference: Double?
    let ratioToC: Double?
    /// The hand-tuned C sweep (`stencil_reference.c ... tuned`: bands of
    /// four rows, prefetch, padded rows, huge pages) in the same rounds, for the plain sweep with
    /// streaming stores on one rank: its MLUP/s, its fraction of the bound,
    /// and miniapp's over it.
    let tunedC: Double?
    let tunedFractionOfBound: Double?
    let ratioToTunedC: Double?
    /// Temporal blocking: the column tiles its runs chose (0: whole rows;
    /// `tile_columns` auto times both at start-up), one per round.
    let tileColumns: [Int]
    /// Plain sweeps: whether each round's run went up the rows in bands of
    /// four (`row_bands` auto times bands against single rows at start-up
    /// on fields beyond half the last-level cache).
    let rowBands: [Bool]
    /// Every round's figures (MLUP/s), for the JSON.
    let rounds: (miniapp: [Double], copyBounds: [Double], bestCopyBounds: [Double], cReference: [Double], tunedC: [Double])
}

final class Suite {
    let options: Benchmark.Options
    let work: String
    let cores: Int
    let cache: Int
    var document: [(String, JSONNode)] = []

    init(_ options: Benchmark.Options) throws {
        self.options = options
        work = NSTemporaryDirectory() + "miniapp-bench-\(getpid())"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        cores = max(1, Affinity.allowedCPUs().count)
        cache = Machine.lastLevelCacheBytes
    }

    deinit { try? FileManager.default.removeItem(atPath: work) }

    /// The C stencil and the C copy, compiled once (nil: gcc or the source missing).
    lazy var references: (stencil: String?, copy: String?) = {
        guard let stencil = options.cReference else { return (nil, nil) }
        let copy = URL(fileURLWithPath: stencil).deletingLastPathComponent().appendingPathComponent("copy_reference.c").path
        return (compile(stencil, to: "stencil_reference"), compile(copy, to: "copy_reference"))
    }()

    func say(_ line: String = "") { Console.write(line + "\n", to: .output) }

    func runAll() throws {
        say("miniapp bench \(miniappVersion): \(ProcessInfo.processInfo.hostName), \(Machine.cpuModel), \(cores) cores, "
            + "last-level cache \(Format.bytes(cache))\(options.quick ? " (quick)" : "")")
        say("kernels built for \(kernelVectorExtension)")
        document.append(("machine", .object([("host", .string(ProcessInfo.processInfo.hostName)),
                                             ("cpu", .string(Machine.cpuModel)), ("cores", .int(cores)),
                                             ("last_level_cache_bytes", .int(cache)), ("quick", .bool(options.quick)),
                                             ("kernel_vectors", .string(kernelVectorExtension))])))
        if !options.networkOnly && !options.exactSumsOnly {
            // The STREAM arrays live through the kernel section, which measures copy again next to each row.
            try {
                let probe = try BandwidthProbe(elements: max(1 << 23, 4 * cache / 8))
                stream(probe)
                _ = try kernelSweep(probe)
            }()
            pool()
            try mpi()
        }
        if let hostfile = options.hostfile, !options.exactSumsOnly { try network(hostfile: hostfile) }
        if !options.networkOnly { exactSums() }
        try writeResults()
    }

    // MARK: Memory bandwidth and the roofline

    /// Copy bandwidth (GB/s, STREAM counting) by threads and store kind.
    var copyBandwidth: [String: Double] = [:]

    func threadCounts() -> [Int] { Array(Set([1, min(2, cores), cores])).sorted() }

    func stream(_ probe: BandwidthProbe) {
        say()
        say("1. Memory bandwidth (STREAM, best of \(options.quick ? 3 : 5); 3 arrays of \(Format.bytes(probe.elements * 8)))")
        let repeats = options.quick ? 3 : 5
        let results = NodeBenchmarks.stream(probe, threadCounts: threadCounts(), repeats: repeats)
        let counts = threadCounts()
        say("   " + Format.padRight("kernel", 26) + counts.map { Format.padLeft("\($0) thread\($0 == 1 ? "" : "s")", 13) }.joined())
        for kernel in StreamKernel.allCases {
            for streaming in [false, true] {
                for prefetch in [false, true] {
                    let row = counts.map { t in
                        results.first { $0.kernel == kernel && $0.threads == t && $0.streaming == streaming && $0.prefetch == prefetch }!
                    }
                    say("   " + Format.padRight(kernel.rawValue + (streaming ? ", streaming" : "") + (prefetch ? ", prefetch" : ""), 26)
                        + row.map { Format.padLeft(Format.fixed($0.gigabytesPerSecond, 1) + " GB/s", 13) }.joined())
                    for r in row where kernel == .copy {
                        copyBandwidth["\(r.threads)-\(streaming)"] = max(copyBandwidth["\(r.threads)-\(streaming)"] ?? 0, r.gigabytesPerSecond)
                    }
                }
            }
        }
        cCopyCheck(probe, repeats: repeats)
        say("   The 5-point update streams one array in and one out, as copy does: 16 bytes per update as STREAM")
        say("   counts them (ordinary stores also read each output line first, in copy and stencil alike).")
        say("   Bound: the better copy (with or without prefetch) / 16 B:")
        for streaming in [false, true] {
            say("     " + Format.padRight(streaming ? "streaming stores" : "ordinary stores", 24)
                + counts.map { Format.padLeft(Format.fixed(bound(cores: $0, streaming: streaming), 0) + " MLUP/s", 15) }.joined())
        }
        document.append(("stream", .array(results.map { r in
            .object([("kernel", .string(r.kernel.rawValue)), ("threads", .int(r.threads)), ("streaming", .bool(r.streaming)),
                     ("prefetch", .bool(r.prefetch)), ("gb_per_s", .double(r.gigabytesPerSecond))])
        })))
        document.append(("roofline_bytes_per_update", .int(16)))
    }

    /// The same copy by the C loop bench/copy_reference.c (gcc -O3
    /// -march=native): if ours were the slower copy, the bound it sets would
    /// be low and every fraction of it flattered. Printed as two more rows,
    /// and as ours over C's with ours measured again just before each C run
    /// (the bandwidth moves within a minute); the bound stays ours.
    func cCopyCheck(_ probe: BandwidthProbe, repeats: Int) {
        guard let binary = references.copy else {
            say("   (C copy check skipped: gcc or bench/copy_reference.c not found)")
            return
        }
        let counts = threadCounts()
        var rows: [JSONNode] = [], ratios: [String] = [], bits = 0
        for streaming in [false, true] {
            var line = "   " + Format.padRight("C copy" + (streaming ? ", streaming" : ""), 26)
            var ours: [String] = []
            for threads in counts {
                let own = probe.copyBound(threads: threads, streaming: streaming, repeats: repeats).best
                let arguments = ["\(probe.elements)", "\(repeats)", "\(threads)"] + (streaming ? ["stream"] : [])
                guard let output = try? execute(binary, arguments, environment: ["OMP_PROC_BIND": "close", "OMP_PLACES": "cores"]),
                      let result = try? JSONParser.parse(output.split(separator: "\n").last.map(String.init) ?? output),
                      case .number(let best)? = result["gb_per_s_best"]?.value, let c = Double(best),
                      case .number(let median)? = result["gb_per_s_median"]?.value,
                      case .number(let width)? = result["vector_bits"]?.value else {
                    say("   (C copy check failed for \(threads) thread\(threads == 1 ? "" : "s"))")
                    return
                }
                bits = Int(width) ?? 0
                line += Format.padLeft(Format.fixed(c, 1) + " GB/s", 13)
                ours.append(Format.fixed(own / c, 2))
                rows.append(.object([("threads", .int(threads)), ("streaming", .bool(streaming)),
                                     ("gb_per_s", .double(c)), ("gb_per_s_median", .double(Double(median) ?? .nan)),
                                     ("ours_gb_per_s", .double(own)), ("ours_over_c", .double(own / c))]))
            }
            say(line)
            ratios.append((streaming ? "streaming " : "ordinary ") + ours.joined(separator: " / "))
        }
        say("   C copy: bench/copy_reference.c, gcc -O3 -march=native, \(bits)-bit vectors, the better of with and without")
        say("   prefetch, best of \(repeats). Ours over C (ours measured again just before each C run; "
            + "\(counts.map(String.init).joined(separator: " / ")) threads):")
        say("   " + ratios.joined(separator: ", "))
        document.append(("c_copy", .array(rows)))
    }

    /// The single-sweep roofline in MLUP/s for `cores` cores.
    func bound(cores c: Int, streaming: Bool) -> Double {
        let counts = threadCounts()
        let nearest = counts.min { abs($0 - c) < abs($1 - c) } ?? 1
        return (copyBandwidth["\(nearest)-\(streaming)"] ?? 0) * 1e9 / 16 / 1e6
    }

    // MARK: Thread pool and timers

    func pool() {
        say()
        say("3. Thread pool and timers")
        var rows: [(String, JSONNode)] = []
        for threads in Array(Set([2, cores])).sorted() where threads >= 2 {
            let sample = NodeBenchmarks.forkJoinRound(threads: threads)
            say("   fork-join round, \(threads) threads: \(Format.fixed(sample.median, 2)) us (median; spread "
                + "\(Format.fixed(100 * sample.spread, 0))%)")
            rows.append(("fork_join_us_\(threads)_threads", .double(sample.median)))
        }
        let clock = NodeBenchmarks.clockCost()
        say("   clock read: \(Format.fixed(clock, 1)) ns; a heat step reads it about 10 times (5 phases), "
            + "\(Format.fixed(clock * 10 / 1000, 2)) us per step")
        rows.append(("clock_read_ns", .double(clock)))
        document.append(("threads", .object(rows)))
    }

    // MARK: Exact sums

    func exactSums() {
        say()
        say("8. Exact sums, one thread: ns per term (GB/s read) against a plain vectorised sum and a copy")
        say("   " + ["array", "plain sum", "exact sum", "exact dot", "copy", "exact / plain"].enumerated()
            .map { $0.offset == 0 ? Format.padRight($0.element, 30) : Format.padLeft($0.element, 16) }.joined())
        var rows: [(String, JSONNode)] = []
        let repeats = options.quick ? 3 : 5
        for (name, count) in [("in L2 (256 KiB)", 1 << 15), ("beyond the cache", max(1 << 23, 4 * cache / 8))] {
            let r = ExactSumBenchmarks.terms(count: count, name: name, repeats: repeats)
            func cell(_ ns: Double, bytesPerTerm: Double) -> String {
                "\(Format.fixed(ns, 2)) (\(Format.fixed(bytesPerTerm / ns, 1)))"
            }
            say("   " + Format.padRight("\(name), \(Format.bytes(r.bytes))", 30)
                + [cell(r.plainNanoseconds, bytesPerTerm: 8), cell(r.exactNanoseconds, bytesPerTerm: 8),
                   cell(r.dotNanoseconds, bytesPerTerm: 16), cell(r.copyNanoseconds, bytesPerTerm: 16),
                   Format.fixed(r.exactNanoseconds / r.plainNanoseconds, 2)].map { Format.padLeft($0, 16) }.joined())
            rows.append((count == 1 << 15 ? "in_cache" : "from_memory", .object([
                ("bytes", .int(r.bytes)), ("plain_ns_per_term", .double(r.plainNanoseconds)),
                ("exact_ns_per_term", .double(r.exactNanoseconds)), ("exact_dot_ns_per_term", .double(r.dotNanoseconds)),
                ("copy_ns_per_element", .double(r.copyNanoseconds))])))
        }
        let threads = cores
        for n in options.quick ? [4096] : [4096, 8192] {
            let t = ExactSumBenchmarks.diagnosticAgainstSweep(n: n, threads: threads, repeats: repeats)
            say("   one exact diagnostic of \(n)^2 on \(threads) threads (sum, min, max, two L2 and max errors): "
                + "\(Format.duration(t.diagnostic)); one sweep \(Format.duration(t.sweep)); "
                + "\(Format.fixed(t.diagnostic / t.sweep, 2)) sweeps")
            rows.append(("diagnostic_\(n)", .object([("threads", .int(threads)), ("diagnostic_seconds", .double(t.diagnostic)),
                                                      ("sweep_seconds", .double(t.sweep))])))
        }
        document.append(("exact_sums", .object(rows)))
    }

    // MARK: Results

    func writeResults() throws {
        let json = JSONNode.object(document)
        try (json.serialized() + "\n").write(toFile: options.jsonPath, atomically: true, encoding: .utf8)
        let file = try File.createSerial(options.h5Path)
        try file.setAttribute("results_json", json.serialized())
        try file.setAttribute("version", miniappVersion)
        try file.close()
        say()
        say("Results: \(options.jsonPath), \(options.h5Path)")
    }

    /// Runs a program, returns its standard output; throws with its output on failure.
    @discardableResult
    func execute(_ program: String, _ arguments: [String], environment: [String: String] = [:]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program.contains("/") ? program : "/usr/bin/env")
        process.arguments = program.contains("/") ? arguments : [program] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, added in added }
        // One pipe for both streams: reading one while the other fills could block.
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        if process.terminationStatus != 0 {
            throw MiniappFailure(.software, "\(program) \(arguments.joined(separator: " ")) failed:\n" + text)
        }
        return text
    }
}
