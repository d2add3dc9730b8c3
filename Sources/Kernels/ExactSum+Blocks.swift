/// Fast exact summation of arrays: error-free splitting in blocks.
///
/// Adding doubles one by one into the digits costs ~2 ns each (a scatter into
/// memory). Instead, a block of B = 256 values is split against sigma = 2^p,
/// p chosen from the block's largest magnitude M (M < 2^e) as p = e + 9:
///
///     q = (sigma + x) - sigma      (x rounded to a multiple of 2^(p-53); exact)
///     r = x - q                    (the rounding error; exact)
///
/// Every q is a multiple of 2^(p-53) and |sum of q| < B * 2^(e+1) <= 2^p, so
/// the q's of a block add up exactly in plain double arithmetic, in any
/// order, in vector lanes. That one exact double goes into the digits. The
/// remainders r (|r| <= 2^(p-53)) are split again, until they are all zero;
/// each level takes 44 more bits, and one pass does two levels, so smooth
/// data needs one pass. The result is still the exact sum: nothing is ever
/// rounded away.
///
/// Most blocks take a shorter way: when the smallest non-zero magnitude is
/// within 2^35 of the largest, every remainder r is a multiple of the
/// smallest value's last bit, and 256 of them (|r| <= 2^(p-53)) add up
/// exactly in plain double arithmetic too. One pass then sums the q's and
/// the r's (four additions per value, no stores), and two exact adds take
/// the block.
extension ExactSum {
    public static let blockSize = 256
    static let blockLog2 = 8

    /// Adds `count` consecutive doubles, exactly.
    public mutating func add(_ values: UnsafePointer<Double>, count: Int) {
        withUnsafeTemporaryAllocation(of: Double.self, capacity: Self.blockSize) { scratch in
            let remainders = scratch.baseAddress!
            var start = 0
            while start < count {
                let n = min(Self.blockSize, count - start)
                addBlock(values + start, count: n, remainders: remainders)
                start += n
            }
        }
    }

    private mutating func addBlock(_ block: UnsafePointer<Double>, count n: Int,
                                   remainders: UnsafeMutablePointer<Double>) {
        var source = block
        let (largestFirst, smallest) = magnitudeRange(source, n)
        var largest = largestFirst
        let biasedLargest = Int(largest >> 52), biasedSmallest = max(Int(smallest >> 52), 1)
        // |x| < 2^(biased - 1022), sigma = 2^p as below; the remainders are
        // multiples of 2^(biasedSmallest - 1075) and their sum stays below
        // 2^(p - 45): exact while biasedLargest - biasedSmallest <= 36.
        if largest != 0 && biasedLargest < 0x7F0 && biasedLargest - biasedSmallest <= 35 {
            let p = biasedLargest - 1022 + Self.blockLog2 + 1
            let (high, low) = splitOnce(source, count: n, sigma: Double(sign: .plus, exponent: p, significand: 1))
            add(high)
            add(low)
            return
        }
        var left = n
        while largest != 0 {
            let biased = Int(largest >> 52)
            // |x| < 2^(biased - 1022). The first level leaves |r| <= 2^(p-53),
            // so the second level's sigma is known before the pass: two
            // levels in one sweep.
            let p = biased - 1022 + Self.blockLog2 + 1
            let p2 = p - 53 + Self.blockLog2 + 1
            if biased == 0x7FF || p > 1023 || p2 <= -1022 {
                // NaN or infinity; a sigma that would overflow; or magnitudes
                // below 2^-987, where the second sigma would not be a normal
                // double (subnormals included). Rare: add one by one.
                addNonZero(source, count: n)
                return
            }
            let sigmas = (Double(sign: .plus, exponent: p, significand: 1), Double(sign: .plus, exponent: p2, significand: 1))
            let (levelSums, stillLeft) = splitTwoLevels(source, count: n, sigmas: sigmas, remainders: remainders)
            add(levelSums.0)
            add(levelSums.1)
            source = UnsafePointer(remainders)
            if stillLeft == 0 { return }
            // A pass costs about as much as adding n/8 values one by one.
            // Values spread over a wide range (a field decaying over many
            // orders of magnitude) leave many behind per pass: once a pass
            // captures fewer than n/8, or fewer than n/8 are left, add the
            // rest one by one.
            if stillLeft * 8 <= n || (left - stillLeft) * 8 < n {
                addNonZero(source, count: n)
                return
            }
            left = stillLeft
            largest = maxMagnitudeBits(source, n)
        }
    }

    /// Adds the non-zero values one by one (exact, ~2 ns each).
    private mutating func addNonZero(_ values: UnsafePointer<Double>, count n: Int) {
        for k in 0..<n where values[k] != 0 { add(values[k]) }
    }
}

/// The largest |x| of a block, as the bit pattern of a non-negative double
/// (integer order equals numeric order; NaN compares above infinity).
@inline(__always)
func maxMagnitudeBits(_ x: UnsafePointer<Double>, _ n: Int) -> UInt64 {
    let bits = UnsafeRawPointer(x).assumingMemoryBound(to: Int64.self)
    var m0: Int64 = 0, m1: Int64 = 0, m2: Int64 = 0, m3: Int64 = 0
    var k = 0
    while k + 4 <= n {
        let a0 = bits[k] & Int64.max, a1 = bits[k + 1] & Int64.max
        let a2 = bits[k + 2] & Int64.max, a3 = bits[k + 3] & Int64.max
        m0 = a0 > m0 ? a0 : m0; m1 = a1 > m1 ? a1 : m1
        m2 = a2 > m2 ? a2 : m2; m3 = a3 > m3 ? a3 : m3
        k += 4
    }
    while k < n { let a = bits[k] & Int64.max; m0 = a > m0 ? a : m0; k += 1 }
    return UInt64(max(max(m0, m1), max(m2, m3)))
}

/// The largest |x| of a block and the smallest non-zero one, as bit
/// patterns (0 and Int64.max when every value is zero). Explicit lanes
/// with selects: Swift's generic pointwise min and max, and plain loops,
/// stay scalar.
@inline(__always)
func magnitudeRange(_ x: UnsafePointer<Double>, _ n: Int) -> (largest: UInt64, smallestNonZero: UInt64) {
    let bits = UnsafeRawPointer(x)
    let magnitude = SIMD4<Int64>(repeating: .max), zero = SIMD4<Int64>()
    var high0 = zero, high1 = zero, low0 = magnitude, low1 = magnitude
    var k = 0
    while k + 8 <= n {
        let a = bits.loadUnaligned(fromByteOffset: k * 8, as: SIMD4<Int64>.self) & magnitude
        let b = bits.loadUnaligned(fromByteOffset: k * 8 + 32, as: SIMD4<Int64>.self) & magnitude
        high0.replace(with: a, where: a .> high0)
        high1.replace(with: b, where: b .> high1)
        let a1 = a.replacing(with: magnitude, where: a .== zero), b1 = b.replacing(with: magnitude, where: b .== zero)
        low0.replace(with: a1, where: a1 .< low0)
        low1.replace(with: b1, where: b1 .< low1)
        k += 8
    }
    high0.replace(with: high1, where: high1 .> high0)
    low0.replace(with: low1, where: low1 .< low0)
    var high = high0.max(), low = low0.min()
    while k < n {
        let a = bits.load(fromByteOffset: k * 8, as: Int64.self) & .max
        high = max(high, a)
        if a != 0 { low = min(low, a) }
        k += 1
    }
    return (UInt64(high), UInt64(low))
}

/// One splitting level whose remainders add up exactly (see `addBlock`):
/// the sums of q = (sigma + x) - sigma and of r = x - q.
@inline(__always)
func splitOnce(_ x: UnsafePointer<Double>, count n: Int, sigma: Double) -> (Double, Double) {
    let s = SIMD4<Double>(repeating: sigma)
    var high0 = SIMD4<Double>(), low0 = SIMD4<Double>(), high1 = SIMD4<Double>(), low1 = SIMD4<Double>()
    var k = 0
    while k + 8 <= n {
        let v = UnsafeRawPointer(x + k).loadUnaligned(as: SIMD4<Double>.self)
        let w = UnsafeRawPointer(x + k + 4).loadUnaligned(as: SIMD4<Double>.self)
        let q = (s + v) - s, p = (s + w) - s
        high0 += q
        low0 += v - q
        high1 += p
        low1 += w - p
        k += 8
    }
    var highTail = 0.0, lowTail = 0.0
    while k < n {
        let q = (sigma + x[k]) - sigma
        highTail += q
        lowTail += x[k] - q
        k += 1
    }
    return ((high0 + high1).sum() + highTail, (low0 + low1).sum() + lowTail)
}

/// Two splitting levels in one pass (`sigmas.1` is the second level's):
/// returns the exact sum of each level's q's and how many remainders are
/// non-zero. `source` may be `remainders` (same index in and out).
/// Explicit SIMD lanes: LLVM does not vectorise a floating-point sum by
/// itself (it may not reorder additions; here every order gives the same,
/// exact, result).
@inline(__always)
func splitTwoLevels(_ source: UnsafePointer<Double>, count n: Int, sigmas: (Double, Double),
                    remainders r: UnsafeMutablePointer<Double>) -> ((Double, Double), Int) {
    let s1 = SIMD4<Double>(repeating: sigmas.0), s2 = SIMD4<Double>(repeating: sigmas.1)
    var sum1 = SIMD4<Double>(), sum2 = SIMD4<Double>()
    var nonZero = SIMD4<Int64>()
    let zero = SIMD4<Double>(), one = SIMD4<Int64>(repeating: 1), none = SIMD4<Int64>()
    var k = 0
    while k + 4 <= n {
        let x = UnsafeRawPointer(source + k).loadUnaligned(as: SIMD4<Double>.self)
        let q = (s1 + x) - s1
        sum1 += q
        let y = x - q
        let w = (s2 + y) - s2
        sum2 += w
        let rem = y - w
        UnsafeMutableRawPointer(r + k).storeBytes(of: rem, as: SIMD4<Double>.self)
        nonZero &+= none.replacing(with: one, where: rem .!= zero)
        k += 4
    }
    var tail1 = 0.0, tail2 = 0.0, nonZeroTail = 0
    while k < n {
        let x = source[k]
        let q = (sigmas.0 + x) - sigmas.0
        tail1 += q
        let y = x - q
        let w = (sigmas.1 + y) - sigmas.1
        tail2 += w
        r[k] = y - w
        if r[k] != 0 { nonZeroTail += 1 }
        k += 1
    }
    return ((sum1.sum() + tail1, sum2.sum() + tail2), Int(nonZero.wrappedSum()) + nonZeroTail)
}

extension ExactSum {
    /// Adds the products a[k] * b[k] (each rounded once, as a plain loop
    /// would) exactly: an order-independent dot product.
    public mutating func addProducts(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, count: Int) {
        withUnsafeTemporaryAllocation(of: Double.self, capacity: Self.blockSize) { scratch in
            let products = scratch.baseAddress!
            var start = 0
            while start < count {
                let n = min(Self.blockSize, count - start)
                let x = a + start, y = b + start
                for k in 0..<n { products[k] = x[k] * y[k] }
                add(UnsafePointer(products), count: n)
                start += n
            }
        }
    }
}
