import Foundation
import Kernels

/// The solvers that CG hands over to once its eigenvalue estimates are made
/// (`conjugateGradients`): Chebyshev iteration, and CG preconditioned by a
/// Chebyshev polynomial (PPCG), whose inner steps exchange a deep halo once
/// every `halo_depth` steps.
extension TealeafSolver {
    // MARK: Chebyshev

    func chebyshev(result start: Result, initial: Double) throws -> Result {
        var result = start
        let solver = configuration.solver
        let (eigmin, eigmax) = eigenvalues!
        let maxSteps = solver.maxIters - result.iterations + 2
        let coefficients = ChebyshevCoefficients(eigmin: eigmin, eigmax: eigmax, steps: max(1, maxSteps))
        let a = operatorA, st = stride
        let (x, b, res, dir) = (u.origin, UnsafePointer(u0.origin), r.origin, p.origin)
        let miPointer = mi.map { UnsafePointer($0.origin) }
        let (rows, columns) = owned

        // ||u0||^2 for the estimate of the iteration count.
        parallel(rows: rows, columns: columns, phase: .stencil) { t, rows, columns in
            teaDot(b, b, stride: st, rows: rows, columns: columns, into: &sums.pointer(t).pointee.a)
        }
        let bb = try reduce(1).0

        /// r = u0 - A u (with r.r), then p = alpha p + beta M r, u += p.
        func step(alpha: Double, beta: Double) throws {
            try overlapped([u]) { t, rows, columns in
                teaResidual(a, UnsafePointer(x), b, into: res, rows: rows, columns: columns, rr: &sums.pointer(t).pointee.a)
            }
            parallel(rows: rows, columns: columns, phase: .update) { t, rows, columns in
                teaChebyshevUpdate(direction: dir, residual: UnsafePointer(res), accumulating: x, mi: miPointer,
                                   alpha: alpha, beta: beta, stride: st, rows: rows, columns: columns)
            }
        }
        // First step: p = M r / theta; then the first coefficients.
        try step(alpha: 0, beta: 1 / coefficients.theta)
        sums.reset(to: DotSums())
        try step(alpha: coefficients.alphas[0], beta: coefficients.betas[0])
        result.iterations += 2
        var error = try reduce(1).0
        let cn = eigmax / eigmin
        let gamma = (cn.squareRoot() - 1) / (cn.squareRoot() + 1)
        let estimated = (log(solver.eps / 2 * (bb / error).squareRoot()) / log(gamma)).rounded()
        let estimate = estimated.isFinite ? Int(max(0, min(estimated, Double(solver.maxIters)))) : 0
        var k = 1
        error = error.squareRoot()
        while result.iterations < solver.maxIters {
            if error < solver.eps * initial { result.converged = true; break }
            if !error.isFinite { break }   // NaN or infinity: the time loop reports it
            k += 1
            try step(alpha: coefficients.alphas[min(k, coefficients.alphas.count) - 1],
                     beta: coefficients.betas[min(k, coefficients.betas.count) - 1])
            result.iterations += 1
            // Measure the residual (a global reduction) only every 10 steps
            // once the estimated count is near, as TeaLeaf does.
            if result.iterations >= estimate && result.iterations % 10 == 0 {
                error = try reduce(1).0.squareRoot()
            } else {
                sums.reset(to: DotSums())
            }
        }
        result.residual = error / initial
        return result
    }

    // MARK: Polynomially preconditioned CG

    func polynomialCG(result start: Result, initial: Double) throws -> Result {
        var result = start
        let solver = configuration.solver
        let (eigmin, eigmax) = eigenvalues!
        let inner = ChebyshevCoefficients(eigmin: eigmin, eigmax: eigmax, steps: configuration.ppcgInnerSteps)
        let a = operatorA, st = stride
        let (x, res, dir, wv, zz, old) = (u.origin, r.origin, p.origin, w.origin, z.origin, rstore!.origin)
        let (rows, columns) = owned

        // z = P(A) r, p = z.
        try applyPolynomial(inner)
        result.innerIterations += inner.alphas.count
        parallel(rows: rows, columns: columns, phase: .update) { t, rows, columns in
            teaCopy(UnsafePointer(zz), into: dir, stride: st, rows: rows, columns: columns)
        }
        var error = initial
        while result.iterations < solver.maxIters {
            result.iterations += 1
            // w = A p with p.w and r.z in one reduction.
            try overlapped([p]) { t, rows, columns in
                teaApply(a, UnsafePointer(dir), into: wv, rows: rows, columns: columns)
                let slot = sums.pointer(t)
                teaDot(UnsafePointer(dir), UnsafePointer(wv), stride: st, rows: rows, columns: columns, into: &slot.pointee.a)
                teaDot(UnsafePointer(res), UnsafePointer(zz), stride: st, rows: rows, columns: columns, into: &slot.pointee.b)
            }
            let (pw, rz, _) = try reduce(2)
            let alpha = rz / pw
            // Keep r, then u += alpha p, r -= alpha w.
            parallel(rows: rows, columns: columns, phase: .update) { t, rows, columns in
                teaCopy(UnsafePointer(res), into: old, stride: st, rows: rows, columns: columns)
                teaAxpy2(x: x, p: UnsafePointer(dir), r: res, w: UnsafePointer(wv), alpha: alpha,
                         stride: st, rows: rows, columns: columns)
            }
            try applyPolynomial(inner)
            result.innerIterations += inner.alphas.count
            // Flexible CG: beta = (r - r_old).z / r_old.z_old; r.r for the exit test, in one reduction.
            parallel(rows: rows, columns: columns, phase: .stencil) { t, rows, columns in
                let slot = sums.pointer(t)
                for j in rows {
                    let o = j * st + columns.lowerBound
                    for i in 0..<columns.count { old[o + i] = res[o + i] - old[o + i] }
                }
                teaDot(UnsafePointer(old), UnsafePointer(zz), stride: st, rows: rows, columns: columns, into: &slot.pointee.a)
                teaDot(UnsafePointer(res), UnsafePointer(res), stride: st, rows: rows, columns: columns, into: &slot.pointee.b)
            }
            let (rrn, rr, _) = try reduce(2)
            error = rr.squareRoot()
            if error < solver.eps * initial { result.converged = true; break }
            if !error.isFinite { break }   // NaN or infinity: the time loop reports it
            let beta = rrn / rz
            parallel(rows: rows, columns: columns, phase: .update) { t, rows, columns in
                for j in rows {
                    let o = j * st
                    for i in columns { dir[o + i] = zz[o + i] + beta * dir[o + i] }
                }
            }
        }
        result.residual = error / initial
        return result
    }

    /// z = P(A) r: Chebyshev inner steps starting from sd = M r / theta,
    /// with the halo of sd and rtemp exchanged once every `halo_depth` steps.
    /// Between exchanges each step computes one cell less into the halo
    /// (the redundant work that saves messages); never beyond the domain.
    private func applyPolynomial(_ inner: ChebyshevCoefficients) throws {
        let a = operatorA, st = stride, h = model.halo
        let (res, zz) = (UnsafePointer(r.origin), z.origin)
        let (sdp, rt, ut) = (sd!.origin, rtemp!.origin, utemp!.origin)
        let miPointer = mi.map { UnsafePointer($0.origin) }
        let (rows, columns) = owned
        parallel(rows: rows, columns: columns, phase: .preconditioner) { t, rows, columns in
            teaScale(res, by: 1 / inner.theta, times: miPointer, into: sdp, stride: st, rows: rows, columns: columns)
            teaCopy(res, into: rt, stride: st, rows: rows, columns: columns)
            teaCopy(UnsafePointer(sdp), into: ut, stride: st, rows: rows, columns: columns)
        }
        let ext = model.external
        let (nx, ny) = (model.block.nx, model.block.ny)
        for step in 0..<inner.alphas.count {
            if step % h == 0 {
                timer.start(Phase.halo.rawValue)
                try deepExchange!.exchange([sd!.origin, rtemp!.origin])
            }
            let extra = h - 1 - step % h
            let region = (rows: (ext.south ? 0 : -extra) ..< (ext.north ? ny : ny + extra),
                          columns: (ext.west ? 0 : -extra) ..< (ext.east ? nx : nx + extra))
            parallel(rows: region.rows, columns: region.columns, phase: .preconditioner) { t, rows, columns in
                teaInnerResidual(a, sd: UnsafePointer(sdp), rtemp: rt, rows: rows, columns: columns)
            }
            let (alpha, beta) = (inner.alphas[step], inner.betas[step])
            parallel(rows: region.rows, columns: region.columns, phase: .preconditioner) { t, rows, columns in
                teaChebyshevUpdate(direction: sdp, residual: UnsafePointer(rt), accumulating: ut, mi: miPointer,
                                   alpha: alpha, beta: beta, stride: st, rows: rows, columns: columns)
            }
        }
        parallel(rows: rows, columns: columns, phase: .preconditioner) { t, rows, columns in
            teaCopy(UnsafePointer(ut), into: zz, stride: st, rows: rows, columns: columns)
        }
    }
}
