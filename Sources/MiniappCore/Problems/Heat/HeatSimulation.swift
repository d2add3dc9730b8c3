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
        case setup, haloPost, interior, haloWait, boundary, reduction, io, total
        var name: String {
            ["setup", "halo_post", "interior", "halo_wait", "boundary", "reduction", "io", "total"][rawValue]
        }
    }

    let model: HeatModel
    let context: RunContext
    private var u: Field
    private var v: Field
    private let halo: HaloExchange
    private let output: ResultFile?
    private(set) var timer = PhaseTimer(phases: Phase.allCases.map(\.name))
    /// Seconds each thread spent computing (kernels and reductions).
    let threadSeconds: PerThread<Double>
    private let partials: PerThread<FieldStatistics>
    private(set) var diagnostics = HeatDiagnostics()

    /// The interior/boundary split of a step, and the threads' row blocks.
    private let sweep: OverlappedSweep
    private var threadRows: BlockPartition { sweep.threadRows }

    // Reference profiles, kept at fixed addresses for the kernels.
    private let referenceX: UnsafeMutableBufferPointer<Double>
    private let referenceY: UnsafeMutableBufferPointer<Double>

    init(model: HeatModel, context: RunContext, topology: CartesianTopology, output: ResultFile?) throws {
        self.model = model
        self.context = context
        self.output = output
        let (nx, ny) = (model.block.nx, model.block.ny)
        u = Field(nx: nx, ny: ny, halo: 1)
        v = Field(nx: nx, ny: ny, halo: 1)
        halo = try HaloExchange(topology: topology, nx: nx, ny: ny, stride: u.stride, depth: 1, corners: false)
        sweep = OverlappedSweep(nx: nx, ny: ny, receivingSides: halo.receivingSides, threads: context.threads)
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

    /// Bytes of field memory on this rank.
    var fieldBytes: Int { 2 * u.stride * u.rows * MemoryLayout<Double>.stride }

    // MARK: Initialisation

    /// Sets the initial condition. Each thread writes the rows it will later
    /// compute, in both fields; halos start at the boundary value (Dirichlet
    /// sides keep it; exchanged sides are overwritten every step).
    func initialize() {
        let (nx, ny) = (model.block.nx, model.block.ny)
        let lastOwner = ny > 0 ? threadRows.part(containing: ny - 1) : 0
        let boundary = model.configuration.boundaryValue
        let scale = model.initialScale
        let fields = [u, v]
        model.initialProfileX.withUnsafeBufferPointer { px in
            model.initialProfileY.withUnsafeBufferPointer { py in
                context.pool.run { t in
                    var rows = threadRows.range(of: t)
                    if t == 0 { rows = (rows.lowerBound - 1) ..< rows.upperBound }
                    if t == lastOwner { rows = rows.lowerBound ..< (rows.upperBound + 1) }
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

    /// One FTCS step, u -> v, with the halo exchange of u overlapped; then swap.
    func step() throws {
        let source = UnsafePointer(u.origin), target = v.origin, stride = u.stride
        let (rx, ry) = (model.rx, model.ry)
        let phases = OverlappedSweep.Phases(post: Phase.haloPost.rawValue, interior: Phase.interior.rawValue,
                                            wait: Phase.haloWait.rawValue, boundary: Phase.boundary.rawValue)
        try sweep.run(pool: context.pool, exchange: halo, fields: [u.origin], timer: &timer, phases: phases,
                      threadSeconds: threadSeconds) { _, rows, columns in
            heatStencilSweep(from: source, to: target, stride: stride, rows: rows, columns: columns, rx: rx, ry: ry)
        }
        swap(&u, &v)
    }

    // MARK: Reductions

    /// Computes and records the diagnostics of the current field.
    func diagnose(step: Int, time: Double) throws {
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

        // Threads first, then ranks: exact sums travel as Int64 digits (MPI_SUM
        // is exact on integers), extremes as one MPI_MAX.
        var words = local.sum.wordsForReduction + local.squaredError.0.wordsForReduction
            + local.squaredError.1.wordsForReduction
        try context.world.allreduce(&words, op: .sum)
        let n = ExactSum.wordCount
        let sum = ExactSum(reducedWords: words[0..<n]).value
        let squared0 = ExactSum(reducedWords: words[n..<2 * n]).value
        let squared1 = ExactSum(reducedWords: words[2 * n..<3 * n]).value
        var extremes = [-local.minimum, local.maximum, local.maxError.0, local.maxError.1]
        try context.world.allreduce(&extremes, op: .max)

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

    // MARK: Output

    func writeSnapshot(step: Int, time: Double) throws {
        guard let output else { return }
        timer.start(Phase.io.rawValue)
        try output.writeSnapshot(fields: [("u", UnsafePointer(u.origin))], halo: u.halo, stride: u.stride, storedRows: u.rows,
                                 offset: model.block.offset, size: model.block.size, step: step, time: time)
    }

    // MARK: The run

    /// Runs every step; `progress` is called after each diagnostics step.
    func run(progress: (Int, Double) -> Void) throws {
        let steps = model.configuration.steps
        let every = model.configuration.output.every
        let diagnosticsEvery = model.configuration.output.diagnosticsEvery
        let began = wallSeconds()
        try diagnose(step: 0, time: 0)
        if every > 0 || steps == 0 { try writeSnapshot(step: 0, time: 0) }
        progress(0, 0)
        if steps > 0 {
            for step in 1...steps {
                try self.step()
                let time = Double(step) * model.dt
                if step == steps || (diagnosticsEvery > 0 && step % diagnosticsEvery == 0) {
                    try diagnose(step: step, time: time)
                    progress(step, wallSeconds() - began)
                }
                if step == steps || (every > 0 && step % every == 0) {
                    try writeSnapshot(step: step, time: time)
                }
            }
        }
        timer.stop()
        timer[Phase.total.name] = wallSeconds() - began
    }
}
