import Foundation
import Kernels
import MPI
import ThreadPool

/// The explicit heat solver on one rank: two fields, the halo exchange, and
/// the time loop with reductions and snapshots.
///
/// A step: post the halo messages (receives, then sends); update the points
/// that do not need halo data while the messages travel, the main thread
/// driving MPI progress between chunks of its rows; wait; update the strips
/// along the sides that receive halo data; swap the fields. Threads own
/// static row blocks of the rank's block for every loop, initialisation
/// included (first touch).
final class HeatSimulation {
    enum Phase: Int, CaseIterable {
        case setup, haloPost, interior, haloWait, boundary, reduction, io, checkpoint, total
        var name: String {
            ["setup", "halo_post", "interior", "halo_wait", "boundary", "reduction", "io", "checkpoint", "total"][rawValue]
        }
    }

    let model: HeatModel
    let context: RunContext
    /// The communicator of the process grid (files are written on it).
    let communicator: Communicator
    var u: Field
    var v: Field
    var halo: HaloExchange
    let exactReduction: ExactReduction
    let topology: CartesianTopology
    /// Steps per halo exchange (the depth of the halo exchanged).
    var stepsPerExchange: Int
    var temporalBlocking: Bool
    /// With an automatic scheme (`chooseScheme`): the fields are
    /// `automaticDepth` deep for either choice, and may stream from memory.
    let automaticScheme: Bool
    let fieldsFromMemory: Bool
    /// Whether the stencil writes its output with streaming stores.
    var streaming: Bool
    /// Whether the sweeps prefetch the rows they stream from and to memory:
    /// when this host's ranks' fields exceed the last-level cache (below,
    /// the prefetches cost ~7% on this kind of machine).
    let prefetch: Bool
    /// Whether the sweeps go up the rows in bands of four (`heatStencilSweep`).
    var rowBands: Bool
    /// With `streaming_stores` or `row_bands` `auto` on fields larger than
    /// the cache: whether to time both ways at start-up (`chooseSweep`).
    let storesToBeTimed: Bool
    let bandsToBeTimed: Bool
    /// Temporal blocking: the width of the wavefront's column tiles (0:
    /// whole rows), and, with `tile_columns: auto`, the tiles to be timed
    /// against whole rows (`chooseTiles`).
    var tileColumns: Int
    let tilesToBeTimed: Int?
    var wavefrontBuffers: [WavefrontBuffers] = []
    /// Called after each diagnostics step with the step and the seconds since the time loop began.
    var progress: (Int, Double) -> Void = { _, _ in }
    var loopBegan = 0.0
    var timer = PhaseTimer(phases: Phase.allCases.map(\.name))
    /// Seconds each thread spent computing (kernels and reductions).
    let threadSeconds: PerThread<Double>
    private let partials: PerThread<FieldStatistics>
    private(set) var diagnostics = HeatDiagnostics()

    /// The interior/boundary split of a step, and the threads' row blocks.
    private let sweep: OverlappedSweep
    var threadRows: BlockPartition { sweep.threadRows }

    // Reference profiles, kept at fixed addresses for the kernels.
    private let referenceX: UnsafeMutableBufferPointer<Double>
    private let referenceY: UnsafeMutableBufferPointer<Double>

    init(model: HeatModel, context: RunContext, topology: CartesianTopology) throws {
        self.model = model
        self.context = context
        exactReduction = try ExactReduction(context.world)
        self.topology = topology
        communicator = topology.communicator
        let (nx, ny) = (model.block.nx, model.block.ny)
        let scheme = model.configuration.scheme
        let depth = scheme.haloDepth
        stepsPerExchange = depth
        temporalBlocking = scheme.temporalBlocking
        automaticScheme = scheme.automatic
        let fieldHalo = Self.fieldHalo(scheme)
        u = try Field(nx: nx, ny: ny, halo: fieldHalo)
        v = try Field(nx: nx, ny: ny, halo: fieldHalo)
        let deep = depth > 1 || scheme.temporalBlocking
        // A deep halo is used by stencils applied several times: corners too.
        halo = try HaloExchange(topology: topology, nx: nx, ny: ny, stride: u.stride, depth: Self.haloPoints(steps: depth),
                                corners: deep)
        sweep = OverlappedSweep(nx: nx, ny: ny, receivingSides: halo.receivingSides, threads: context.threads,
                                reach: heatStencilReach)
        let cache = Machine.lastLevelCacheBytes
        let hostFieldBytes = context.ranksOnMachine * 2 * Field.bytes(nx: nx, ny: ny, halo: fieldHalo)
        // Fields that cannot stay in cache between sweeps: a sweep slows down
        // sharply beyond about half the last-level cache (docs/performance.md).
        let fromMemory = cache > 0 && hostFieldBytes > cache / 2
        fieldsFromMemory = fromMemory
        switch scheme.softwarePrefetch {
        case .on: prefetch = true
        case .off: prefetch = false
        case .auto: prefetch = fromMemory
        }
        switch scheme.streamingStores {
        case .on: streaming = true; storesToBeTimed = false
        case .off: streaming = false; storesToBeTimed = false
        case .auto:
            // Streaming stores can pay off only when the output will be evicted
            // anyway. Whether they do depends on the machine: timed later.
            streaming = fromMemory
            storesToBeTimed = fromMemory
        }
        switch scheme.rowBands {
        case .on: rowBands = true; bandsToBeTimed = false
        case .off: rowBands = false; bandsToBeTimed = false
        case .auto:
            // In cache, bands save loads; from memory, whether four rows at a
            // time stream faster depends on the machine: timed later.
            rowBands = true
            bandsToBeTimed = fromMemory
        }
        let tiles = HeatSimulation.tilePlan(scheme.automatic ? scheme.blockingCandidate : scheme, nx: nx)
        tileColumns = tiles.width
        tilesToBeTimed = tiles.timed ? tiles.width : nil
        threadSeconds = PerThread(count: context.threads, initial: 0)
        partials = PerThread(count: context.threads, initial: FieldStatistics())

        referenceX = .allocate(capacity: max(1, nx))
        referenceY = .allocate(capacity: max(1, ny))
        if let reference = model.reference {
            _ = referenceX.initialize(from: reference.profileX)
            _ = referenceY.initialize(from: reference.profileY)
        }
    }

    deinit {
        referenceX.deallocate()
        referenceY.deallocate()
    }

    // MARK: Initialisation

    /// Sets the initial condition. Each thread writes the rows it will later
    /// compute, in both fields; halos start at the boundary value (Dirichlet
    /// sides keep it; exchanged sides are overwritten every step). Each thread
    /// also allocates (and so first-touches) its own wavefront rows.
    func initialize() {
        if temporalBlocking { wavefrontBuffers = makeWavefrontBuffers(tileWidth: tileColumns) }
        let (nx, ny) = (model.block.nx, model.block.ny)
        let lastOwner = ny > 0 ? threadRows.part(containing: ny - 1) : 0
        let boundary = model.configuration.boundaryValue
        let scale = model.initialScale
        let fields = [u, v]
        model.initialProfileX.withUnsafeBufferPointer { px in
            model.initialProfileY.withUnsafeBufferPointer { py in
                context.pool.run { t in
                    var rows = threadRows.range(of: t)
                    if t == 0 { rows = (rows.lowerBound - u.halo) ..< rows.upperBound }
                    if t == lastOwner { rows = rows.lowerBound ..< (rows.upperBound + u.halo) }
                    for field in fields {
                        for j in rows {
                            let stored = field.storedRow(j)
                            stored.update(repeating: boundary, count: field.stride)
                            guard j >= 0 && j < ny else { continue }
                            let row = field.origin + j * field.stride
                            let rowScale = scale * py[j]
                            for i in 0..<nx { row[i] = rowScale * px[i] }
                        }
                    }
                }
            }
        }
    }

    // MARK: Time stepping

    /// Advances `steps` time steps (at most `stepsPerExchange`).
    func advance(steps m: Int) throws {
        if stepsPerExchange == 1 && !temporalBlocking {
            for _ in 0..<m { try step() }
        } else if temporalBlocking {
            try wavefrontBlock(steps: m)
        } else {
            try communicationAvoidingBlock(steps: m)
        }
    }

    /// One FTCS step, u -> v, with the halo exchange of u overlapped; then swap.
    func step() throws {
        let source = UnsafePointer(u.origin), target = v.origin, stride = u.stride
        let (rx, ry) = (model.rx, model.ry)
        let phases = OverlappedSweep.Phases(post: Phase.haloPost.rawValue, interior: Phase.interior.rawValue,
                                            wait: Phase.haloWait.rawValue, boundary: Phase.boundary.rawValue)
        let streams = streaming, prefetches = prefetch, bands = rowBands
        try sweep.run(pool: context.pool, exchange: halo, fields: [u.origin], timer: &timer, phases: phases,
                      threadSeconds: threadSeconds) { _, rows, columns in
            heatStencilSweep(from: source, to: target, stride: stride, rows: rows, columns: columns, rx: rx, ry: ry,
                             streaming: streams, prefetch: prefetches, bands: bands)
        }
        swap(&u, &v)
    }

    /// The deep halo (`stepsPerExchange` points) of u, exchanged and waited for.
    private func exchangeDeepHalo() throws {
        guard halo.messageCount > 0 else { return }
        timer.start(Phase.haloPost.rawValue)
        try halo.start([u.origin])
        timer.start(Phase.haloWait.rawValue)
        try halo.finish()
    }

    /// Communication avoiding: one exchange, then `m` sweeps, each reaching
    /// the stencil's reach less into the halo on the sides that have one
    /// (redundant work that replaces m - 1 exchanges).
    private func communicationAvoidingBlock(steps m: Int) throws {
        try exchangeDeepHalo()
        let sides = halo.receivingSides
        let (nx, ny) = (model.block.nx, model.block.ny)
        let (rx, ry) = (model.rx, model.ry)
        let lastOwner = threadRows.part(containing: max(0, ny - 1))
        let streams = streaming, prefetches = prefetch, bands = rowBands
        for step in 1...m {
            let extra = Self.haloPoints(steps: m - step)
            let rows = (sides.contains(.south) ? -extra : 0) ..< (sides.contains(.north) ? ny + extra : ny)
            let columns = (sides.contains(.west) ? -extra : 0) ..< (sides.contains(.east) ? nx + extra : nx)
            let source = UnsafePointer(u.origin), target = v.origin, stride = u.stride
            timer.start(Phase.interior.rawValue)
            context.pool.run { t in
                let began = wallSeconds()
                var mine = threadRows.range(of: t)
                if t == 0 { mine = rows.lowerBound ..< mine.upperBound }
                if t == lastOwner { mine = mine.lowerBound ..< rows.upperBound }
                heatStencilSweep(from: source, to: target, stride: stride, rows: mine.clamped(to: rows), columns: columns,
                                 rx: rx, ry: ry, streaming: streams && extra == 0, prefetch: prefetches, bands: bands)
                threadSeconds[t] += wallSeconds() - began
            }
            swap(&u, &v)
        }
    }

    /// Temporal blocking: one exchange, then `m` steps in one pass over
    /// memory per thread (see `heatWavefront`).
    private func wavefrontBlock(steps m: Int) throws {
        try exchangeDeepHalo()
        let geometry = wavefrontGeometry
        let source = UnsafePointer(u.origin), target = v.origin
        let buffers = wavefrontBuffers, streams = streaming, prefetches = prefetch, tiles = tileColumns
        timer.start(Phase.interior.rawValue)
        context.pool.run { t in
            let began = wallSeconds()
            heatWavefront(geometry, from: source, to: target, ownedRows: threadRows.range(of: t), steps: m,
                          buffers: buffers[t], streaming: streams, prefetch: prefetches, tileColumns: tiles)
            threadSeconds[t] += wallSeconds() - began
        }
        swap(&u, &v)
    }

    /// The points of halo that `steps` steps between exchanges read.
    static func haloPoints(steps: Int) -> Int { steps * heatStencilReach }

    /// The halo the fields have: enough for the scheme, or for either choice of the automatic one.
    static func fieldHalo(_ scheme: HeatConfiguration.Scheme) -> Int {
        haloPoints(steps: scheme.automatic ? HeatConfiguration.Scheme.automaticDepth : scheme.haloDepth)
    }

    var wavefrontGeometry: WavefrontGeometry {
        let sides = halo.receivingSides
        return WavefrontGeometry(
            nx: model.block.nx, ny: model.block.ny, stride: u.stride,
            open: (sides.contains(.west), sides.contains(.east), sides.contains(.south), sides.contains(.north)),
            boundaryValue: model.configuration.boundaryValue, rx: model.rx, ry: model.ry)
    }

    // MARK: Reductions

    /// Computes and records the diagnostics of the current field.
    func recordDiagnostics(step: Int, time: Double) throws {
        timer.start(Phase.reduction.rawValue)
        let nx = model.block.nx
        var references: [SeparableReference] = []
        if let reference = model.reference {
            let px = UnsafePointer(referenceX.baseAddress!), py = UnsafePointer(referenceY.baseAddress!)
            references = [SeparableReference(profileX: px, profileY: py, scale: reference.discreteScale(step: step)),
                          SeparableReference(profileX: px, profileY: py, scale: reference.continuumScale(time: time))]
        }
        let origin = UnsafePointer(u.origin), stride = u.stride
        context.pool.run { t in
            let began = wallSeconds()
            let slot = partials.pointer(t)
            slot.pointee = FieldStatistics()
            accumulateStatistics(&slot.pointee, origin: origin, stride: stride, rows: threadRows.range(of: t),
                                 nx: nx, references: references)
            threadSeconds[t] += wallSeconds() - began
        }
        var local = FieldStatistics()
        for t in 0..<context.threads { local.merge(partials[t]) }

        // Threads first, then ranks: the exact sums and the extremes in one message.
        let reduced = try exactReduction.reduce(sums: [local.sum, local.squaredError.0, local.squaredError.1],
                                                maxima: [-local.minimum, local.maximum, local.maxError.0, local.maxError.1])
        let (sum, squared0, squared1) = (reduced.sums[0], reduced.sums[1], reduced.sums[2])
        let extremes = reduced.maxima

        let cell = model.hx * model.hy
        let hasReference = model.reference != nil
        diagnostics.step.append(Int64(step))
        diagnostics.time.append(time)
        diagnostics.total.append(sum * cell)
        diagnostics.minimum.append(-extremes[0])
        diagnostics.maximum.append(extremes[1])
        diagnostics.l2Error.append(hasReference ? (cell * squared0).squareRoot() : .nan)
        diagnostics.linfError.append(hasReference ? extremes[2] : .nan)
        diagnostics.l2ErrorContinuum.append(hasReference ? (cell * squared1).squareRoot() : .nan)
        diagnostics.linfErrorContinuum.append(hasReference ? extremes[3] : .nan)
    }

    // MARK: Checkpoint and restart

    /// Reads u and the diagnostics so far from the checkpoint at `path`
    /// (collective; after `initialize`, which set the halos). Returns it.
    func restore(from path: String) throws -> Checkpoint {
        timer.start(Phase.setup.rawValue)
        let checkpoint = try Checkpoint.load(path, into: [("u", u)], block: model.block, context: context,
                                             communicator: communicator)
        diagnostics = try communicator.collectively { try HeatDiagnostics(series: checkpoint.series, path: path) }
        return checkpoint
    }

    /// The second field, free before the time loop: a buffer of the block's
    /// shape (for copying the earlier snapshots of a restarted run).
    var scratchField: Field { v }
}
