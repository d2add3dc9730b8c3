import Foundation
import HDF5
import Kernels
import Launch
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

private final class Suite {
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
    private var copyBandwidth: [String: Double] = [:]

    private func threadCounts() -> [Int] { Array(Set([1, min(2, cores), cores])).sorted() }

    private func stream(_ probe: BandwidthProbe) {
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
    private func cCopyCheck(_ probe: BandwidthProbe, repeats: Int) {
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

    // MARK: The heat kernel

    private func configurations() -> [(Int, Int)] {
        var list = [(1, 1), (1, 2), (2, 1)]
        if cores > 2 { list += [(1, cores), (cores, 1)] }
        return list.filter { $0.0 * $0.1 <= max(2, cores) }
    }

    /// The ranks x threads a scheme's rows measure. `--quick` on a node of
    /// more than 2 cores samples them: one core and the whole node (as
    /// threads and as ranks) for the plain sweeps the performance model
    /// reads, the whole node only for the other schemes.
    private func configurations(forScheme name: String) -> [(Int, Int)] {
        guard options.quick && cores > 2 else { return configurations() }
        let node = [(1, cores), (cores, 1)]
        switch name {
        case "plain", "plain, streaming": return [(1, 1)] + node
        case "plain, no prefetch": return [(1, 1), (cores, 1)]
        default: return node
        }
    }

    /// "4096^2, 256.0 MiB = 8.0x LLC": a grid and its two fields' footprint
    /// against the measured last-level cache.
    private func gridLabel(_ n: Int) -> String {
        let bytes = 2 * 8 * n * n
        return "\(n)^2, \(Format.bytes(bytes))" + (cache > 0 ? " = \(Format.fixed(Double(bytes) / Double(cache), 1))x LLC" : "")
    }

    private func kernelSweep(_ probe: BandwidthProbe) throws -> [KernelResult] {
        // A grid whose two fields fit in half the last-level cache, and one
        // (two without --quick) whose fields take at least twice the cache:
        // 4096^2 or larger, so that a node with a large L3 streams it from memory.
        var inCache = 256
        while 2 * 8 * (2 * inCache) * (2 * inCache) <= max(cache, 1 << 20) / 2 { inCache *= 2 }
        var fromMemory = 4096
        while 2 * 8 * fromMemory * fromMemory < 2 * cache { fromMemory *= 2 }
        let grids = options.quick ? [inCache, fromMemory] : [inCache, fromMemory, 2 * fromMemory]
        let compiled = references.stencil
        say()
        say("2. Heat kernel: stepping MLUP/s (halo exchange and stencil; no diagnostics, no output), each run timed after "
            + "a warm-up")
        say("   " + ["grid, fields against the cache", "scheme", "ranks x thr", "miniapp", "bound", "of bound", "of best", "C -O3",
                     "ratio to C"].enumerated()
            .map { $0.offset < 2 ? Format.padRight($0.element, [34, 20][$0.offset]) : Format.padLeft($0.element, 12) }.joined())
        var results: [KernelResult] = []
        for n in grids {
            let large = 2 * 8 * n * n > cache / 2
            // (name, scheme keys, streaming stores, measured against C too)
            // "plain": the single sweep, forced (no keys at all is the automatic scheme).
            let single: [String: JSONNode] = ["halo_depth": .int(1)]
            var schemes: [(String, [String: JSONNode], Bool, Bool)] = [
                ("plain", single.merging(["streaming_stores": .string("off")]) { $1 }, false, true)]
            if large {
                schemes.append(("plain, no prefetch", single.merging(["streaming_stores": .string("off"),
                                                                      "software_prefetch": .string("off")]) { $1 },
                                false, false))
                schemes.append(("plain, streaming", single.merging(["streaming_stores": .string("on")]) { $1 }, true, true))
                schemes.append(("default (automatic)", [:], true, false))
                for k in options.quick ? [8] : [4, 8, 16] {
                    schemes.append(("\(k) steps per pass", ["halo_depth": .int(k), "temporal_blocking": .bool(true),
                                                           "streaming_stores": .string("on")], true, false))
                }
            }
            for (name, scheme, streaming, againstC) in schemes {
                for (ranks, threads) in configurations(forScheme: name) {
                    // The tuned C sweep has OpenMP threads only: against one rank's threads.
                    let tuned = againstC && streaming && ranks == 1
                    let result = try kernelRow(probe, grid: n, scheme: (name, scheme), ranks: ranks, threads: threads,
                                               streaming: streaming, reference: againstC ? compiled : nil, tuned: tuned)
                    results.append(result)
                    say("   " + Format.padRight(gridLabel(n), 34) + Format.padRight(name, 20)
                        + [Format.padLeft("\(ranks) x \(threads)", 12), Format.padLeft(Format.fixed(result.mlups, 0), 12),
                           Format.padLeft(Format.fixed(result.bound, 0), 12),
                           Format.padLeft(Format.fixed(100 * result.fractionOfBound, 0) + "%", 12),
                           Format.padLeft(Format.fixed(100 * result.fractionOfBestBound, 0) + "%", 12),
                           Format.padLeft(result.cReference.map { Format.fixed($0, 0) } ?? "-", 12),
                           Format.padLeft(result.ratioToC.map { Format.fixed($0, 2) } ?? "-", 12)].joined())
                }
            }
        }
        if compiled == nil { say("   (C reference skipped: gcc or bench/stencil_reference.c not found)") }
        let tunedRows = results.filter { $0.ratioToTunedC != nil }
        if !tunedRows.isEmpty {
            say("   Against a hand-tuned C sweep (stencil_reference.c \"tuned\": bands of four rows, streaming stores, the")
            say("   rows read from memory prefetched, padded rows, huge pages), in the same rounds: its fraction of the bound,")
            say("   and miniapp over it:")
            say("   " + tunedRows.map { r in
                "\(r.grid)^2 \(r.ranks)x\(r.threads) C \(Format.fixed(100 * (r.tunedFractionOfBound ?? 0), 0))%, ours/C "
                    + Format.fixed(r.ratioToTunedC ?? 0, 2)
            }.joined(separator: "; "))
        }
        let tiled = results.filter { $0.tileColumns.contains { $0 > 0 } }
        if results.contains(where: { !$0.tileColumns.isEmpty }) {
            say("   Several steps per pass: tile_columns \"auto\" (tiles that fit half of L2, timed at start-up against whole")
            say("   rows) chose " + (tiled.isEmpty ? "whole rows in every run." : "tiles in: " + tiled.map { r in
                "\(r.grid)^2 \(r.scheme.split(separator: " ").first ?? "") steps \(r.ranks)x\(r.threads) "
                    + "\(r.tileColumns.filter { $0 > 0 }.count)/\(r.tileColumns.count) (\(r.tileColumns.max() ?? 0))"
            }.joined(separator: "; ")))
        }
        let singleRows = results.filter { $0.rowBands.contains(false) }
        if results.contains(where: { !$0.rowBands.isEmpty }) {
            say("   Plain sweeps: row_bands \"auto\" (bands of four rows, timed at start-up against single rows on fields beyond")
            say("   half the last-level cache) chose " + (singleRows.isEmpty ? "bands in every run." : "single rows in: "
                + singleRows.map { r in
                    "\(r.grid)^2 \(r.scheme) \(r.ranks)x\(r.threads) \(r.rowBands.filter { !$0 }.count)/\(r.rowBands.count)"
                }.joined(separator: "; ")))
        }
        say("   Each row: \(rounds) rounds of (copy bandwidth, miniapp, C loop) and a last copy; figures are medians over the")
        say("   rounds, \"of bound\" and \"ratio to C\" medians of the ratios within a round (the machine is shared and its")
        say("   bandwidth moves). bound: copy bandwidth / 16 B for the cores and store kind used, the mean of the median")
        say("   copies (of 5) just before and after the round; \"of best\": against the best copy before or after it instead")
        say("   (a peak, as STREAM reports). Above 100%: more than one update per pass over memory.")
        document.append(("heat_kernel", .array(results.map { r in
            .object([("grid", .int(r.grid)), ("fields_bytes", .int(2 * 8 * r.grid * r.grid)),
                     ("fields_over_last_level_cache", cache > 0 ? .double(Double(2 * 8 * r.grid * r.grid) / Double(cache)) : .null),
                     ("scheme", .string(r.scheme)), ("ranks", .int(r.ranks)), ("threads", .int(r.threads)),
                     ("mlups", .double(r.mlups)), ("roofline_mlups", .double(r.bound)),
                     ("roofline_mlups_section_1", .double(r.boundAtStart)),
                     ("fraction_of_roofline", .double(r.fractionOfBound)),
                     ("roofline_mlups_best_copy", .double(r.bestBound)),
                     ("fraction_of_roofline_best_copy", .double(r.fractionOfBestBound)),
                     ("c_reference_mlups", r.cReference.map(JSONNode.double) ?? .null),
                     ("ratio_to_c", r.ratioToC.map(JSONNode.double) ?? .null),
                     ("tuned_c_mlups", r.tunedC.map(JSONNode.double) ?? .null),
                     ("tuned_c_fraction_of_roofline", r.tunedFractionOfBound.map(JSONNode.double) ?? .null),
                     ("ratio_to_tuned_c", r.ratioToTunedC.map(JSONNode.double) ?? .null),
                     ("tile_columns", r.tileColumns.isEmpty ? .null : .array(r.tileColumns.map(JSONNode.int))),
                     ("row_bands", r.rowBands.isEmpty ? .null : .array(r.rowBands.map(JSONNode.bool))),
                     ("rounds", .object([("mlups", .array(r.rounds.miniapp.map(JSONNode.double))),
                                         ("copy_bound_mlups", .array(r.rounds.copyBounds.map(JSONNode.double))),
                                         ("best_copy_bound_mlups", .array(r.rounds.bestCopyBounds.map(JSONNode.double))),
                                         ("c_reference_mlups", .array(r.rounds.cReference.map(JSONNode.double))),
                                         ("tuned_c_mlups", .array(r.rounds.tunedC.map(JSONNode.double)))]))])
        })))
        return results
    }

    /// Rounds per kernel row.
    private var rounds: Int { options.quick ? 3 : 5 }

    /// One row of section 2, measured in rounds (see `KernelResult`).
    private func kernelRow(_ probe: BandwidthProbe, grid n: Int, scheme: (name: String, keys: [String: JSONNode]), ranks: Int,
                           threads: Int, streaming: Bool, reference: String?, tuned: Bool) throws -> KernelResult {
        let cores = ranks * threads
        func bandwidthBound() -> (typical: Double, best: Double) {
            let copy = probe.copyBound(threads: cores, streaming: streaming, repeats: 5)
            return (copy.typical * 1e9 / 16 / 1e6, copy.best * 1e9 / 16 / 1e6)
        }
        var copies = [bandwidthBound()], ours: [Double] = [], theirs: [Double] = [], tunedC: [Double] = []
        var tiles: [Int] = [], bands: [Bool] = []
        let temporalBlocking = scheme.keys["temporal_blocking"] != nil
        for _ in 0..<rounds {
            let run = try runHeat(n: n, ranks: ranks, threads: threads, scheme: scheme.keys)
            ours.append(run.mlups)
            if temporalBlocking { tiles.append(run.tileColumns) } else { bands.append(run.rowBands) }
            if let reference, let c = try? runReference(reference, n: n, threads: cores, mode: streaming ? "stream" : nil) {
                theirs.append(c)
            }
            if tuned, let reference, let c = try? runReference(reference, n: n, threads: cores, mode: "tuned") { tunedC.append(c) }
            copies.append(bandwidthBound())
        }
        let bounds = (0..<rounds).map { (copies[$0].typical + copies[$0 + 1].typical) / 2 }
        let bestBounds = (0..<rounds).map { max(copies[$0].best, copies[$0 + 1].best) }
        let complete = theirs.count == rounds, tunedComplete = tunedC.count == rounds
        return KernelResult(grid: n, scheme: scheme.name, ranks: ranks, threads: threads, mlups: Sample(ours).median,
                            bound: Sample(bounds).median, fractionOfBound: Sample(zip(ours, bounds).map(/)).median,
                            bestBound: Sample(bestBounds).median,
                            fractionOfBestBound: Sample(zip(ours, bestBounds).map(/)).median,
                            boundAtStart: bound(cores: cores, streaming: streaming),
                            cReference: complete ? Sample(theirs).median : nil,
                            ratioToC: complete ? Sample(zip(ours, theirs).map(/)).median : nil,
                            tunedC: tunedComplete ? Sample(tunedC).median : nil,
                            tunedFractionOfBound: tunedComplete ? Sample(zip(tunedC, bounds).map(/)).median : nil,
                            ratioToTunedC: tunedComplete ? Sample(zip(ours, tunedC).map(/)).median : nil,
                            tileColumns: tiles, rowBands: bands, rounds: (ours, copies.map(\.typical), copies.map(\.best), theirs, tunedC))
    }

    /// Steps for about half a second of stepping at ~1 GLUP/s (a multiple of 16).
    private func steps(for n: Int) -> Int {
        let target = (options.quick ? 3e8 : 6e8) / Double(n * n)
        return max(16, min(4000, Int(target) / 16 * 16))
    }

    /// Runs miniapp with `arguments` on `ranks` x `threads` through this build's launcher: bound to
    /// cores where they fit, else oversubscribed; with `hosts`, a rank on each in turn.
    @discardableResult
    private func launch(ranks: Int, threads: Int, hosts: [LaunchRequest.Host] = [], _ arguments: [String]) throws -> String {
        var request = LaunchRequest(program: options.executable, arguments: arguments, ranks: ranks)
        request.threads = threads
        request.hosts = hosts
        request.roundRobin = !hosts.isEmpty
        let launcher: Launcher
        do {
            launcher = try Launcher.forThisBuild(environment: ProcessInfo.processInfo.environment, withHosts: !hosts.isEmpty)
        } catch {
            throw MiniappFailure(.unavailable, "\(error)")
        }
        let command = launcher.command(for: request, cores: cores, asRoot: getuid() == 0)
        return try execute(command.executable, command.arguments, environment: command.environment)
    }

    /// A heat run: its stepping MLUP/s, the column tiles it chose (0: whole
    /// rows or no temporal blocking) and whether it swept in bands of rows.
    private func runHeat(n: Int, ranks: Int, threads: Int, scheme: [String: JSONNode])
        throws -> (mlups: Double, tileColumns: Int, rowBands: Bool) {
        let input = JSONNode.object([
            ("problem", .string("heat")), ("grid", .object([("nx", .int(n)), ("ny", .int(n))])),
            ("time", .object([("steps", .int(steps(for: n)))])),
            ("output", .object([("path", .string("\(work)/heat.h5")), ("fields", .bool(false)), ("diagnostics_every", .int(0))])),
            ("scheme", .object(scheme.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })),
        ])
        let inputPath = "\(work)/heat.json", jsonPath = "\(work)/heat-summary.json"
        try input.serialized().write(toFile: inputPath, atomically: true, encoding: .utf8)
        try launch(ranks: ranks, threads: threads, [
            "--threads", "\(threads)", "--quiet", "--force", "--profile", "1", "--json", jsonPath, inputPath])
        let summary = try JSONParser.parse(try String(contentsOfFile: jsonPath, encoding: .utf8))
        guard case .number(let text)? = summary["metrics"]?["mlups_stepping"]?.value, let value = Double(text) else {
            throw MiniappFailure(.software, "no MLUP/s in \(jsonPath)")
        }
        func metric(_ name: String) -> Int {
            guard case .number(let text)? = summary["metrics"]?[name]?.value else { return 0 }
            return Int(Double(text) ?? 0)
        }
        return (value, metric("tile_columns"), metric("row_bands") == 1)
    }

    // MARK: The C reference

    /// The C stencil and the C copy, compiled once (nil: gcc or the source missing).
    private lazy var references: (stencil: String?, copy: String?) = {
        guard let stencil = options.cReference else { return (nil, nil) }
        let copy = URL(fileURLWithPath: stencil).deletingLastPathComponent().appendingPathComponent("copy_reference.c").path
        return (compile(stencil, to: "stencil_reference"), compile(copy, to: "copy_reference"))
    }()

    private func compile(_ source: String, to name: String) -> String? {
        guard FileManager.default.fileExists(atPath: source) else { return nil }
        let binary = "\(work)/\(name)"
        do {
            try execute("gcc", ["-O3", "-march=native", "-fopenmp", source, "-o", binary, "-lm"])
        } catch {
            return nil
        }
        return binary
    }

    /// - Parameter mode: nil (ordinary stores), "stream" or "tuned" (see the C source).
    private func runReference(_ binary: String, n: Int, threads: Int, mode: String?) throws -> Double {
        let output = try execute(binary, ["\(n)", "\(steps(for: n))", "\(threads)"] + (mode.map { [$0] } ?? []),
                                 environment: ["OMP_PROC_BIND": "close", "OMP_PLACES": "cores"])
        let result = try JSONParser.parse(output.split(separator: "\n").last.map(String.init) ?? output)
        guard case .number(let text)? = result["mlups_mean"]?.value, let value = Double(text) else {
            throw MiniappFailure(.software, "unexpected output of the C reference: \(output)")
        }
        return value
    }

    // MARK: Thread pool and timers

    private func pool() {
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

    private func exactSums() {
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

    // MARK: MPI

    private func mpi() throws {
        let jsonPath = "\(work)/mpi.json"
        try launch(ranks: 2, threads: 1, ["bench-part", "mpi", "--json", jsonPath, "--scratch", work])
        let result = try JSONParser.parse(try String(contentsOfFile: jsonPath, encoding: .utf8))
        say()
        say("4. Halo exchange between 2 ranks (both send and receive), median")
        describeExchange(result, where: "on one node MPI copies through shared memory with the CPU, inside MPI_Test")
        var rows: [JSONNode] = []
        if let a = result["allreduce_us"] {
            say()
            say("5. MPI_Allreduce, median:")
            say("   2 ranks: " + describeAllreduce(a))
            rows.append(.object([("ranks", .int(2)), ("hosts", .int(1)), ("allreduce_us", a)]))
        }
        // More ranks on this node, as many as it has cores for.
        for ranks in Self.reductionRankCounts(cores: cores) where ranks > 2 {
            let row = try allreduce(ranks: ranks)
            if let a = row["allreduce_us"] { say("   \(ranks) ranks: " + describeAllreduce(a)) }
            rows.append(row)
        }
        document.append(("allreduce", .array(rows)))
        if let h = result["hdf5_write"] {
            say()
            say("6. Writing \(Format.bytes(Int(number(h["bytes"])))): parallel HDF5, collective, 2 ranks "
                + "\(Format.fixed(number(h["parallel_hdf5_gb_per_s"]), 2)) GB/s; plain sequential write(2) "
                + "\(Format.fixed(number(h["plain_write_gb_per_s"]), 2)) GB/s (both into the page cache)")
        }
        document.append(("mpi", result))
    }

    /// Section 7: the MPI figures between ranks on two hosts of a hostfile,
    /// where messages cross the network (the performance model's network terms).
    private func network(hostfile: String) throws {
        // The first two hosts only: mpirun starts a daemon on every host it
        // is given, and waits for ever for one that does not answer.
        let listed = LaunchRequest.Host.parse(hostfile: try String(contentsOfFile: hostfile, encoding: .utf8))
        guard listed.count >= 2 else {
            throw MiniappFailure(.usage, "the hostfile '\(hostfile)' names \(listed.count) host(s); the network "
                                 + "benchmark needs two")
        }
        let jsonPath = "\(work)/network.json"
        try launch(ranks: 2, threads: 1, hosts: listed.prefix(2).map { LaunchRequest.Host(name: $0.name, slots: 1) },
                   ["bench-part", "mpi", "--network", "--json", jsonPath, "--scratch", work])
        let result = try JSONParser.parse(try String(contentsOfFile: jsonPath, encoding: .utf8))
        var hosts: [String] = []
        if case .array(let names)? = result["hosts"]?.value {
            hosts = names.compactMap { if case .string(let s) = $0.value { s } else { nil } }
        }
        say()
        say("7. Between two hosts (\(hosts.joined(separator: " and "))), one rank on each: halo exchange, median")
        describeExchange(result, where: "across hosts the kernel's TCP moves the bytes while the core computes")
        if let a = result["allreduce_us"] { say("   MPI_Allreduce: " + describeAllreduce(a)) }
        var network = result
        if listed.count > 2 {
            let hosts = listed.prefix(16).map { LaunchRequest.Host(name: $0.name, slots: 1) }
            let row = try allreduce(ranks: hosts.count, hosts: hosts)
            if let a = row["allreduce_us"] { say("   MPI_Allreduce, one rank on each of \(hosts.count) hosts: " + describeAllreduce(a)) }
            network = network.adding("allreduce_hosts", row)
        }
        if let figures = Self.latencyAndBandwidth(result) {
            say("   for the performance model: latency \(Format.fixed(figures.latency * 1e6, 1)) us, bandwidth "
                + "\(Format.fixed(figures.bandwidth / 1e9, 2)) GB/s (tools/miniapp-report reads them from this file)")
        }
        document.append(("mpi_network", network))
    }

    /// Latency (small messages) and bandwidth (large ones) of a halo exchange
    /// table, as the performance model reads them.
    static func latencyAndBandwidth(_ result: JSONNode) -> (latency: Double, bandwidth: Double)? {
        guard case .array(let rows)? = result["halo_exchange"]?.value else { return nil }
        func value(_ node: JSONNode?) -> Double {
            if case .number(let text)? = node?.value { return Double(text) ?? .nan }
            return .nan
        }
        let small = rows.filter { value($0["bytes"]) <= 256 }.map { value($0["microseconds"]) * 1e-6 }
        guard !small.isEmpty else { return nil }
        let latency = Sample(small).median
        let large = rows.filter { value($0["bytes"]) >= 256 * 1024 && value($0["microseconds"]) * 1e-6 > latency }
            .map { value($0["bytes"]) / (value($0["microseconds"]) * 1e-6 - latency) }
        guard !large.isEmpty else { return nil }
        return (latency, Sample(large).median)
    }

    /// The halo exchange table and the overlap figures of a bench-part mpi result.
    private func describeExchange(_ result: JSONNode, where note: String) {
        if case .array(let rows)? = result["halo_exchange"]?.value {
            for row in rows {
                let bytes = number(row["bytes"]), us = number(row["microseconds"]), gbs = number(row["gigabytes_per_second"])
                if Int(bytes).nonzeroBitCount == 1 && (Int(bytes).trailingZeroBitCount % 3 == 0 || bytes == 8) {
                    say("   " + Format.padLeft(Format.bytes(Int(bytes)), 10) + Format.padLeft(Format.fixed(us, 1) + " us", 12)
                        + Format.padLeft(Format.fixed(gbs, 2) + " GB/s", 13))
                }
            }
        }
        guard let o = result["overlap"] else { return }
        let ms = { (key: String) in Format.fixed(self.number(o[key]), 2) + " ms" }
        let percent = { (key: String) in Format.fixed(100 * self.number(o[key]), 0) + "%" }
        say("   overlap: exchanging \(Format.bytes(Int(number(o["message_bytes"])))) each way takes \(ms("exchange_ms")) "
            + "alone, the interior \(ms("compute_ms")); in turn in one run:")
        say("     blocking (exchange, then interior) \(ms("blocking_ms")); overlapped, calling MPI between chunks of the "
            + "interior, \(ms("overlapped_ms")) (\(Format.fixed(number(o["wait_after_interior_ms"]), 3)) ms left to wait: "
            + "\(percent("hidden_fraction")) of the exchange hidden, \(percent("time_saved_fraction")) of it saved)")
        say("     overlapped without those calls \(ms("unpolled_ms")) (\(percent("unpolled_hidden_fraction")) hidden, "
            + "\(percent("unpolled_time_saved_fraction")) saved); \(note)")
        if let s = result["overlap_small"] {
            let us = { (key: String) in Format.fixed(1000 * self.number(s[key]), 1) + " us" }
            say("   a small exchange (\(Format.bytes(Int(number(s["message_bytes"])))) each way, \(us("exchange_ms")) alone) "
                + "under a \(us("compute_ms")) interior: blocking \(us("blocking_ms")), overlapped \(us("overlapped_ms"))")
        }
    }

    /// 2, 4, 8, ... ranks up to the cores, and the cores.
    static func reductionRankCounts(cores: Int) -> [Int] {
        var counts: [Int] = []
        var n = 2
        while n < cores { counts.append(n); n *= 2 }
        return counts + [max(2, cores)]
    }

    /// `bench-part allreduce` on `ranks` ranks (one per host where hosts are given).
    private func allreduce(ranks: Int, hosts: [LaunchRequest.Host] = []) throws -> JSONNode {
        let jsonPath = "\(work)/allreduce-\(ranks)-\(hosts.count).json"
        try launch(ranks: ranks, threads: 1, hosts: hosts, ["bench-part", "allreduce", "--json", jsonPath])
        return try JSONParser.parse(try String(contentsOfFile: jsonPath, encoding: .utf8))
    }

    private func describeAllreduce(_ a: JSONNode) -> String {
        let double = number(a["one_double"])
        func cell(_ key: String) -> String {
            "\(Format.fixed(number(a[key]), 2)) us (\(Format.fixed(number(a[key]) / double, 2))x)"
        }
        return "1 double \(Format.fixed(double, 2)) us; exact: one sum \(cell("one_exact_sum")), one of terms from 1 to "
            + "2^-1000 \(cell("one_wide_exact_sum")), a diagnostic (3 sums, 4 maxima) \(cell("diagnostic")); "
            + "\(ExactSum.wordCount) Int64 with MPI_SUM \(cell("int64_sum_71"))"
    }

    private func number(_ node: JSONNode?) -> Double {
        if case .number(let text)? = node?.value { return Double(text) ?? .nan }
        return .nan
    }

    // MARK: Results

    private func writeResults() throws {
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
    private func execute(_ program: String, _ arguments: [String], environment: [String: String] = [:]) throws -> String {
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
