/// The one-pass way of exact summation, for the terms of an array after its
/// first block (see `ExactSum+Blocks` for the split itself).
///
/// The short way needs the block's magnitudes before it splits: a pass that
/// finds them, then one that splits. Magnitudes change slowly along the
/// arrays we sum (fields, residuals), so the one-pass way splits a chunk of
/// up to 2^11 terms against a sigma predicted from the block before, in the
/// pass that also finds the chunk's own magnitudes; those tell afterwards
/// whether the split was exact. Where it was not (magnitudes above the
/// prediction, or spread wider than the chunk's length allows; NaN or
/// infinity), nothing is added and the caller adds the chunk the measured
/// way. Chunks grow while they succeed and shrink where they fail, down to
/// one block. Kernels that make their terms as they go (diagnostics) feed
/// `OnePassLanes` themselves and hand the result to `ExactSum.add(_:)`.
///
/// The split differs from the short way's in one point: sigma = 1.5 * 2^p,
/// so that every t = sigma + x (|x| < 2^(p-2)) lies in sigma's binade, and
/// q = t - sigma is t's bit pattern less sigma's, in units of 2^(p-52). The
/// q's then add up as integers (on the vector integer units, which leaves
/// the floating-point adders free), exactly, and their sum needs no room:
/// p is only 2 binades above the largest term. The remainders r = x - q
/// (|r| <= 2^(p-53), multiples of the last bit of their term) of n <= 2^m
/// terms still add up exactly in floating point while that bit is at least
/// 2^(p-106+m) (with one binade to spare: 2^(p-105+m)).
extension ExactSum {
    /// The terms of the one-pass way at most: 2^11.
    static let largestChunkLog2 = 11

    /// Adds the next chunk of an array's terms in one pass where that is
    /// exact; returns false, adding nothing, where not. `terms(k)` gives
    /// terms k..<k+4, `term(k)` term k. Two sets of lanes, so that the
    /// additions overlap.
    @inline(__always)
    mutating func addInOnePass(count n: Int, terms: (Int) -> SIMD4<Double>, term: (Int) -> Double) -> Bool {
        guard var lanes = onePassLanes(count: n) else { return false }
        var other = lanes
        var magnitudes = LaneMagnitudes(), otherMagnitudes = LaneMagnitudes()
        var k = 0
        while k + 8 <= n {
            let v = terms(k), w = terms(k + 4)
            lanes.add(v)
            other.add(w)
            magnitudes.see(v)
            otherMagnitudes.see(w)
            k += 8
        }
        if k + 4 <= n {
            let v = terms(k)
            lanes.add(v)
            magnitudes.see(v)
            k += 4
        }
        while k < n {
            let v = SIMD4(term(k), 0, 0, 0)
            lanes.add(v)
            magnitudes.see(v)
            k += 1
        }
        lanes.merge(other)
        magnitudes.merge(otherMagnitudes)
        return add(lanes.split(magnitudes))
    }

    /// Empty lanes for the next `count` terms (at most 2^`chunkLog2`), or nil without a prediction.
    @inline(__always)
    func onePassLanes(count n: Int) -> OnePassLanes? {
        if predictedLargestBiased == 0 { return nil }
        let m = max(Self.blockLog2, Int.bitWidth - (n - 1).leadingZeroBitCount)
        return OnePassLanes(exponent: predictedLargestBiased - 1020, termsLog2: m)
    }

    /// Adds a one-pass split where it is exact and returns true; otherwise
    /// adds nothing and returns false (the caller adds the terms the measured way).
    @inline(__always)
    mutating func add(_ split: OnePassSplit) -> Bool {
        guard isExact(split) else {
            missedOnePass()
            return false
        }
        addExact(split)
        return true
    }

    /// Whether a one-pass split is exact: its terms were finite and within the prediction.
    @inline(__always)
    func isExact(_ split: OnePassSplit) -> Bool {
        if split.largestBits == 0 { return split.low == 0 }   // every term is zero (NaN would make low NaN)
        let biasedLargest = Int(split.largestBits >> 52), biasedSmallest = max(Int(split.smallestNonZeroBits >> 52), 1)
        return split.low.isFinite && biasedLargest <= predictedLargestBiased
            && split.exponent <= biasedSmallest - 970 - split.termsLog2
    }

    /// Adds an exact one-pass split (`isExact`); the next chunk may be larger.
    @inline(__always)
    mutating func addExact(_ split: OnePassSplit) {
        if split.largestBits != 0 {
            add(split.high.0)
            add(split.high.1)
            add(split.low)
        }
        predictSplit(largestBits: split.largestBits, smallestNonZeroBits: split.smallestNonZeroBits)
        chunkLog2 = min(chunkLog2 + 1, Self.largestChunkLog2)
    }

    /// After a one-pass split that was not exact: measure the next block, and take smaller chunks.
    @inline(__always)
    mutating func missedOnePass() {
        predictedLargestBiased = 0
        chunkLog2 = max(chunkLog2 - 1, Self.blockLog2)
    }

    /// The bound on the next chunk's magnitudes: one binade of room above
    /// this block's largest, where this block's range leaves room for a
    /// block (otherwise the next block is measured). After zeros only, the
    /// bound of the subnormals: the next chunk of zeros takes the one-pass
    /// way, and anything else misses.
    @inline(__always)
    mutating func predictSplit(largestBits: UInt64, smallestNonZeroBits: UInt64) {
        let biasedLargest = Int(largestBits >> 52), biasedSmallest = max(Int(smallestNonZeroBits >> 52), 1)
        let fits = biasedLargest < 0x7E0 && biasedLargest + 1 - biasedSmallest <= 50 - Self.blockLog2
        predictedLargestBiased = fits ? biasedLargest + 1 : 0
    }
}

/// Vector lanes of a one-pass split, sigma = 1.5 * 2^exponent, for at most
/// 2^termsLog2 terms: the sum of the bit patterns of t = sigma + x (wrapping
/// round; less those of sigma, the q's in units of 2^(exponent-52)), and the
/// sum of r = x - (t - sigma).
struct OnePassLanes {
    let exponent: Int, termsLog2: Int
    private let sigma: SIMD4<Double>
    private var high = SIMD4<UInt64>(), low = SIMD4<Double>()
    private var vectors = 0

    @inline(__always)
    init(exponent: Int, termsLog2: Int) {
        self.exponent = exponent
        self.termsLog2 = termsLog2
        sigma = SIMD4(repeating: Double(bitPattern: UInt64(exponent + 1023) << 52 | 1 << 51))
    }

    @inline(__always)
    mutating func add(_ x: SIMD4<Double>) {
        let t = sigma + x
        high &+= unsafeBitCast(t, to: SIMD4<UInt64>.self)
        low += x - (t - sigma)
        vectors &+= 1
    }

    /// Adds other lanes of the same split (exact where the split is).
    @inline(__always)
    mutating func merge(_ other: OnePassLanes) {
        high &+= other.high
        low += other.low
        vectors &+= other.vectors
    }

    /// The sum of the q's, as two doubles (exact: 26 and at most 37 significant bits).
    @inline(__always)
    private var highSums: (Double, Double) {
        let units = Int64(bitPattern: high.wrappedSum() &- UInt64(4 * vectors) &* sigma[0].bitPattern)
        let lowPart = units & ((1 << 26) - 1)
        let unit = exponent > -970 ? Double(bitPattern: UInt64(exponent - 52 + 1023) << 52)
            : Double(sign: .plus, exponent: exponent - 52, significand: 1)   // subnormal
        return (Double(units - lowPart) * unit, Double(lowPart) * unit)
    }

    /// The split, with the magnitudes of its terms.
    @inline(__always)
    func split(_ magnitudes: LaneMagnitudes) -> OnePassSplit {
        split(largestBits: magnitudes.largestBits, smallestNonZeroBits: magnitudes.smallestNonZeroBits)
    }

    @inline(__always)
    func split(largestBits: UInt64, smallestNonZeroBits: UInt64) -> OnePassSplit {
        OnePassSplit(high: highSums, low: low.sum(), exponent: exponent, termsLog2: termsLog2,
                     largestBits: largestBits, smallestNonZeroBits: smallestNonZeroBits)
    }
}

/// A finished one-pass split: the sum of its q's (two doubles) and of its r's, and the magnitudes of its terms.
struct OnePassSplit {
    let high: (Double, Double), low: Double
    let exponent: Int, termsLog2: Int
    let largestBits: UInt64, smallestNonZeroBits: UInt64
}

/// The largest magnitude of the values it sees and the smallest non-zero
/// one, as bit patterns of non-negative doubles (integer order is numeric
/// order; NaN counts as larger than infinity): 0 and Int64.max while it has
/// seen only zeros. Tracked with unsigned vector max and min (integer units,
/// which leave the floating-point adders to a split), the smallest as the
/// bit pattern of |x| less one, where a zero wraps round to the largest.
/// Explicit lanes with selects: Swift's generic pointwise min and max, and
/// plain loops with `max`, stay scalar.
struct LaneMagnitudes {
    private var large = SIMD4<UInt64>(), small = SIMD4<UInt64>(repeating: .max)

    @inline(__always)
    mutating func see(_ x: SIMD4<Double>) {
        let magnitude = unsafeBitCast(x, to: SIMD4<UInt64>.self) & SIMD4(repeating: UInt64(Int64.max))
        large.replace(with: magnitude, where: magnitude .> large)
        seeSmallest(magnitude)
    }

    /// One value, in lanes of its own (zeros in the others change nothing).
    @inline(__always)
    mutating func see(_ x: Double) { see(SIMD4(x, 0, 0, 0)) }

    /// Tracks only the smallest non-zero magnitude, given as bit patterns.
    @inline(__always)
    mutating func seeSmallest(_ magnitude: SIMD4<UInt64>) {
        let below = magnitude &- 1
        small.replace(with: below, where: below .< small)
    }

    /// Tracks only the smallest non-zero magnitude, of terms that are magnitudes already (x >= 0).
    @inline(__always)
    mutating func seeSmallest(_ magnitude: SIMD4<Double>) {
        seeSmallest(unsafeBitCast(magnitude, to: SIMD4<UInt64>.self))
    }

    @inline(__always)
    mutating func merge(_ other: LaneMagnitudes) {
        large.replace(with: other.large, where: other.large .> large)
        small.replace(with: other.small, where: other.small .< small)
    }

    var largestBits: UInt64 { max(large[0], large[1], large[2], large[3]) }

    var smallestNonZeroBits: UInt64 {
        let m = min(small[0], small[1], small[2], small[3])
        return m == .max ? UInt64(Int64.max) : m + 1
    }
}
