import Foundation
import Launch
import MiniappCore

/// The bench's heat-kernel section: miniapp's stepping rate for each grid,
/// scheme and ranks x threads layout, against the copy bound of the same
/// round and a plain C loop (the C reference, compiled here).
extension Suite {
    // MARK: The heat kernel

    func configurations() -> [(Int, Int)] {
        var list = [(1, 1), (1, 2), (2, 1)]
        if cores > 2 { list += [(1, cores), (cores, 1)] }
        return list.filter { $0.0 * $0.1 <= max(2, cores) }
    }

    /// The ranks x threads a scheme's rows measure. `--quick` on a node of
    /// more than 2 cores samples them: one core and the whole node (as
    /// threads and as ranks) for the plain sweeps the performance model
    /// reads, the whole node only for the other schemes.
    func configurations(forScheme name: String) -> [(Int, Int)] {
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
    func gridLabel(_ n: Int) -> String {
        let bytes = 2 * 8 * n * n
        return "\(n)^2, \(Format.bytes(bytes))" + (cache > 0 ? " = \(Format.fixed(Double(bytes) / Double(cache), 1))x LLC" : "")
    }

    func kernelSweep(_ probe: BandwidthProbe) throws -> [KernelResult] {
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
    var rounds: Int { options.quick ? 3 : 5 }

    /// One row of section 2, measured in rounds (see `KernelResult`).
    func kernelRow(_ probe: BandwidthProbe, grid n: Int, scheme: (name: String, keys: [String: JSONNode]), ranks: Int,
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
    func steps(for n: Int) -> Int {
        let target = (options.quick ? 3e8 : 6e8) / Double(n * n)
        return max(16, min(4000, Int(target) / 16 * 16))
    }

    /// Runs miniapp with `arguments` on `ranks` x `threads` through this build's launcher: bound to
    /// cores where they fit, else oversubscribed; with `hosts`, a rank on each in turn.
    @discardableResult
    func launch(ranks: Int, threads: Int, hosts: [LaunchRequest.Host] = [], _ arguments: [String]) throws -> String {
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
    func runHeat(n: Int, ranks: Int, threads: Int, scheme: [String: JSONNode])
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

    func compile(_ source: String, to name: String) -> String? {
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
    func runReference(_ binary: String, n: Int, threads: Int, mode: String?) throws -> Double {
        let output = try execute(binary, ["\(n)", "\(steps(for: n))", "\(threads)"] + (mode.map { [$0] } ?? []),
                                 environment: ["OMP_PROC_BIND": "close", "OMP_PLACES": "cores"])
        let result = try JSONParser.parse(output.split(separator: "\n").last.map(String.init) ?? output)
        guard case .number(let text)? = result["mlups_mean"]?.value, let value = Double(text) else {
            throw MiniappFailure(.software, "unexpected output of the C reference: \(output)")
        }
        return value
    }
}
