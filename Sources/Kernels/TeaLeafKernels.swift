/// Kernels of the implicit (TeaLeaf) heat-conduction problem.
///
/// The matrix is the backward-Euler operator with face coefficients:
///
///     (A u)_jk = Di_jk u_jk - ry (Ky_j,k+1 u_j,k+1 + Ky_jk u_j,k-1)
///                           - rx (Kx_j+1,k u_j+1,k + Kx_jk u_j-1,k)
///
/// with Kx_jk on the face between cells j-1 and j. Every field is a block
/// with a halo, row-major with the same `stride`; pointers address cell
/// (0, 0). Kernels take a rectangle of rows and columns (possibly reaching
/// into the halo) so that callers can split work among threads and around
/// a halo exchange; each point is computed the same way whatever the split.
/// Dot products go into `ExactSum`s, so they do not depend on it either.
public struct TeaOperator: @unchecked Sendable {
    public let kx: UnsafePointer<Double>
    public let ky: UnsafePointer<Double>
    public let di: UnsafePointer<Double>
    public let stride: Int
    public let rx: Double
    public let ry: Double
    /// How far the operator reads: one cell each way.
    public static let reach = 1

    public init(kx: UnsafePointer<Double>, ky: UnsafePointer<Double>, di: UnsafePointer<Double>,
                stride: Int, rx: Double, ry: Double) {
        self.kx = kx; self.ky = ky; self.di = di
        self.stride = stride; self.rx = rx; self.ry = ry
    }

    /// (A u) at offset `o` (row-major index of the cell). The diagonal comes
    /// from the four coefficients the operator loads anyway, by the
    /// expression `TealeafModel.diagonal` stores in `di` (the same bits):
    /// one array less to stream from memory.
    @inline(__always)
    func apply(_ u: UnsafePointer<Double>, _ o: Int) -> Double {
        apply(u, o, load: { $0[$1] })
    }

    /// (A u) at offsets `o ..< o + 4`: the same operations on each lane (the same bits).
    @inline(__always)
    func apply4(_ u: UnsafePointer<Double>, _ o: Int) -> SIMD4<Double> {
        apply(u, o, load: { UnsafeRawPointer($0 + $1).loadUnaligned(as: SIMD4<Double>.self) })
    }

    /// The operator's formula, once, for a cell or a vector of cells.
    @inline(__always)
    private func apply<V: TeaValue>(_ u: UnsafePointer<Double>, _ o: Int,
                                    load: (UnsafePointer<Double>, Int) -> V) -> V {
        let s = stride
        let (rx, ry) = (V(self.rx), V(self.ry))
        let north = load(ky, o + s), south = load(ky, o), east = load(kx, o + 1), west = load(kx, o)
        let diagonal = V(1) + ry * (north + south) + rx * (east + west)
        return diagonal * load(u, o) - ry * (north * load(u, o + s) + south * load(u, o - s))
            - rx * (east * load(u, o + 1) + west * load(u, o - 1))
    }
}

/// What the operator computes with: a double, or a vector of them.
protocol TeaValue {
    init(_ scalar: Double)
    static func + (a: Self, b: Self) -> Self
    static func - (a: Self, b: Self) -> Self
    static func * (a: Self, b: Self) -> Self
}

extension Double: TeaValue {}

extension SIMD4: TeaValue where Scalar == Double {
    init(_ scalar: Double) { self.init(repeating: scalar) }
}

/// w = A u on a rectangle.
public func teaApply(_ a: TeaOperator, _ u: UnsafePointer<Double>, into w: UnsafeMutablePointer<Double>,
                     rows: Range<Int>, columns: Range<Int>) {
    for j in rows {
        let row = j * a.stride
        for i in columns { w[row + i] = a.apply(u, row + i) }
    }
}

/// r = b - A u on a rectangle; adds r . r to `rr`.
public func teaResidual(_ a: TeaOperator, _ u: UnsafePointer<Double>, _ b: UnsafePointer<Double>,
                        into r: UnsafeMutablePointer<Double>, rows: Range<Int>, columns: Range<Int>,
                        rr: inout ExactSum) {
    guard !columns.isEmpty else { return }
    for j in rows {
        let row = j * a.stride
        for i in columns { r[row + i] = b[row + i] - a.apply(u, row + i) }
        let first = r + row + columns.lowerBound
        rr.addProducts(first, first, count: columns.count)
    }
}

/// Dot products of two fields over a rectangle, added to `sum`.
public func teaDot(_ x: UnsafePointer<Double>, _ y: UnsafePointer<Double>, stride: Int, rows: Range<Int>,
                   columns: Range<Int>, into sum: inout ExactSum) {
    guard !columns.isEmpty else { return }
    for j in rows {
        let o = j * stride + columns.lowerBound
        sum.addProducts(x + o, y + o, count: columns.count)
    }
}

// MARK: Conjugate gradients (single reduction per iteration)

/// One CG update pass: first the new directions p = z + beta p and
/// s = w + beta s (skipped when `beta` is nil: the first iteration), then
/// x += alpha p; r -= alpha s; and z = Mi r when a diagonal preconditioner is
/// given. All pointwise, so one pass over memory.
///
/// x is only read at the end of a solve, so every other pass leaves its
/// update to the next (`defersX`), which then makes both from the old and
/// the new p, in the order they would have been made (the same bits):
/// x = (x + deferredAlpha p_old) + alpha p. One pass over x in two.
public func teaCGUpdate(x: UnsafeMutablePointer<Double>, p: UnsafeMutablePointer<Double>,
                        r: UnsafeMutablePointer<Double>, s: UnsafeMutablePointer<Double>,
                        z: UnsafeMutablePointer<Double>, w: UnsafePointer<Double>, mi: UnsafePointer<Double>?,
                        alpha: Double, beta: Double?, deferredAlpha: Double?, defersX: Bool,
                        stride: Int, rows: Range<Int>, columns: Range<Int>) {
    precondition(deferredAlpha == nil || (beta != nil && !defersX), "a deferred x update is made with the next direction")
    for j in rows {
        let row = j * stride
        if let beta, let deferredAlpha {
            for i in columns {
                let old = p[row + i]
                p[row + i] = z[row + i] + beta * old
                s[row + i] = w[row + i] + beta * s[row + i]
                x[row + i] = (x[row + i] + deferredAlpha * old) + alpha * p[row + i]
            }
            for i in columns { r[row + i] -= alpha * s[row + i] }
        } else {
            if let beta {
                for i in columns {
                    p[row + i] = z[row + i] + beta * p[row + i]
                    s[row + i] = w[row + i] + beta * s[row + i]
                }
            }
            if defersX {
                for i in columns { r[row + i] -= alpha * s[row + i] }
            } else {
                for i in columns {
                    x[row + i] += alpha * p[row + i]
                    r[row + i] -= alpha * s[row + i]
                }
            }
        }
        if let mi { for i in columns { z[row + i] = mi[row + i] * r[row + i] } }
    }
}

/// x += alpha p: a CG update of x left for later (`teaCGUpdate`'s `defersX`).
public func teaAxpy(x: UnsafeMutablePointer<Double>, p: UnsafePointer<Double>, alpha: Double, stride: Int,
                    rows: Range<Int>, columns: Range<Int>) {
    for j in rows {
        let row = j * stride
        for i in columns { x[row + i] += alpha * p[row + i] }
    }
}

/// x += alpha p; r -= alpha w (PPCG's update).
public func teaAxpy2(x: UnsafeMutablePointer<Double>, p: UnsafePointer<Double>, r: UnsafeMutablePointer<Double>,
                     w: UnsafePointer<Double>, alpha: Double, stride: Int, rows: Range<Int>, columns: Range<Int>) {
    for j in rows {
        let row = j * stride
        for i in columns {
            x[row + i] += alpha * p[row + i]
            r[row + i] -= alpha * w[row + i]
        }
    }
}

// MARK: Chebyshev and the polynomial preconditioner

/// The update of a Chebyshev step, after the residual r is known:
/// d = alpha d + beta (Mi r) (Mi when preconditioned); x += d.
/// Chebyshev iteration uses it with (d, r, x) = (p, r, u); PPCG's inner
/// steps with (sd, rtemp, utemp).
public func teaChebyshevUpdate(direction d: UnsafeMutablePointer<Double>, residual r: UnsafePointer<Double>,
                               accumulating x: UnsafeMutablePointer<Double>, mi: UnsafePointer<Double>?,
                               alpha: Double, beta: Double, stride: Int, rows: Range<Int>, columns: Range<Int>) {
    for j in rows {
        let row = j * stride
        if let mi {
            for i in columns {
                d[row + i] = alpha * d[row + i] + beta * (mi[row + i] * r[row + i])
                x[row + i] += d[row + i]
            }
        } else {
            for i in columns {
                d[row + i] = alpha * d[row + i] + beta * r[row + i]
                x[row + i] += d[row + i]
            }
        }
    }
}

/// First half of an inner polynomial step: rtemp -= A sd.
public func teaInnerResidual(_ a: TeaOperator, sd: UnsafePointer<Double>, rtemp: UnsafeMutablePointer<Double>,
                             rows: Range<Int>, columns: Range<Int>) {
    for j in rows {
        let row = j * a.stride
        for i in columns { rtemp[row + i] -= a.apply(sd, row + i) }
    }
}

// MARK: Jacobi

/// One Jacobi sweep: u = (b + off-diagonal terms of un) / Di. Adds the
/// squared residual of the previous iterate, |Di (u - un)|^2 = |b - A un|^2,
/// which costs nothing extra.
public func teaJacobi(_ a: TeaOperator, previous un: UnsafePointer<Double>, into u: UnsafeMutablePointer<Double>,
                      b: UnsafePointer<Double>, rows: Range<Int>, columns: Range<Int>, rr: inout ExactSum) {
    guard !columns.isEmpty else { return }
    let s = a.stride
    withUnsafeTemporaryAllocation(of: Double.self, capacity: columns.count) { scratch in
        let residual = scratch.baseAddress!
        for j in rows {
            let row = j * s
            for i in columns {
                let o = row + i
                let off = a.rx * (a.kx[o + 1] * un[o + 1] + a.kx[o] * un[o - 1])
                    + a.ry * (a.ky[o + s] * un[o + s] + a.ky[o] * un[o - s])
                u[o] = (b[o] + off) / a.di[o]
                residual[i - columns.lowerBound] = a.di[o] * (u[o] - un[o])
            }
            rr.addProducts(residual, residual, count: columns.count)
        }
    }
}

// MARK: Plain vector operations

/// y = x on a rectangle.
public func teaCopy(_ x: UnsafePointer<Double>, into y: UnsafeMutablePointer<Double>, stride: Int,
                    rows: Range<Int>, columns: Range<Int>) {
    guard !columns.isEmpty else { return }
    for j in rows { (y + j * stride + columns.lowerBound).update(from: x + j * stride + columns.lowerBound, count: columns.count) }
}

/// y = a * x (or a * m * x when `m` is given) on a rectangle.
public func teaScale(_ x: UnsafePointer<Double>, by a: Double, times m: UnsafePointer<Double>? = nil,
                     into y: UnsafeMutablePointer<Double>, stride: Int, rows: Range<Int>, columns: Range<Int>) {
    for j in rows {
        let row = j * stride
        if let m { for i in columns { y[row + i] = a * (m[row + i] * x[row + i]) } }
        else { for i in columns { y[row + i] = a * x[row + i] } }
    }
}

// MARK: Field summary

/// TeaLeaf's field summary over a rectangle: cell mass = volume * density,
/// then sums of mass, mass * energy and mass * u (the temperature sum U).
public func teaFieldSummary(density: UnsafePointer<Double>, energy: UnsafePointer<Double>, u: UnsafePointer<Double>,
                            volume: Double, stride: Int, rows: Range<Int>, columns: Range<Int>,
                            mass: inout ExactSum, internalEnergy: inout ExactSum, temperature: inout ExactSum) {
    guard !columns.isEmpty else { return }
    let n = columns.count
    withUnsafeTemporaryAllocation(of: Double.self, capacity: n) { scratch in
        let cellMass = scratch.baseAddress!
        for j in rows {
            let o = j * stride + columns.lowerBound
            for i in 0..<n { cellMass[i] = volume * density[o + i] }
            mass.add(UnsafePointer(cellMass), count: n)
            internalEnergy.addProducts(cellMass, energy + o, count: n)
            temperature.addProducts(cellMass, u + o, count: n)
        }
    }
}
