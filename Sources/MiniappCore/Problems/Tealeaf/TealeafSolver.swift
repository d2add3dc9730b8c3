import Foundation
import Kernels
import MPI
import ThreadPool

/// Solves the backward-Euler system A u = u0 of each TeaLeaf time step on
/// one rank: conjugate gradients, Jacobi, Chebyshev, and polynomially
/// preconditioned CG (PPCG), with no or diagonal (Jacobi) preconditioning.
///
/// Every dot product is an exact sum (threads, then one MPI_Allreduce of
/// the exact sums' digits), so iteration counts and results do not depend on
/// the decomposition. CG uses the single-reduction form (Chronopoulos and
/// Gear; PETSc's "single reduction" CG): r.z, w.z and r.r of an iteration
/// travel in one MPI_Allreduce. Operator applications overlap their halo
/// exchange with the interior.
final class TealeafSolver {
    enum Phase: Int, CaseIterable {
        case setup, halo, stencil, reduction, preconditioner, update, summary, io, checkpoint, total
        var name: String {
            ["setup", "halo", "stencil", "reduction", "preconditioner", "update", "summary", "io", "checkpoint", "total"][rawValue]
        }
    }

    struct Result {
        var iterations = 0
        /// Inner (polynomial) steps of PPCG.
        var innerIterations = 0
        /// ||r|| / ||r0|| at exit, as the solver measured it.
        var residual = 0.0
        /// ||r0||: the residual of the initial guess.
        var initialNorm = 0.0
        var converged = false
    }

    let model: TealeafModel
    let context: RunContext
    let configuration: TealeafConfiguration
    var timer = PhaseTimer(phases: Phase.allCases.map(\.name))
    let threadSeconds: PerThread<Double>

    // Fields (all with the same halo, hence the same stride).
    let density, energy, u, u0, r, p, w, z, s, kx, ky, di: Field
    let mi: Field?
    let sd, rtemp, utemp, rstore: Field?   // PPCG
    let operatorA: TeaOperator
    let stride: Int

    private let exchange: HaloExchange          // depth 1, for the operator
    let deepExchange: HaloExchange?     // depth h with corners, for PPCG inner steps
    private let sweep: OverlappedSweep
    private let threadRows: BlockPartition
    let sums: PerThread<DotSums>
    /// Each thread's predictions for the exact dot products of CG's operator pass.
    private let dotPredictions: [CGDotPredictions]
    /// Each thread's next row for the update in CG's fused pass (`updateAndApply`).
    let fusedNextRow: PerThread<Int>
    let exactReduction: ExactReduction

    /// Eigenvalue estimates, made once (first solve) and kept, as TeaLeaf does.
    private(set) var eigenvalues: (min: Double, max: Double)? = nil

    /// Grid-sized arrays the solver holds (for the memory check).
    static func fieldCount(_ solver: TealeafConfiguration.Solver) -> Int {
        12 + (solver.preconditioner == .jacDiag ? 1 : 0) + (solver.method == .ppcg ? 4 : 0)
    }

    init(model: TealeafModel, context: RunContext, topology: CartesianTopology) throws {
        self.model = model
        self.context = context
        exactReduction = try ExactReduction(context.world)
        configuration = model.configuration
        let (nx, ny, h) = (model.block.nx, model.block.ny, model.halo)
        func field() throws -> Field { try Field(nx: nx, ny: ny, halo: h) }
        density = try field(); energy = try field(); u = try field(); u0 = try field(); r = try field(); p = try field()
        w = try field(); z = try field(); s = try field(); kx = try field(); ky = try field(); di = try field()
        let solver = configuration.solver
        mi = solver.preconditioner == .jacDiag ? try field() : nil
        let polynomial = solver.method == .ppcg
        sd = polynomial ? try field() : nil
        rtemp = polynomial ? try field() : nil
        utemp = polynomial ? try field() : nil
        rstore = polynomial ? try field() : nil
        stride = u.stride
        operatorA = TeaOperator(kx: UnsafePointer(kx.origin), ky: UnsafePointer(ky.origin), di: UnsafePointer(di.origin),
                                stride: stride, rx: model.rx, ry: model.ry)
        exchange = try HaloExchange(topology: topology, nx: nx, ny: ny, stride: stride, depth: TeaOperator.reach,
                                    corners: false)
        deepExchange = polynomial
            ? try HaloExchange(topology: topology, nx: nx, ny: ny, stride: stride, depth: h, corners: true, maxFields: 2)
            : nil
        sweep = OverlappedSweep(nx: nx, ny: ny, receivingSides: exchange.receivingSides, threads: context.threads,
                                reach: TeaOperator.reach)
        threadRows = sweep.threadRows
        threadSeconds = PerThread(count: context.threads, initial: 0)
        sums = PerThread(count: context.threads, initial: DotSums())
        dotPredictions = (0..<context.threads).map { _ in CGDotPredictions(columns: nx) }
        fusedNextRow = PerThread(count: context.threads, initial: 0)
    }

    private var allFields: [Field] {
        [density, energy, u, u0, r, p, w, z, s, kx, ky, di] + [mi, sd, rtemp, utemp, rstore].compactMap { $0 }
    }

    /// Zeroes every field (first touch by the thread that owns the rows),
    /// paints the states and computes the coefficients.
    func initialize() {
        let h = model.halo
        let fields = allFields
        parallel(rows: -h ..< model.block.ny + h, columns: 0..<1, phase: .setup) { _, rows, _ in
            for field in fields {
                for j in rows { field.storedRow(j).update(repeating: 0, count: field.stride) }
            }
            model.paint(density: density, energy: energy, rows: rows)
        }
        // Faces need densities of the rows below: a separate pass after painting.
        parallel(rows: -h ..< model.block.ny + h, columns: 0..<1, phase: .setup) { _, rows, _ in
            model.coefficients(density: density, kx: kx, ky: ky, rows: rows)
        }
        parallel(rows: (-h + 1) ..< (model.block.ny + h - 1), columns: 0..<1, phase: .setup) { _, rows, _ in
            model.diagonal(kx: kx, ky: ky, di: di, mi: mi, rows: rows)
        }
    }

    // MARK: Parallel helpers

    /// Runs `body(rows, columns)` on every thread over its share of `rows`
    /// (rows outside the block go to the first and last thread).
    func parallel(rows: Range<Int>, columns: Range<Int>, phase: Phase,
                          _ body: (Int, Range<Int>, Range<Int>) -> Void) {
        timer.start(phase.rawValue)
        let ny = model.block.ny
        let lastOwner = threadRows.part(containing: max(0, ny - 1))
        context.pool.run { t in
            let began = wallSeconds()
            var mine = threadRows.range(of: t)
            if t == 0 { mine = min(rows.lowerBound, 0) ..< mine.upperBound }
            if t == lastOwner { mine = mine.lowerBound ..< max(rows.upperBound, ny) }
            let part = mine.clamped(to: rows)
            if !part.isEmpty { body(t, part, columns) }
            threadSeconds[t] += wallSeconds() - began
        }
    }

    /// The owned rows of thread `t`.
    func threadRowRange(_ t: Int) -> Range<Int> { threadRows.range(of: t) }

    /// The sides whose halo comes from a neighbour (and whose edge goes to it).
    var receivingSides: Set<HaloExchange.Direction> { exchange.receivingSides }

    /// The owned block.
    var owned: (rows: Range<Int>, columns: Range<Int>) { (0 ..< model.block.ny, 0 ..< model.block.nx) }

    /// Applies a kernel over the owned block while the depth-1 halo of
    /// `fields` is exchanged (interior first, strips after the wait).
    func overlapped(_ fields: [Field], _ kernel: (Int, Range<Int>, Range<Int>) -> Void) throws {
        let phases = OverlappedSweep.Phases(post: Phase.halo.rawValue, interior: Phase.stencil.rawValue,
                                            wait: Phase.halo.rawValue, boundary: Phase.stencil.rawValue)
        try sweep.run(pool: context.pool, exchange: exchange, fields: fields.map(\.origin), timer: &timer,
                      phases: phases, threadSeconds: threadSeconds, kernel: kernel)
    }

    /// Threads' exact partial sums, then one MPI_Allreduce of the first
    /// `count` of the three (the others are returned as 0).
    func reduce(_ count: Int = 3) throws -> (Double, Double, Double) {
        timer.start(Phase.reduction.rawValue)
        var total = DotSums()
        for t in 0..<context.threads { total.merge(sums[t]) }
        let reduced = try exactReduction.reduce(sums: Array([total.a, total.b, total.c].prefix(count))).sums + [0, 0]
        sums.reset(to: DotSums())
        return (reduced[0], reduced[1], reduced[2])
    }

    // MARK: The time step

    /// u0 = energy * density, the initial guess u = u0.
    func prepareStep() {
        let (rows, columns) = owned
        let st = stride
        let (e, d, b, x) = (UnsafePointer(energy.origin), UnsafePointer(density.origin), u0.origin, u.origin)
        parallel(rows: rows, columns: columns, phase: .update) { t, rows, columns in
            for j in rows {
                for i in columns {
                    b[j * st + i] = e[j * st + i] * d[j * st + i]
                    x[j * st + i] = b[j * st + i]
                }
            }
        }
    }

    /// energy = u / density.
    func finishStep() {
        let (rows, columns) = owned
        let st = stride
        let (e, d, x) = (energy.origin, UnsafePointer(density.origin), UnsafePointer(u.origin))
        parallel(rows: rows, columns: columns, phase: .update) { t, rows, columns in
            for j in rows { for i in columns { e[j * st + i] = x[j * st + i] / d[j * st + i] } }
        }
    }

    /// Solves A u = u0 from the initial guess in u.
    func solve(firstStep: Bool) throws -> Result {
        switch configuration.solver.method {
        case .jacobi: return try jacobi()
        case .cg, .chebyshev, .ppcg: return try conjugateGradients(firstStep: firstStep)
        }
    }

    /// ||u0 - A u|| / ||r0||-independent check: the true residual norm ||u0 - A u||.
    func trueResidualNorm() throws -> Double {
        let a = operatorA
        let (x, b, res) = (UnsafePointer(u.origin), UnsafePointer(u0.origin), r.origin)
        try overlapped([u]) { t, rows, columns in
            teaResidual(a, x, b, into: res, rows: rows, columns: columns, rr: &sums.pointer(t).pointee.a)
        }
        return try reduce(1).0.squareRoot()
    }

    // MARK: Conjugate gradients, and the CG start of Chebyshev and PPCG

    private func conjugateGradients(firstStep: Bool) throws -> Result {
        let a = operatorA, st = stride
        let solver = configuration.solver
        let (x, b) = (u.origin, UnsafePointer(u0.origin))
        let (res, dir, ap, zz, wv) = (r.origin, p.origin, s.origin, z.origin, w.origin)
        let miPointer = mi.map { UnsafePointer($0.origin) }
        let preconditioned = miPointer != nil
        let (rows, columns) = owned

        // r = u0 - A u; z = M r; w = A z; and the three dot products at once.
        try overlapped([u]) { t, rows, columns in
            teaResidual(a, UnsafePointer(x), b, into: res, rows: rows, columns: columns, rr: &sums.pointer(t).pointee.c)
        }
        sums.reset(to: DotSums())   // r.r is measured below, with the others
        if let miPointer {
            parallel(rows: rows, columns: columns, phase: .preconditioner) { t, rows, columns in
                teaScale(UnsafePointer(res), by: 1, times: miPointer, into: zz, stride: st, rows: rows, columns: columns)
            }
        }
        let zField = preconditioned ? z : r
        let zp = UnsafePointer(zField.origin)
        try overlapped([zField]) { t, rows, columns in
            let slot = sums.pointer(t)
            teaCGApplyDots(a, z: zp, r: UnsafePointer(res), into: wv, rows: rows, columns: columns,
                           rz: &slot.pointee.a, wz: &slot.pointee.b, rr: &slot.pointee.c, predictions: dotPredictions[t])
        }
        var (gamma, delta, rr) = try reduce()
        if !preconditioned { rr = gamma }
        let initial = rr.squareRoot()
        var result = Result()
        result.initialNorm = initial
        if initial == 0 { result.converged = true; return result }
        if !initial.isFinite { result.residual = initial; return result }   // reported by the time loop
        parallel(rows: rows, columns: columns, phase: .update) { t, rows, columns in
            teaCopy(zp, into: dir, stride: st, rows: rows, columns: columns)
            teaCopy(UnsafePointer(wv), into: ap, stride: st, rows: rows, columns: columns)
        }
        var alpha = gamma / delta
        var nextBeta: Double? = nil
        var alphas: [Double] = [], betas: [Double] = []
        var error = initial
        // The alpha of an x update left to the next pass (`teaCGUpdate`), made before the solve returns.
        var deferredAlpha: Double? = nil
        func makeDeferredUpdate() {
            guard let alpha = deferredAlpha else { return }
            parallel(rows: rows, columns: columns, phase: .update) { t, rows, columns in
                teaAxpy(x: x, p: UnsafePointer(dir), alpha: alpha, stride: st, rows: rows, columns: columns)
            }
            deferredAlpha = nil
        }

        // Chebyshev and PPCG start with CG steps: until their eigenvalue
        // estimates are made (first step), or - later steps - a few.
        let switches = solver.method != .cg
        while result.iterations < solver.maxIters {
            if switches && switchesNow(iteration: result.iterations, error: error, firstStep: firstStep) {
                if eigenvalues == nil { estimateEigenvalues(alphas: alphas, betas: betas) }
                if eigenvalues != nil {
                    makeDeferredUpdate()
                    return solver.method == .chebyshev
                        ? try chebyshev(result: result, initial: initial)
                        : try polynomialCG(result: result, initial: initial)
                }
            }
            result.iterations += 1
            // p = z + beta p, s = w + beta s (from the second iteration on);
            // x += alpha p (every other pass both of two); r -= alpha s; z = M r;
            // then w = A z, with r.z, w.z, r.r (the one reduction of the
            // iteration): one sweep over memory.
            let beta = nextBeta, pending = deferredAlpha, defers = pending == nil && beta != nil
            try updateAndApply([zField], update: { rows, columns in
                teaCGUpdate(x: x, p: dir, r: res, s: ap, z: preconditioned ? zz : res, w: UnsafePointer(wv), mi: miPointer,
                            alpha: alpha, beta: beta, deferredAlpha: pending, defersX: defers, stride: st, rows: rows,
                            columns: columns)
            }, apply: { t, rows, columns in
                let slot = sums.pointer(t)
                teaCGApplyDots(a, z: zp, r: UnsafePointer(res), into: wv, rows: rows, columns: columns,
                               rz: &slot.pointee.a, wz: &slot.pointee.b, rr: &slot.pointee.c,
                               predictions: dotPredictions[t])
            })
            deferredAlpha = defers ? alpha : nil
            let (gammaNew, wz, rrNew) = try reduce()
            rr = preconditioned ? rrNew : gammaNew
            let betaNew = gammaNew / gamma
            alphas.append(alpha)
            betas.append(betaNew)
            error = rr.squareRoot()
            if error < solver.eps * initial { result.converged = true; break }
            if !error.isFinite { break }   // NaN or infinity: the time loop reports it
            alpha = gammaNew / (wz - betaNew * gammaNew / alpha)
            gamma = gammaNew
            nextBeta = betaNew
        }
        makeDeferredUpdate()
        result.residual = error / initial
        return result
    }

    /// TeaLeaf's switch from CG to Chebyshev or PPCG: PPCG right after the
    /// first CG step once estimates exist; otherwise after `cg_presteps` CG
    /// steps with the residual at most `cg_epslim`.
    private func switchesNow(iteration n: Int, error: Double, firstStep: Bool) -> Bool {
        let solver = configuration.solver
        if solver.method == .ppcg && eigenvalues != nil && !firstStep { return n >= 1 }
        return n >= solver.cgPresteps && error <= solver.cgEpslim
    }

    /// Extreme eigenvalues of the Lanczos matrix of the CG steps so far,
    /// widened by 5% as TeaLeaf does. Left nil if they make no sense.
    private func estimateEigenvalues(alphas: [Double], betas: [Double]) {
        guard !alphas.isEmpty else { return }
        let (d, e) = SymmetricTridiagonal.lanczos(alphas: alphas, betas: betas)
        let (lo, hi) = SymmetricTridiagonal.extremeEigenvalues(diagonal: d, offDiagonal: e)
        guard lo > 0, hi > lo, lo.isFinite, hi.isFinite else { return }
        eigenvalues = (lo * 0.95, hi * 1.05)
    }

    // MARK: Jacobi

    private func jacobi() throws -> Result {
        let solver = configuration.solver
        let a = operatorA
        let b = UnsafePointer(u0.origin)
        // Two iterates: `current` is read (with its halo), `next` written.
        var current = u, next = w
        var result = Result()
        var initial = 0.0, error = 0.0
        while result.iterations < solver.maxIters {
            let (un, un1) = (UnsafePointer(current.origin), next.origin)
            try overlapped([current]) { t, rows, columns in
                teaJacobi(a, previous: un, into: un1, b: b, rows: rows, columns: columns, rr: &sums.pointer(t).pointee.a)
            }
            result.iterations += 1
            // The residual of the previous iterate came with the sweep.
            error = try reduce(1).0.squareRoot()
            if result.iterations == 1 { initial = error; result.initialNorm = error }
            swap(&current, &next)
            if initial == 0 || error < solver.eps * initial { result.converged = true; break }
            if !error.isFinite { break }   // NaN or infinity: the time loop reports it
        }
        if current !== u {
            let (rows, columns) = owned
            let st = stride
            let (src, dst) = (UnsafePointer(current.origin), u.origin)
            parallel(rows: rows, columns: columns, phase: .update) { t, rows, columns in
                teaCopy(src, into: dst, stride: st, rows: rows, columns: columns)
            }
        }
        result.residual = initial > 0 ? error / initial : 0
        return result
    }

    // MARK: Checkpoint and restart

    /// The state between two steps: the energy (density and the coefficients
    /// follow from the input) and the eigenvalue estimates, once made.
    var stateFields: [(name: String, field: Field)] { [("energy", energy)] }

    var stateScalars: [String: Double] {
        guard let (lo, hi) = eigenvalues else { return [:] }
        return ["eigenvalue_min": lo, "eigenvalue_max": hi]
    }

    /// Reads the energy and the eigenvalue estimates of a checkpoint
    /// (collective; after `initialize`). Returns the checkpoint.
    func restore(from path: String, communicator: Communicator) throws -> Checkpoint {
        let checkpoint = try Checkpoint.load(path, into: stateFields, block: model.block, context: context,
                                             communicator: communicator)
        if let lo = checkpoint.scalars["eigenvalue_min"], let hi = checkpoint.scalars["eigenvalue_max"] {
            eigenvalues = (lo, hi)
        }
        return checkpoint
    }

    // MARK: Field summary

    struct Summary {
        var volume = 0.0, mass = 0.0, internalEnergy = 0.0, temperature = 0.0
        var density: Double { mass / volume }
    }

    /// TeaLeaf's field summary (collective).
    func fieldSummary() throws -> Summary {
        let st = stride, volume = model.cellVolume
        let (d, e, x) = (UnsafePointer(density.origin), UnsafePointer(energy.origin), UnsafePointer(u.origin))
        let (rows, columns) = owned
        parallel(rows: rows, columns: columns, phase: .summary) { t, rows, columns in
            let slot = sums.pointer(t)
            teaFieldSummary(density: d, energy: e, u: x, volume: volume, stride: st, rows: rows, columns: columns,
                            mass: &slot.pointee.a, internalEnergy: &slot.pointee.b, temperature: &slot.pointee.c)
        }
        let (mass, ie, temperature) = try reduce()
        // The sum of N equal volumes is exactly N * volume: one rounding.
        let cells = Double(configuration.grid.xCells) * Double(configuration.grid.yCells)
        return Summary(volume: cells * volume, mass: mass, internalEnergy: ie, temperature: temperature)
    }

}

/// Three exact sums per thread: the dot products of one reduction.
struct DotSums: BitwiseCopyable {
    var a = ExactSum(), b = ExactSum(), c = ExactSum()

    mutating func merge(_ other: DotSums) {
        a.add(other.a)
        b.add(other.b)
        c.add(other.c)
    }
}
