import CKernelShims

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
/// A row goes in chunks of up to 2^11 values, each in one pass that finds
/// the minimum and maximum and, for each reference, the largest difference,
/// and splits the values and the squared differences for the exact sums
/// as it goes (`ExactSum+OnePass`). Where a split turns out inexact
/// (magnitudes outside what the chunk before predicted; NaN or infinity),
/// the chunk is done again the measured way, block by block.
public func accumulateStatistics(_ stats: inout FieldStatistics, origin: UnsafePointer<Double>, stride: Int,
                                 rows: Range<Int>, nx: Int, references: [SeparableReference]) {
    let referenceCount = min(references.count, 2)
    withUnsafeTemporaryAllocation(of: Double.self, capacity: 2 * ExactSum.blockSize) { scratch in
        for j in rows {
            let row = origin + j * stride
            let rowReferences = RowReferences(references, count: referenceCount, row: j)
            var start = 0
            while start < nx {
                var chunkLog2 = stats.sum.chunkLog2
                if referenceCount > 0 { chunkLog2 = min(chunkLog2, stats.squaredError.0.chunkLog2) }
                if referenceCount > 1 { chunkLog2 = min(chunkLog2, stats.squaredError.1.chunkLog2) }
                let n = min(1 << chunkLog2, nx - start)
                if !accumulateInOnePass(&stats, row + start, count: n, from: start, rowReferences) {
                    accumulateMeasured(&stats, row + start, count: n, from: start, rowReferences,
                                       squares: (scratch.baseAddress!, scratch.baseAddress! + ExactSum.blockSize))
                }
                start += n
            }
        }
    }
}

/// A reference along one row: scale * px[i].
struct RowReference {
    let profileX: UnsafePointer<Double>
    let scale: Double
}

/// The first `count` (at most two) references along row j, without an allocation per row.
struct RowReferences {
    let count: Int
    private let references: (RowReference, RowReference)

    init(_ all: [SeparableReference], count: Int, row j: Int) {
        self.count = count
        func along(_ r: Int) -> RowReference {
            r < count ? RowReference(profileX: all[r].profileX, scale: all[r].scale * all[r].profileY[j])
                : RowReference(profileX: all.first?.profileX ?? UnsafePointer(bitPattern: 8)!, scale: 0)   // never read
        }
        references = (along(0), along(1))
    }

    subscript(r: Int) -> RowReference { r == 0 ? references.0 : references.1 }
}

/// The one-pass way over `count` values starting at column `first`: false,
/// adding nothing, where a split is missing or inexact.
@inline(__always)
private func accumulateInOnePass(_ stats: inout FieldStatistics, _ u: UnsafePointer<Double>, count n: Int, from first: Int,
                                 _ references: RowReferences) -> Bool {
    // One loop per number of references (a generic specialisation each), without a branch inside.
    switch references.count {
    case 0: accumulateInOnePass(&stats, u, count: n, from: first, references, NoReference.self)
    case 1: accumulateInOnePass(&stats, u, count: n, from: first, references, OneReference.self)
    default: accumulateInOnePass(&stats, u, count: n, from: first, references, TwoReferences.self)
    }
}

/// How many references a loop compares against, as a type.
private protocol ReferenceCount { static var value: Int { get } }
private enum NoReference: ReferenceCount { static var value: Int { 0 } }
private enum OneReference: ReferenceCount { static var value: Int { 1 } }
private enum TwoReferences: ReferenceCount { static var value: Int { 2 } }

/// The terms of one reference along a chunk: d = u - scale * px, as the
/// reference is evaluated; the split of d * d, the largest |d|, and the
/// smallest non-zero d * d.
private struct ErrorLanes {
    let scale: SIMD4<Double>
    let profileX: UnsafePointer<Double>
    var squares: OnePassLanes<OneBand>
    /// The largest |d|, and the smallest non-zero d * d.
    var worst = LaneMagnitudes(), magnitudes = LaneMagnitudes()

    @inline(__always)
    init(_ reference: RowReference, from first: Int, lanes: OnePassLanes<OneBand>) {
        scale = SIMD4(repeating: reference.scale)
        profileX = reference.profileX + first
        squares = lanes
    }

    @inline(__always)
    mutating func add(_ u: SIMD4<Double>, _ px: SIMD4<Double>) {
        let d = u - scale * px
        worst.seeLargest(LaneMagnitudes.magnitudes(d))
        let square = d * d
        squares.add(square)
        magnitudes.seeSmallest(square)
    }

    @inline(__always)
    mutating func add(_ u: SIMD4<Double>, at k: Int) {
        add(u, UnsafeRawPointer(profileX + k).loadUnaligned(as: SIMD4<Double>.self))
    }

    /// The largest |d|, and the split: the largest square is the largest |d| squared (squaring is monotonic).
    @inline(__always)
    var result: (worst: Double, split: OnePassSplit<OneBand>) {
        let largest = Double(bitPattern: worst.largestBits)
        return (largest, squares.split(largestBits: (largest * largest).bitPattern,
                                       smallestNonZeroBits: magnitudes.smallestNonZeroBits))
    }
}

private func accumulateInOnePass<Count: ReferenceCount>(_ stats: inout FieldStatistics, _ u: UnsafePointer<Double>,
                                                        count n: Int, from first: Int, _ references: RowReferences,
                                                        _: Count.Type) -> Bool {
    let referenceCount = Count.value
    guard let valueLanes = stats.sum.onePassLanes(count: n) else { return false }
    // Lanes for two references; those beyond referenceCount stay unused.
    var errors = (ErrorLanes(references[0], from: first, lanes: valueLanes),
                  ErrorLanes(references[1], from: first, lanes: valueLanes))
    if referenceCount > 0 {
        guard let lanes = stats.squaredError.0.onePassLanes(count: n) else { return false }
        errors.0.squares = lanes
    }
    if referenceCount > 1 {
        guard let lanes = stats.squaredError.1.onePassLanes(count: n) else { return false }
        errors.1.squares = lanes
    }
    var values = valueLanes, magnitudes = LaneMagnitudes()
    var lo = SIMD4<Double>(repeating: .infinity), hi = SIMD4<Double>(repeating: -.infinity)
    var k = 0
    while k + 4 <= n {
        // Ahead of the hardware prefetchers, as the sweep does: a core keeps more misses in flight.
        kernels_prefetch(u + k + prefetchAheadRead)
        let v = UnsafeRawPointer(u + k).loadUnaligned(as: SIMD4<Double>.self)
        lo.replace(with: v, where: v .< lo)
        hi.replace(with: v, where: v .> hi)
        values.add(v)
        magnitudes.seeSmallest(LaneMagnitudes.magnitudes(v))
        if referenceCount > 0 { errors.0.add(v, at: k) }
        if referenceCount > 1 { errors.1.add(v, at: k) }
        k += 4
    }
    while k < n {
        // The last values one by one, in lanes of their own: copies of the
        // value leave the minimum and maximum alone, zeros the sums.
        let x = u[k]
        lo.replace(with: SIMD4(repeating: x), where: SIMD4(repeating: x) .< lo)
        hi.replace(with: SIMD4(repeating: x), where: SIMD4(repeating: x) .> hi)
        let v = SIMD4(x, 0, 0, 0)
        values.add(v)
        magnitudes.seeSmallest(SIMD4(abs(x), 0, 0, 0))
        if referenceCount > 0 { errors.0.add(v, SIMD4(errors.0.profileX[k], 0, 0, 0)) }
        if referenceCount > 1 { errors.1.add(v, SIMD4(errors.1.profileX[k], 0, 0, 0)) }
        k += 1
    }
    // The largest |u| is the larger of -minimum and maximum (NaN makes the sums NaN instead).
    let minimum = lo.min(), maximum = hi.max()
    let valueSplit = values.split(largestBits: max(-minimum, maximum).bitPattern & UInt64(Int64.max),
                                  smallestNonZeroBits: magnitudes.smallestNonZeroBits)
    let error0 = errors.0.result, error1 = errors.1.result
    let exact = (stats.sum.isExact(valueSplit),
                 referenceCount < 1 || stats.squaredError.0.isExact(error0.split),
                 referenceCount < 2 || stats.squaredError.1.isExact(error1.split))
    guard exact.0 && exact.1 && exact.2 else {
        if !exact.0 { stats.sum.missedOnePass() }
        if !exact.1 { stats.squaredError.0.missedOnePass() }
        if !exact.2 { stats.squaredError.1.missedOnePass() }
        return false
    }
    stats.minimum = min(stats.minimum, minimum)
    stats.maximum = max(stats.maximum, maximum)
    stats.sum.addExact(valueSplit)
    if referenceCount > 0 {
        stats.squaredError.0.addExact(error0.split)
        stats.maxError.0 = max(stats.maxError.0, error0.worst)
    }
    if referenceCount > 1 {
        stats.squaredError.1.addExact(error1.split)
        stats.maxError.1 = max(stats.maxError.1, error1.worst)
    }
    return true
}

/// The measured way over `count` values starting at column `first`, in
/// blocks of `ExactSum.blockSize`, two passes over each (the second from
/// L1): one that finds the minimum, the maximum and the magnitudes of the
/// values, and for each reference stores the squared differences and finds
/// the differences' magnitudes; then the exact sums, told those magnitudes
/// (`ExactSum.add(block:...)`), which also predict the next chunk's.
private func accumulateMeasured(_ stats: inout FieldStatistics, _ values: UnsafePointer<Double>, count: Int, from first: Int,
                                _ references: RowReferences,
                                squares: (UnsafeMutablePointer<Double>, UnsafeMutablePointer<Double>)) {
    var worst: (UInt64, UInt64) = (0, 0)
    var start = 0
    while start < count {
        let n = min(ExactSum.blockSize, count - start)
        let u = values + start
        let range = valueRange(u, n)
        stats.minimum = min(stats.minimum, range.minimum)
        stats.maximum = max(stats.maximum, range.maximum)
        stats.sum.add(block: u, count: n, largestBits: range.largestMagnitudeBits, smallestNonZeroBits: range.smallestNonZeroBits)
        stats.sum.predictSplit(largestBits: range.largestMagnitudeBits, smallestNonZeroBits: range.smallestNonZeroBits)
        for r in 0..<references.count {
            let reference = references[r]
            let target = r == 0 ? squares.0 : squares.1
            let d = squaredDifferences(u, reference.profileX + first + start, scale: reference.scale, count: n, into: target)
            // Squaring is monotonic in |d|: the largest square is the
            // largest |d| squared, and the smallest |d| squared bounds
            // the smallest non-zero square from below (0 if it underflows).
            let largest = Double(bitPattern: d.largest), smallest = Double(bitPattern: d.smallestNonZero)
            let squareBits = ((largest * largest).bitPattern, d.smallestNonZero == UInt64(Int64.max) ? 0
                              : (smallest * smallest).bitPattern)
            if r == 0 {
                stats.squaredError.0.add(block: target, count: n, largestBits: squareBits.0, smallestNonZeroBits: squareBits.1)
                stats.squaredError.0.predictSplit(largestBits: squareBits.0, smallestNonZeroBits: squareBits.1)
                worst.0 = max(worst.0, d.largest)
            } else {
                stats.squaredError.1.add(block: target, count: n, largestBits: squareBits.0, smallestNonZeroBits: squareBits.1)
                stats.squaredError.1.predictSplit(largestBits: squareBits.0, smallestNonZeroBits: squareBits.1)
                worst.1 = max(worst.1, d.largest)
            }
        }
        start += n
    }
    stats.maxError = (max(stats.maxError.0, Double(bitPattern: worst.0)), max(stats.maxError.1, Double(bitPattern: worst.1)))
}

/// A block's minimum and maximum, and the bit patterns of its largest
/// magnitude and its smallest non-zero one (see `LaneMagnitudes`).
@inline(__always)
func valueRange(_ x: UnsafePointer<Double>, _ n: Int)
    -> (minimum: Double, maximum: Double, largestMagnitudeBits: UInt64, smallestNonZeroBits: UInt64) {
    var lo = SIMD4<Double>(repeating: .infinity), hi = SIMD4<Double>(repeating: -.infinity)
    var range = LaneMagnitudes()
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
    return (minimum, maximum, range.largestBits, range.smallestNonZeroBits)
}

/// d = u - scale * px (as the reference is evaluated), d * d stored in
/// `squares`; returns the bit patterns of the largest |d| and the smallest
/// non-zero one (see `LaneMagnitudes`).
@inline(__always)
func squaredDifferences(_ u: UnsafePointer<Double>, _ px: UnsafePointer<Double>, scale: Double, count n: Int,
                        into squares: UnsafeMutablePointer<Double>) -> (largest: UInt64, smallestNonZero: UInt64) {
    let s = SIMD4<Double>(repeating: scale)
    var range = LaneMagnitudes()
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
    return (range.largestBits, range.smallestNonZeroBits)
}
