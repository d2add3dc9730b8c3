import Foundation
import Kernels
import MPI
import ThreadPool

/// The start-up tuning of the `auto` scheme keys: the column tiles of the
/// wavefront, the kind of stores and rows in bands, and the single sweep
/// against temporal blocking, each timed on the rank's own block, the
/// slowest rank's time deciding for all ranks alike.
extension HeatSimulation {
    /// The column tiles of the wavefront for a block `nx` wide: the width of
    /// the widest (0: whole rows), and whether to time them against whole rows. With
    /// `auto`, tiles are tried where one thread's wavefront rows across the
    /// whole block take more than half a core's L2 cache: as wide as fits
    /// there. Where L3 is slow, tiles win; where it is fast, whole rows may
    /// (docs/performance.md, "Kernel measurements").
    static func tilePlan(_ scheme: HeatConfiguration.Scheme, nx: Int) -> (width: Int, timed: Bool) {
        guard scheme.temporalBlocking else { return (0, false) }
        let m = scheme.haloDepth
        switch scheme.tileColumns {
        case .off: return (0, false)
        case .width(let n): return (n < nx ? widestTile(nx: nx, width: n) : 0, false)
        case .auto:
            let budget = Machine.levelTwoCacheBytes / 2
            guard budget > 0, WavefrontBuffers.bytes(nx: nx, halo: Self.haloPoints(steps: m), maxSteps: m) > budget else { return (0, false) }
            let width = WavefrontBuffers.widestTile(fittingIn: budget, halo: Self.haloPoints(steps: m), maxSteps: m)
            return width >= 64 && width < nx ? (widestTile(nx: nx, width: width), true) : (0, false)
        }
    }

    /// Bytes of one thread's wavefront buffers for a block `nx` wide (both
    /// kinds where tiles are timed against whole rows).
    static func wavefrontBytes(_ scheme: HeatConfiguration.Scheme, nx: Int) -> Int {
        if scheme.automatic { return wavefrontBytes(scheme.blockingCandidate, nx: nx) }
        guard scheme.temporalBlocking else { return 0 }
        let plan = tilePlan(scheme, nx: nx), m = scheme.haloDepth
        let tiled = WavefrontBuffers.bytes(nx: plan.width > 0 ? plan.width : nx, halo: Self.haloPoints(steps: m), maxSteps: m)
        return tiled + (plan.timed ? WavefrontBuffers.bytes(nx: nx, halo: Self.haloPoints(steps: m), maxSteps: m) : 0)
    }

    private static func widestTile(nx: Int, width: Int) -> Int {
        columnTiles(nx: nx, width: width).map(\.count).max() ?? nx
    }

    /// One thread's wavefront buffers each, allocated (first touched) by that thread.
    func makeWavefrontBuffers(tileWidth: Int, depth: Int? = nil) -> [WavefrontBuffers] {
        let slots = UnsafeMutablePointer<WavefrontBuffers?>.allocate(capacity: context.threads)
        slots.initialize(repeating: nil, count: context.threads)
        let columns = tileWidth > 0 ? tileWidth : model.block.nx
        let (depth, value) = (depth ?? stepsPerExchange, model.configuration.boundaryValue)
        context.pool.run { t in
            slots[t] = WavefrontBuffers(nx: columns, halo: Self.haloPoints(steps: depth), maxSteps: depth, boundaryValue: value)
        }
        let buffers = (0..<context.threads).map { slots[$0]! }
        slots.deinitialize(count: context.threads)
        slots.deallocate()
        return buffers
    }

    /// Bytes of field memory on this rank.
    var fieldBytes: Int { 2 * u.stride * u.rows * MemoryLayout<Double>.stride }

    /// A way to sweep: the kind of stores, and rows in bands or one at a time.
    struct SweepChoice: Equatable {
        let streaming: Bool
        let bands: Bool
    }

    /// For `streaming_stores` or `row_bands` `auto` on large fields: times
    /// sweeps each way still open (alternately, best of six each) and
    /// keeps the fastest, the same on every rank (collective; after
    /// `initialize`, before the state is set: it writes v only). Some
    /// machines save a third of the memory traffic with streaming stores,
    /// others lose by them; on some a core streams four rows at a time
    /// faster than one, on others slower. Each timed sweep covers a slab of
    /// its own (`timingSlab`), so that all of them together read the block
    /// from memory once, as one step does, instead of once each (whole sweeps,
    /// best of three: ~0.4 s at 8192^2 on one core). Returns the seconds per
    /// sweep of the whole block each way, scaled from the slabs.
    func chooseSweep() throws -> [(choice: SweepChoice, seconds: Double)]? {
        guard storesToBeTimed || bandsToBeTimed else { return nil }
        timer.start(Phase.setup.rawValue)
        let nx = model.block.nx
        let source = UnsafePointer(u.origin), target = v.origin, stride = u.stride
        let (rx, ry) = (model.rx, model.ry)
        let prefetches = prefetch
        let choices = (storesToBeTimed ? [false, true] : [streaming]).flatMap { streams in
            (bandsToBeTimed ? [true, false] : [rowBands]).map { SweepChoice(streaming: streams, bands: $0) }
        }
        let rounds = 6, slabs = rounds * choices.count
        var best = [Double](repeating: .infinity, count: choices.count)
        for round in 0..<rounds {
            for (k, choice) in choices.enumerated() {
                let slab = round * choices.count + k
                let began = wallSeconds()
                context.pool.run { t in
                    let rows = Self.timingSlab(slab, of: slabs, rows: threadRows.range(of: t))
                    heatStencilSweep(from: source, to: target, stride: stride, rows: rows.slab, columns: 0..<nx,
                                     rx: rx, ry: ry, streaming: choice.streaming, prefetch: prefetches,
                                     bands: choice.bands)
                }
                let rowsTimed = Self.timingSlab(slab, of: slabs, rows: threadRows.range(of: 0))
                best[k] = min(best[k], (wallSeconds() - began) * rowsTimed.scale)
            }
        }
        // Summed over ranks: the choice that saves the most time in all.
        var totals = best
        try communicator.allreduce(&totals, op: .sum)
        let fastest = choices[totals.indices.min { totals[$0] < totals[$1] }!]
        streaming = fastest.streaming
        rowBands = fastest.bands
        return zip(choices, totals).map { ($0, $1 / Double(communicator.size)) }
    }

    /// Slab `index` of `count` equal slabs of `rows`, and the factor from its
    /// time to the time of all of `rows`. A thread with too few rows for
    /// slabs of 16 (a band's steady state, a few prefetch distances) sweeps
    /// all of them each time.
    static func timingSlab(_ index: Int, of count: Int, rows: Range<Int>) -> (slab: Range<Int>, scale: Double) {
        guard rows.count >= 16 * count else { return (rows, 1) }
        let low = rows.lowerBound + index * rows.count / count, high = rows.lowerBound + (index + 1) * rows.count / count
        return (low ..< high, Double(rows.count) / Double(high - low))
    }

    /// For `tile_columns: auto` where tiles are tried: times the wavefront
    /// with the tiles and with whole rows (alternately, best of three each)
    /// on a slab of each thread's rows and keeps the faster, the same on every
    /// rank (collective; like `chooseSweep`, it writes v only). Whether tiles
    /// pay depends on the machine's L3 cache. Returns the seconds per pass
    /// over the slabs each way.
    func chooseTiles() throws -> (whole: Double, tiled: Double)? {
        guard !automaticScheme, let tiled = tilesToBeTimed else { return nil }
        timer.start(Phase.setup.rawValue)
        let m = stepsPerExchange
        let candidates = [(width: 0, buffers: makeWavefrontBuffers(tileWidth: 0)), (width: tiled, buffers: wavefrontBuffers)]
        let geometry = wavefrontGeometry
        let source = UnsafePointer(u.origin), target = v.origin, streams = streaming, prefetches = prefetch
        // Enough rows for the wavefront's steady state (it fills m levels first).
        let slabRows = max(64, 16 * m)
        var best = [Double.infinity, .infinity]
        for _ in 0..<3 {
            for (k, candidate) in candidates.enumerated() {
                let began = wallSeconds()
                context.pool.run { t in
                    let rows = threadRows.range(of: t)
                    heatWavefront(geometry, from: source, to: target,
                                  ownedRows: rows.lowerBound ..< min(rows.upperBound, rows.lowerBound + slabRows), steps: m,
                                  buffers: candidate.buffers[t], streaming: streams, prefetch: prefetches,
                                  tileColumns: candidate.width)
                }
                best[k] = min(best[k], wallSeconds() - began)
            }
        }
        var totals = best
        try communicator.allreduce(&totals, op: .sum)
        (tileColumns, wavefrontBuffers) = candidates[totals[1] < totals[0] ? 1 : 0]
        return (totals[0] / Double(communicator.size), totals[1] / Double(communicator.size))
    }

    /// The single sweep and temporal blocking as `chooseScheme` timed them:
    /// seconds per step of the whole block, averaged over the ranks.
    struct SchemeTimes {
        let singleSweep: Double
        let blocking: Double
    }

    /// For an automatic scheme: times temporal blocking `automaticDepth`
    /// steps deep (with whole rows, and with column tiles where they are
    /// tried) against the single sweep on the rank's own block, and keeps the
    /// fastest, the same on every rank (collective; after `chooseSweep`,
    /// before the state is set: it writes v only). Blocking is tried only
    /// where it can pay on every rank: fields that stream from memory, blocks
    /// and runs of steps between diagnostics, snapshots and checkpoints at
    /// least that deep. Elsewhere the single sweep is kept, untimed.
    /// Like `chooseSweep`, each timed pass covers a slab of its own, so that
    /// every one reads from memory.
    func chooseScheme(stepsBetweenEvents: Int) throws -> SchemeTimes? {
        guard automaticScheme else { return nil }
        let k = HeatConfiguration.Scheme.automaticDepth
        let (nx, ny) = (model.block.nx, model.block.ny)
        var eligible: Int64 = fieldsFromMemory && min(nx, ny) >= 2 * k && stepsBetweenEvents >= k ? 1 : 0
        eligible = try communicator.allreduce(eligible, op: .min)
        guard eligible == 1 else { return nil }
        timer.start(Phase.setup.rawValue)

        let candidates = [0] + (tilesToBeTimed.map { [$0] } ?? [])
        let buffers = candidates.map { makeWavefrontBuffers(tileWidth: $0, depth: k) }
        let geometry = wavefrontGeometry
        let source = UnsafePointer(u.origin), target = v.origin, stride = u.stride
        let (rx, ry) = (model.rx, model.ry)
        let (streams, prefetches, bands) = (streaming, prefetch, rowBands)
        let rounds = 3, ways = 1 + candidates.count, slabs = rounds * ways
        var best = [Double](repeating: .infinity, count: ways)
        for round in 0..<rounds {
            for way in 0..<ways {
                let slab = round * ways + way
                let began = wallSeconds()
                context.pool.run { t in
                    let rows = Self.timingSlab(slab, of: slabs, rows: threadRows.range(of: t)).slab
                    if way == 0 {
                        heatStencilSweep(from: source, to: target, stride: stride, rows: rows, columns: 0..<nx,
                                         rx: rx, ry: ry, streaming: streams, prefetch: prefetches, bands: bands)
                    } else {
                        heatWavefront(geometry, from: source, to: target, ownedRows: rows, steps: k,
                                      buffers: buffers[way - 1][t], streaming: streams, prefetch: prefetches,
                                      tileColumns: candidates[way - 1])
                    }
                }
                let scale = Self.timingSlab(slab, of: slabs, rows: threadRows.range(of: 0)).scale
                best[way] = min(best[way], (wallSeconds() - began) * scale / Double(way == 0 ? 1 : k))
            }
        }
        var totals = best
        try communicator.allreduce(&totals, op: .sum)
        let fastest = totals.indices.min { totals[$0] < totals[$1] }!
        if fastest > 0 {
            stepsPerExchange = k
            temporalBlocking = true
            halo = try HaloExchange(topology: topology, nx: nx, ny: ny, stride: u.stride, depth: k, corners: true)
            tileColumns = candidates[fastest - 1]
            wavefrontBuffers = buffers[fastest - 1]
        }
        let size = Double(communicator.size)
        return SchemeTimes(singleSweep: totals[0] / size, blocking: totals[1...].min()! / size)
    }
}
