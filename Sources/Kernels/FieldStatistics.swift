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
///
/// Each row goes in blocks of `ExactSum.blockSize` values, two passes over
/// each (the second from L1): one that finds the minimum, the maximum and
/// the magnitudes of the values, and for each reference stores the squared
/// differences and finds the differences' magnitudes; then the exact sums,
/// told those magnitudes (`ExactSum.add(block:...)`).
public func accumulateStatistics(_ stats: inout FieldStatistics, origin: UnsafePointer<Double>, stride: Int,
                                 rows: Range<Int>, nx: Int, references: [SeparableReference]) {
    let block = ExactSum.blockSize
    let referenceCount = min(references.count, 2)
    withUnsafeTemporaryAllocation(of: Double.self, capacity: 2 * block) { scratch in
        let squares = (scratch.baseAddress!, scratch.baseAddress! + block)
        for j in rows {
            let row = origin + j * stride
            var worst: (UInt64, UInt64) = (0, 0)
            var start = 0
            while start < nx {
                let n = min(block, nx - start)
                let u = row + start
                let values = valueRange(u, n)
                stats.minimum = min(stats.minimum, values.minimum)
                stats.maximum = max(stats.maximum, values.maximum)
                stats.sum.add(block: u, count: n, largestBits: values.largestMagnitudeBits,
                              smallestNonZeroBits: values.smallestNonZeroBits)
                for r in 0..<referenceCount {
                    let reference = references[r]
                    let rowScale = reference.scale * reference.profileY[j]
                    let target = r == 0 ? squares.0 : squares.1
                    let d = squaredDifferences(u, reference.profileX + start, scale: rowScale, count: n, into: target)
                    // Squaring is monotonic in |d|: the largest square is the
                    // largest |d| squared, and the smallest |d| squared bounds
                    // the smallest non-zero square from below (0 if it underflows).
                    let largest = Double(bitPattern: d.largest), smallest = Double(bitPattern: d.smallestNonZero)
                    let squareBits = ((largest * largest).bitPattern, d.smallestNonZero == UInt64(Int64.max) ? 0
                                      : (smallest * smallest).bitPattern)
                    if r == 0 {
                        stats.squaredError.0.add(block: target, count: n, largestBits: squareBits.0, smallestNonZeroBits: squareBits.1)
                        worst.0 = max(worst.0, d.largest)
                    } else {
                        stats.squaredError.1.add(block: target, count: n, largestBits: squareBits.0, smallestNonZeroBits: squareBits.1)
                        worst.1 = max(worst.1, d.largest)
                    }
                }
                start += n
            }
            stats.maxError = (max(stats.maxError.0, Double(bitPattern: worst.0)), max(stats.maxError.1, Double(bitPattern: worst.1)))
        }
    }
}

/// A block's minimum and maximum, and the bit patterns of its largest
/// magnitude and its smallest non-zero one (see `MagnitudeRange`).
@inline(__always)
func valueRange(_ x: UnsafePointer<Double>, _ n: Int)
    -> (minimum: Double, maximum: Double, largestMagnitudeBits: UInt64, smallestNonZeroBits: UInt64) {
    var lo = SIMD4<Double>(repeating: .infinity), hi = SIMD4<Double>(repeating: -.infinity)
    var range = MagnitudeRange()
    var k = 0
    while k + 4 <= n {
        let v = UnsafeRawPointer(x + k).loadUnaligned(as: SIMD4<Double>.self)
        lo.replace(with: v, where: v .< lo)
        hi.replace(with: v, where: v .> hi)
        range.see(v)
        k += 4
    }
    var minimum = lo.min(), maximum = hi.max()
    while k < n {
        let v = x[k]
        minimum = v < minimum ? v : minimum
        maximum = v > maximum ? v : maximum
        range.see(v)
        k += 1
    }
    return (minimum, maximum, range.largest, range.smallestNonZero)
}

/// d = u - scale * px (as the reference is evaluated), d * d stored in
/// `squares`; returns the bit patterns of the largest |d| and the smallest
/// non-zero one (see `MagnitudeRange`).
@inline(__always)
func squaredDifferences(_ u: UnsafePointer<Double>, _ px: UnsafePointer<Double>, scale: Double, count n: Int,
                        into squares: UnsafeMutablePointer<Double>) -> (largest: UInt64, smallestNonZero: UInt64) {
    let s = SIMD4<Double>(repeating: scale)
    var range = MagnitudeRange()
    var k = 0
    while k + 4 <= n {
        let d = UnsafeRawPointer(u + k).loadUnaligned(as: SIMD4<Double>.self)
            - s * UnsafeRawPointer(px + k).loadUnaligned(as: SIMD4<Double>.self)
        UnsafeMutableRawPointer(squares + k).storeBytes(of: d * d, as: SIMD4<Double>.self)
        range.see(d)
        k += 4
    }
    while k < n {
        let d = u[k] - scale * px[k]
        squares[k] = d * d
        range.see(d)
        k += 1
    }
    return (range.largest, range.smallestNonZero)
}
