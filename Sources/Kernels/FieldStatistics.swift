/// Reductions over a field block, per thread: the exact sum of the values,
/// their minimum and maximum, and, against up to two separable reference
/// solutions r(i, j) = (scale * py[j]) * px[i], the exact sum of squared
/// differences and the largest difference. Exact sums and min/max make the
/// merged result independent of how the grid is split.
public struct FieldStatistics: BitwiseCopyable, Sendable {
    public var sum = ExactSum()
    public var minimum = Double.infinity
    public var maximum = -Double.infinity
    public var squaredError = (ExactSum(), ExactSum())
    public var maxError = (0.0, 0.0)

    public init() {}

    /// Adds another thread's or rank's statistics.
    public mutating func merge(_ other: FieldStatistics) {
        sum.add(other.sum)
        minimum = min(minimum, other.minimum)
        maximum = max(maximum, other.maximum)
        squaredError.0.add(other.squaredError.0)
        squaredError.1.add(other.squaredError.1)
        maxError = (max(maxError.0, other.maxError.0), max(maxError.1, other.maxError.1))
    }
}

/// A reference solution that is a product of a profile along x and one along y.
public struct SeparableReference {
    public var profileX: UnsafePointer<Double>
    public var profileY: UnsafePointer<Double>
    public var scale: Double

    public init(profileX: UnsafePointer<Double>, profileY: UnsafePointer<Double>, scale: Double) {
        self.profileX = profileX
        self.profileY = profileY
        self.scale = scale
    }

    /// The reference value at (i, j), always evaluated in this order.
    @inline(__always)
    func value(_ i: Int, _ j: Int) -> Double { (scale * profileY[j]) * profileX[i] }
}

/// Accumulates the statistics of rows `rows`, columns 0..<nx of a block
/// (row-major, `stride`, `origin` = point (0, 0)) into `stats`. The profiles
/// of the references are indexed by local i and j.
public func accumulateStatistics(_ stats: inout FieldStatistics, origin: UnsafePointer<Double>, stride: Int,
                                 rows: Range<Int>, nx: Int, references: [SeparableReference]) {
    let block = ExactSum.blockSize
    withUnsafeTemporaryAllocation(of: Double.self, capacity: 2 * block) { scratch in
        let differences = scratch.baseAddress!, squares = differences + block
        for j in rows {
            let row = origin + j * stride
            stats.sum.add(row, count: nx)
            let (lo, hi) = minMax(row, nx)
            stats.minimum = min(stats.minimum, lo)
            stats.maximum = max(stats.maximum, hi)
            for (r, reference) in references.prefix(2).enumerated() {
                let rowScale = reference.scale * reference.profileY[j]
                var worst: UInt64 = 0
                var start = 0
                while start < nx {
                    let n = min(block, nx - start)
                    let u = row + start, px = reference.profileX + start
                    // Plain loops without reductions: these vectorise.
                    for k in 0..<n { differences[k] = u[k] - rowScale * px[k] }
                    for k in 0..<n { squares[k] = differences[k] * differences[k] }
                    if r == 0 { stats.squaredError.0.add(squares, count: n) } else { stats.squaredError.1.add(squares, count: n) }
                    worst = max(worst, maxMagnitudeBits(differences, n))
                    start += n
                }
                let largest = Double(bitPattern: worst)
                if r == 0 { stats.maxError.0 = max(stats.maxError.0, largest) } else { stats.maxError.1 = max(stats.maxError.1, largest) }
            }
        }
    }
}

@inline(__always)
func minMax(_ x: UnsafePointer<Double>, _ n: Int) -> (Double, Double) {
    var lo0 = Double.infinity, lo1 = Double.infinity, hi0 = -Double.infinity, hi1 = -Double.infinity
    var k = 0
    while k + 2 <= n {
        let a = x[k], b = x[k + 1]
        lo0 = a < lo0 ? a : lo0; hi0 = a > hi0 ? a : hi0
        lo1 = b < lo1 ? b : lo1; hi1 = b > hi1 ? b : hi1
        k += 2
    }
    if k < n { lo0 = min(lo0, x[k]); hi0 = max(hi0, x[k]) }
    return (min(lo0, lo1), max(hi0, hi1))
}
