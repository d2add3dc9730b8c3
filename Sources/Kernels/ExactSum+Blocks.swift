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
///
/// After the first block of an array, chunks usually take one pass
/// (`ExactSum+OnePass`); the blocks here are the measured way.
extension ExactSum {
    public static let blockSize = 256
    static let blockLog2 = 8

    /// Adds `count` consecutive doubles, exactly.
    public mutating func add(_ values: UnsafePointer<Double>, count: Int) {
        var start = 0
        while start < count {
            let n = min(1 << chunkLog2, count - start)
            let x = values + start
            if !addInOnePass(count: n, terms: { UnsafeRawPointer(x + $0).loadUnaligned(as: SIMD4<Double>.self) },
                             term: { x[$0] }) {
                var k = 0
                while k < n {
                    let b = min(Self.blockSize, n - k)
                    let range = magnitudeRange(x + k, b)
                    add(block: x + k, count: b, largestBits: range.largest, smallestNonZeroBits: range.smallestNonZero)
                    predictSplit(largestBits: range.largest, smallestNonZeroBits: range.smallestNonZero)
                    k += b
                }
            }
            start += n
        }
    }

    /// Adds a block of at most `blockSize` doubles whose magnitudes the
    /// caller already knows: `largestBits`, the bit pattern of the largest
    /// |x|, and `smallestNonZeroBits`, of a lower bound on the smallest
    /// non-zero |x| (0 when unknown; NaN counts as larger than infinity).
    /// Kernels that pass over the values anyway (diagnostics) save the pass
    /// that finds them.
    public mutating func add(block: UnsafePointer<Double>, count n: Int, largestBits: UInt64, smallestNonZeroBits: UInt64) {
        if largestBits == 0 { return }   // every value is zero
        if addSingleLevel(block, count: n, largestBits: largestBits, smallestNonZeroBits: smallestNonZeroBits) { return }
        withUnsafeTemporaryAllocation(of: Double.self, capacity: Self.blockSize) { scratch in
            addBlock(block, count: n, remainders: scratch.baseAddress!, largestBits: largestBits)
        }
    }

    /// The short way, where it is exact: returns false (adding nothing) where not.
    private mutating func addSingleLevel(_ block: UnsafePointer<Double>, count n: Int, largestBits: UInt64,
                                         smallestNonZeroBits: UInt64) -> Bool {
        let biasedLargest = Int(largestBits >> 52), biasedSmallest = max(Int(smallestNonZeroBits >> 52), 1)
        // |x| < 2^(biased - 1022), sigma = 2^p as below; the remainders are
        // multiples of 2^(biasedSmallest - 1075) and their sum stays below
        // 2^(p - 45): exact while biasedLargest - biasedSmallest <= 36.
        guard largestBits != 0 && biasedLargest < 0x7F0 && biasedLargest - biasedSmallest <= 35 else { return false }
        let p = biasedLargest - 1022 + Self.blockLog2 + 1
        let (high, low) = splitOnce(block, count: n, sigma: Double(sign: .plus, exponent: p, significand: 1))
        add(high)
        add(low)
        return true
    }

    /// The general way, for a block the short way does not take (`largestBits`: its largest |x|, not 0).
    private mutating func addBlock(_ block: UnsafePointer<Double>, count n: Int,
                                   remainders: UnsafeMutablePointer<Double>, largestBits: UInt64) {
        var source = block
        var largest = largestBits
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
            // orders of magnitude) leave many behind per pass: once fewer
            // than n/8 are left, add them one by one; otherwise the rest may
            // be narrow enough for the short way; once a pass captures fewer
            // than n/8, add the rest one by one.
            if stillLeft * 8 <= n {
                addNonZero(source, count: n)
                return
            }
            let rest = magnitudeRange(source, n)
            if addSingleLevel(source, count: n, largestBits: rest.largest, smallestNonZeroBits: rest.smallestNonZero) { return }
            if (left - stillLeft) * 8 < n {
                addNonZero(source, count: n)
                return
            }
            left = stillLeft
            largest = rest.largest
        }
    }

    /// Adds the non-zero values one by one (exact, ~2 ns each).
    private mutating func addNonZero(_ values: UnsafePointer<Double>, count n: Int) {
        for k in 0..<n where values[k] != 0 { add(values[k]) }
    }
}

/// The largest |x| of a block and the smallest non-zero one (see `LaneMagnitudes`).
@inline(__always)
func magnitudeRange(_ x: UnsafePointer<Double>, _ n: Int) -> (largest: UInt64, smallestNonZero: UInt64) {
    var range = LaneMagnitudes()
    var k = 0
    while k + 4 <= n {
        range.see(UnsafeRawPointer(x + k).loadUnaligned(as: SIMD4<Double>.self))
        k += 4
    }
    while k < n { range.see(x[k]); k += 1 }
    return (range.largestBits, range.smallestNonZeroBits)
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
    /// would) exactly: an order-independent dot product. Each block's
    /// products are stored (in L1) by the pass that finds their magnitudes.
    public mutating func addProducts(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, count: Int) {
        var start = 0
        while start < count {
            let n = min(1 << chunkLog2, count - start)
            let x = a + start, y = b + start
            let products = Products(x, y)
            if !addInOnePass(count: n, terms: { products.four($0) }, term: { products.one($0) }) {
                addProductsMeasured(x, y, count: n)
            }
            start += n
        }
    }

    /// Adds products whose one-pass split missed (`seen`: their
    /// magnitudes, `ExactSum+OnePass`): split again against those, or measured.
    mutating func addProducts(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, count n: Int,
                              afterMissing seen: LaneMagnitudes) {
        let products = Products(a, b)
        if !addAfterMiss(seen, count: n, terms: { products.four($0) }, term: { products.one($0) }) {
            addProductsMeasured(a, b, count: n)
        }
    }

    /// Adds products block by block, each stored (in L1) by the pass that finds their magnitudes.
    private mutating func addProductsMeasured(_ x: UnsafePointer<Double>, _ y: UnsafePointer<Double>, count: Int) {
        withUnsafeTemporaryAllocation(of: Double.self, capacity: Self.blockSize) { scratch in
            let stored = scratch.baseAddress!
            var start = 0
            while start < count {
                let n = min(Self.blockSize, count - start)
                let products = Products(x + start, y + start)
                var range = LaneMagnitudes()
                var k = 0
                while k + 4 <= n {
                    let p = products.four(k)
                    UnsafeMutableRawPointer(stored + k).storeBytes(of: p, as: SIMD4<Double>.self)
                    range.see(p)
                    k += 4
                }
                while k < n { stored[k] = products.one(k); range.see(stored[k]); k += 1 }
                add(block: stored, count: n, largestBits: range.largestBits, smallestNonZeroBits: range.smallestNonZeroBits)
                predictSplit(largestBits: range.largestBits, smallestNonZeroBits: range.smallestNonZeroBits)
                start += n
            }
        }
    }
}

/// The products a[k] * b[k] of two arrays, each rounded once: four from k
/// on, or one.
private struct Products {
    let a: UnsafePointer<Double>, b: UnsafePointer<Double>

    init(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>) { (self.a, self.b) = (a, b) }

    @inline(__always)
    func four(_ k: Int) -> SIMD4<Double> {
        UnsafeRawPointer(a + k).loadUnaligned(as: SIMD4<Double>.self)
            * UnsafeRawPointer(b + k).loadUnaligned(as: SIMD4<Double>.self)
    }

    @inline(__always)
    func one(_ k: Int) -> Double { a[k] * b[k] }
}
