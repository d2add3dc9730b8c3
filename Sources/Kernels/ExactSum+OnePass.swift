/// The one-pass way of exact summation, for the terms of an array after its
/// first block (see `ExactSum+Blocks` for the split itself).
///
/// The short way needs the block's magnitudes before it splits: a pass that
/// finds them, then one that splits. Magnitudes change slowly along the
/// arrays we sum (fields, residuals), so the one-pass way splits a chunk of
/// up to 2^11 terms against a sigma predicted from the chunk before, in the
/// pass that also finds the chunk's own magnitudes; those tell afterwards
/// whether the split was exact. Where it was not (magnitudes above the
/// prediction, or spread wider than the split allows), nothing is added and
/// the chunk is split again, now against its own magnitudes (from cache).
/// Only NaN, infinity and spans beyond what three bands take go the measured
/// way. Chunks grow while predictions hold and shrink where they fail, down
/// to one block. Kernels that make their terms as they go (diagnostics) feed
/// `OnePassLanes` themselves, then check the split with `isExact` and add it
/// with `addExact`.
///
/// The split differs from the short way's in one point: sigma = 1.5 * 2^p,
/// so that every t = sigma + x (|x| < 2^(p-2)) lies in sigma's binade, and
/// q = t - sigma is t's bit pattern less sigma's, in units of 2^(p-52). The
/// q's then add up as integers (on the vector integer units, which leaves
/// the floating-point adders free), exactly, and their sum needs no room:
/// p is only 2 binades above the largest term. The remainders r = x - q
/// (|r| <= 2^(p-53), multiples of the last bit of their term) of n <= 2^m
/// terms still add up exactly in floating point while that bit is at least
/// 2^(p-106+m) (with one binade to spare: 2^(p-105+m)): a span of about
/// 50 - m binades. Residuals of solvers span more (a front that decays over
/// a hundred binades): there the remainders are split again, against
/// sigma / 2^50 (two bands, 100 - m binades) and sigma / 2^100 (three, 150 - m),
/// in the same pass.
extension ExactSum {
    /// The terms of the one-pass way at most: 2^11.
    static let largestChunkLog2 = 11

    /// Adds the next chunk of an array's terms in one pass where the
    /// prediction holds, in two where it does not; returns false, adding
    /// nothing, where neither is exact (NaN, infinity, a span too wide).
    /// `terms(k)` gives terms k..<k+4, `term(k)` term k.
    @inline(__always)
    mutating func addInOnePass(count n: Int, terms: (Int) -> SIMD4<Double>, term: (Int) -> Double) -> Bool {
        if predictedLargestBiased == 0 { return false }
        let m = Self.termsLog2(n)
        switch addInBands(largestBiased: predictedLargestBiased, span: predictedLargestBiased - predictedSmallestBiased,
                          termsLog2: m, count: n, terms: terms, term: term) {
        case .added: return true
        case .tooWide: return false
        case .missed(let seen):
            return addAfterMiss(seen, count: n, terms: terms, term: term)
        }
    }

    /// After a one-pass split that missed: the chunk split again against
    /// its own magnitudes (`seen` by the pass that missed), from cache;
    /// false, adding nothing, where that is not exact either.
    @inline(__always)
    mutating func addAfterMiss(_ seen: LaneMagnitudes, count n: Int, terms: (Int) -> SIMD4<Double>,
                               term: (Int) -> Double) -> Bool {
        missedOnePass()
        let biasedLargest = Int(seen.largestBits >> 52), biasedSmallest = max(Int(seen.smallestNonZeroBits >> 52), 1)
        guard seen.largestBits != 0, biasedLargest < 0x7E0 else { return false }
        guard case .added = addInBands(largestBiased: biasedLargest, span: biasedLargest - biasedSmallest,
                                       termsLog2: Self.termsLog2(n), count: n, terms: terms, term: term) else { return false }
        return true
    }

    /// How many bands a one-pass split of the next `count` terms takes
    /// against the prediction (nil: none, or wider than three bands take).
    @inline(__always)
    func predictedBands(count n: Int) -> Int? {
        guard predictedLargestBiased != 0 else { return nil }
        return Self.bands(span: predictedLargestBiased - predictedSmallestBiased, termsLog2: Self.termsLog2(n))
    }

    /// How many bands a one-pass split of at most 2^m terms spanning `span`
    /// binades takes: 50 - m binades a band (nil: more than three).
    @inline(__always)
    static func bands(span: Int, termsLog2 m: Int) -> Int? {
        let bands = max(1, (span + m + 49) / 50)
        return bands <= 3 ? bands : nil
    }

    /// What became of a chunk: added; missed (nothing added; its magnitudes
    /// are known now); or not tried (a span beyond three bands).
    enum OnePassOutcome {
        case added, missed(LaneMagnitudes), tooWide
    }

    /// Adds a chunk in one pass with as many bands as `span` binades of
    /// terms below 2^(largestBiased - 1022) need, where that is exact.
    @_transparent
    mutating func addInBands(largestBiased: Int, span: Int, termsLog2 m: Int, count n: Int,
                             terms: (Int) -> SIMD4<Double>, term: (Int) -> Double) -> OnePassOutcome {
        // (Where the lanes of a band count are not normal, those of more bands are not either.)
        switch Self.bands(span: span, termsLog2: m) {
        case 1:
            if let lanes = OnePassLanes<OneBand>(largestBiased: largestBiased, termsLog2: m) {
                return addInOnePass(lanes, count: n, terms: terms, term: term)
            }
        case 2:
            if let lanes = OnePassLanes<TwoBands>(largestBiased: largestBiased, termsLog2: m) {
                return addInOnePass(lanes, count: n, terms: terms, term: term)
            }
        case 3:
            if let lanes = OnePassLanes<ThreeBands>(largestBiased: largestBiased, termsLog2: m) {
                return addInOnePass(lanes, count: n, terms: terms, term: term)
            }
        default: break
        }
        return .tooWide
    }

    /// One pass against `lanes`: the chunk added where the split is exact.
    @_transparent
    mutating func addInOnePass<Bands: BandCount>(_ lanes: OnePassLanes<Bands>, count n: Int,
                                                 terms: (Int) -> SIMD4<Double>, term: (Int) -> Double) -> OnePassOutcome {
        let (split, magnitudes) = Self.onePass(lanes, count: n, terms: terms, term: term)
        guard isExact(split) else { return .missed(magnitudes) }
        addExact(split)
        return .added
    }

    /// One pass over a chunk: its split against `lanes`, and its magnitudes.
    /// Two sets of lanes, so that the additions overlap. Transparent: inlined
    /// before specialisation, so that the closures inline into the loop.
    @_transparent
    static func onePass<Bands: BandCount>(_ lanes: OnePassLanes<Bands>, count n: Int, terms: (Int) -> SIMD4<Double>,
                                        term: (Int) -> Double) -> (OnePassSplit<Bands>, LaneMagnitudes) {
        var lanes = lanes, other = lanes
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
        return (lanes.split(magnitudes), magnitudes)
    }

    /// m with n <= 2^m, at least a block's.
    @inline(__always)
    static func termsLog2(_ n: Int) -> Int { max(Self.blockLog2, Int.bitWidth - (n - 1).leadingZeroBitCount) }

    /// Empty one-band lanes for the next `count` terms (at most 2^`chunkLog2`),
    /// or nil where the prediction is missing or spans wider than one band takes.
    @inline(__always)
    func onePassLanes(count n: Int) -> OnePassLanes<OneBand>? {
        let m = Self.termsLog2(n)
        guard predictedLargestBiased != 0,
              Self.bands(span: predictedLargestBiased - predictedSmallestBiased, termsLog2: m) == 1 else { return nil }
        return OnePassLanes(largestBiased: predictedLargestBiased, termsLog2: m)
    }

    /// Whether a one-pass split is exact: its terms were finite and within the prediction.
    @inline(__always)
    func isExact<Bands: BandCount>(_ split: OnePassSplit<Bands>) -> Bool {
        if split.largestBits == 0 { return split.low == 0 }   // every term is zero (NaN would make low NaN)
        let biasedLargest = Int(split.largestBits >> 52), biasedSmallest = max(Int(split.smallestNonZeroBits >> 52), 1)
        return split.low.isFinite && biasedLargest <= split.largestBiased
            && split.lowestExponent <= biasedSmallest - 970 - split.termsLog2
    }

    /// Adds an exact one-pass split (`isExact`); the next chunk may be larger.
    @inline(__always)
    mutating func addExact<Bands: BandCount>(_ split: OnePassSplit<Bands>) {
        addSums(split)
        predictSplit(largestBits: split.largestBits, smallestNonZeroBits: split.smallestNonZeroBits)
        chunkLog2 = min(chunkLog2 + 1, Self.largestChunkLog2)
    }

    /// Adds the sums of an exact one-pass split.
    @inline(__always)
    private mutating func addSums<Bands: BandCount>(_ split: OnePassSplit<Bands>) {
        guard split.largestBits != 0 else { return }
        add(split.highs.0.0)
        add(split.highs.0.1)
        if Bands.count > 1 {
            add(split.highs.1.0)
            add(split.highs.1.1)
        }
        if Bands.count > 2 {
            add(split.highs.2.0)
            add(split.highs.2.1)
        }
        add(split.low)
    }

    /// The bounds the next chunk is split against (`predictSplit`).
    struct Prediction { var largestBiased = 0, smallestBiased = 0 }

    var prediction: Prediction {
        get { Prediction(largestBiased: predictedLargestBiased, smallestBiased: predictedSmallestBiased) }
        set { (predictedLargestBiased, predictedSmallestBiased) = (newValue.largestBiased, newValue.smallestBiased) }
    }

    /// After a one-pass split that was not exact: measure the next block, and take smaller chunks.
    @inline(__always)
    mutating func missedOnePass() {
        predictedLargestBiased = 0
        chunkLog2 = max(chunkLog2 - 1, Self.blockLog2)
    }

    /// The bounds on the next chunk's magnitudes: one binade of room above
    /// this block's largest, and its smallest (the number of bands follows).
    /// After zeros only, the bound of the subnormals: the next chunk of
    /// zeros takes the one-pass way, and anything else misses. Nothing
    /// (measure first) after NaN, infinity or magnitudes near overflow.
    @inline(__always)
    mutating func predictSplit(largestBits: UInt64, smallestNonZeroBits: UInt64) {
        let biasedLargest = Int(largestBits >> 52), biasedSmallest = max(Int(smallestNonZeroBits >> 52), 1)
        predictedLargestBiased = biasedLargest < 0x7E0 ? biasedLargest + 1 : 0
        predictedSmallestBiased = biasedSmallest
    }
}

/// Vector lanes of a one-pass split in `Bands.count` bands for at most
/// 2^termsLog2 terms. Band b splits what the bands above left against
/// sigma_b = 1.5 * 2^(p - 50 b): the sum of the bit patterns of
/// t = sigma_b + x (wrapping round; less those of sigma_b, the q's in units
/// of 2^(p - 50 b - 52)), and x - (t - sigma_b) goes on to the next band;
/// the last band's remainders are summed in floating point.
struct OnePassLanes<Bands: BandCount> {
    /// The biased exponent bound of the terms (|x| < 2^(largestBiased - 1022)).
    let largestBiased: Int
    let termsLog2: Int
    private let sigmas: (SIMD4<Double>, SIMD4<Double>, SIMD4<Double>)
    private var highs = (SIMD4<UInt64>(), SIMD4<UInt64>(), SIMD4<UInt64>())
    private var low = SIMD4<Double>()
    private var vectors = 0

    /// p = largestBiased - 1020; nil where the lowest sigma would not be a normal double.
    @inline(__always)
    init?(largestBiased: Int, termsLog2: Int) {
        let top = largestBiased - 1020
        guard top - 50 * (Bands.count - 1) >= -1022 else { return nil }
        self.largestBiased = largestBiased
        self.termsLog2 = termsLog2
        func sigma(_ b: Int) -> SIMD4<Double> {
            SIMD4(repeating: Double(bitPattern: UInt64(max(top - 50 * b + 1023, 1)) << 52 | 1 << 51))
        }
        sigmas = (sigma(0), sigma(1), sigma(2))
    }

    /// The exponent p of the top band's sigma.
    var exponent: Int { largestBiased - 1020 }

    @inline(__always)
    mutating func add(_ x: SIMD4<Double>) {
        var rest = x
        split(&rest, sigmas.0, &highs.0)
        if Bands.count > 1 { split(&rest, sigmas.1, &highs.1) }
        if Bands.count > 2 { split(&rest, sigmas.2, &highs.2) }
        low += rest
        vectors &+= 1
    }

    /// One band: adds the bits of t = sigma + x to `high`, and leaves x - (t - sigma) in x.
    @inline(__always)
    private func split(_ x: inout SIMD4<Double>, _ sigma: SIMD4<Double>, _ high: inout SIMD4<UInt64>) {
        let t = sigma + x
        high &+= unsafeBitCast(t, to: SIMD4<UInt64>.self)
        x = x - (t - sigma)
    }

    /// Adds other lanes of the same split (exact where the split is).
    @inline(__always)
    mutating func merge(_ other: OnePassLanes) {
        highs.0 &+= other.highs.0
        highs.1 &+= other.highs.1
        highs.2 &+= other.highs.2
        low += other.low
        vectors &+= other.vectors
    }

    /// The sum of band b's q's, as two doubles (exact: 26 and at most 37 significant bits).
    @inline(__always)
    private func highSum(_ high: SIMD4<UInt64>, _ sigma: SIMD4<Double>, band b: Int) -> (Double, Double) {
        let units = Int64(bitPattern: high.wrappedSum() &- UInt64(4 * vectors) &* sigma[0].bitPattern)
        let lowPart = units & ((1 << 26) - 1)
        let e = exponent - 50 * b
        let unit = e > -970 ? Double(bitPattern: UInt64(e - 52 + 1023) << 52)
            : Double(sign: .plus, exponent: e - 52, significand: 1)   // subnormal
        return (Double(units - lowPart) * unit, Double(lowPart) * unit)
    }

    /// The split, with the magnitudes of its terms.
    @inline(__always)
    func split(_ magnitudes: LaneMagnitudes) -> OnePassSplit<Bands> {
        split(largestBits: magnitudes.largestBits, smallestNonZeroBits: magnitudes.smallestNonZeroBits)
    }

    @inline(__always)
    func split(largestBits: UInt64, smallestNonZeroBits: UInt64) -> OnePassSplit<Bands> {
        let unused = (0.0, 0.0)
        return OnePassSplit(highs: (highSum(highs.0, sigmas.0, band: 0),
                                    Bands.count > 1 ? highSum(highs.1, sigmas.1, band: 1) : unused,
                                    Bands.count > 2 ? highSum(highs.2, sigmas.2, band: 2) : unused),
                            low: low.sum(), largestBiased: largestBiased, lowestExponent: exponent - 50 * (Bands.count - 1),
                            termsLog2: termsLog2, largestBits: largestBits, smallestNonZeroBits: smallestNonZeroBits)
    }
}

/// How many bands a one-pass split has, as a type (a specialisation each).
protocol BandCount { static var count: Int { get } }
enum OneBand: BandCount { static var count: Int { 1 } }
enum TwoBands: BandCount { static var count: Int { 2 } }
enum ThreeBands: BandCount { static var count: Int { 3 } }

/// A finished one-pass split: the sum of each band's q's (two doubles) and
/// of the last band's r's, and the magnitudes of its terms.
struct OnePassSplit<Bands: BandCount> {
    /// Bands beyond `Bands.count` are zero.
    let highs: ((Double, Double), (Double, Double), (Double, Double))
    let low: Double
    let largestBiased: Int, lowestExponent: Int, termsLog2: Int
    let largestBits: UInt64, smallestNonZeroBits: UInt64
}

/// The largest magnitude of the values it sees and the smallest non-zero
/// one, as bit patterns of non-negative doubles (integer order is numeric
/// order; NaN counts as larger than infinity): 0 and Int64.max while it has
/// seen only zeros. Tracked with selects on vector compares that x86 has
/// for 64-bit lanes (AVX2 has no unsigned one, which costs three
/// instructions): the largest with a signed integer compare (magnitudes
/// have no sign bit); the smallest as the bit pattern of |x| less one
/// compared as a double: a zero becomes -1, a NaN pattern, which no compare
/// takes. Explicit lanes with selects: Swift's generic pointwise min and
/// max, and plain loops with `max`, stay scalar.
struct LaneMagnitudes {
    private var large = SIMD4<Int64>()
    private var small = SIMD4<Double>(repeating: .infinity)

    @inline(__always)
    mutating func see(_ x: SIMD4<Double>) {
        let magnitude = Self.magnitudes(x)
        seeLargest(magnitude)
        seeSmallest(magnitude)
    }

    /// The bit patterns of |x|.
    @inline(__always)
    static func magnitudes(_ x: SIMD4<Double>) -> SIMD4<Int64> {
        unsafeBitCast(x, to: SIMD4<Int64>.self) & SIMD4(repeating: Int64.max)
    }

    /// Tracks only the largest magnitude, given as bit patterns.
    @inline(__always)
    mutating func seeLargest(_ magnitude: SIMD4<Int64>) {
        large.replace(with: magnitude, where: magnitude .> large)
    }

    /// One value, in lanes of its own (zeros in the others change nothing).
    @inline(__always)
    mutating func see(_ x: Double) { see(SIMD4(x, 0, 0, 0)) }

    /// Tracks only the smallest non-zero magnitude, given as bit patterns.
    @inline(__always)
    mutating func seeSmallest(_ magnitude: SIMD4<Int64>) {
        let below = unsafeBitCast(magnitude &- 1, to: SIMD4<Double>.self)
        small.replace(with: below, where: below .< small)
    }

    /// Tracks only the smallest non-zero magnitude, of terms that are magnitudes already (x >= 0).
    @inline(__always)
    mutating func seeSmallest(_ magnitude: SIMD4<Double>) {
        seeSmallest(unsafeBitCast(magnitude, to: SIMD4<Int64>.self))
    }

    @inline(__always)
    mutating func merge(_ other: LaneMagnitudes) {
        large.replace(with: other.large, where: other.large .> large)
        small.replace(with: other.small, where: other.small .< small)
    }

    var largestBits: UInt64 { UInt64(max(large[0], large[1], large[2], large[3])) }

    /// Infinity's pattern less one where a finite value was seen: the
    /// smallest of NaN and infinities alone is reported as none.
    var smallestNonZeroBits: UInt64 {
        let m = min(small[0], small[1], small[2], small[3])
        return m == .infinity ? UInt64(Int64.max) : m.bitPattern + 1
    }
}
