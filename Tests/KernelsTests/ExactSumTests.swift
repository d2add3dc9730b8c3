import Foundation
@testable import Kernels
import Testing
import TestSupport

func sum(_ values: [Double]) -> Double {
    var acc = ExactSum()
    for v in values { acc.add(v) }
    return acc.value
}

@Suite struct ExactSumTests {
    @Test func cancellationIsExact() {
        #expect(sum([1e100, 1.0, -1e100]) == 1.0)
        #expect(sum([1.0, 1e-300, -1.0]) == 1e-300)
        #expect(sum([0x1p1023, 0x1p1023, -0x1p1023, -0x1p1023, 3.5]) == 3.5)
        #expect(sum([]) == 0)
        #expect(sum([-2.5]) == -2.5)
        #expect(sum([.leastNonzeroMagnitude, .leastNonzeroMagnitude]) == 2 * .leastNonzeroMagnitude)
    }

    @Test(arguments: [10, 1000, 14_348_907])
    func repeatedTermsRoundOnce(n: Int) {
        // The exact sum of n copies of d is n * d; IEEE multiplication rounds it once.
        var acc = ExactSum()
        for _ in 0..<n { acc.add(0.1) }
        #expect(acc.value == 0.1 * Double(n))
    }

    @Test func roundsToNearestEvenAgainstIntegerArithmetic() {
        // Terms k * 2^-60 with |k| < 2^53: the exact sum is (sum k) * 2^-60 and
        // Double(sum k) is the correctly rounded integer.
        var rng = SplitMix64(state: 7)
        for trial in 0..<200 {
            let count = 1 + trial % 50
            var ks: [Int64] = []
            for _ in 0..<count { ks.append(Int64.random(in: -(1 << 53) + 1 ..< (1 << 53), using: &rng)) }
            let terms = ks.map { Double($0) * 0x1p-60 }
            let exact = ks.reduce(Int64(0), +)  // |sum| < 50 * 2^53 fits
            #expect(sum(terms) == Double(exact) * 0x1p-60, "trial \(trial)")
        }
        // An exact tie between two doubles rounds to the even one.
        #expect(sum([0x1p53, 1.0]) == 0x1p53)
        #expect(sum([0x1p53, 3.0]) == 0x1p53 + 4)
        // Just above the tie (a sticky bit far below) rounds up.
        #expect(sum([0x1p53, 1.0, 0x1p-900]) == 0x1p53 + 2)
    }

    @Test func orderAndSplitDoNotChangeTheResult() {
        var rng = SplitMix64(state: 42)
        let values = (0..<5000).map { _ in
            Double.random(in: -1...1, using: &rng) * Double(sign: .plus, exponent: Int.random(in: -80...80, using: &rng),
                                                            significand: 1)
        }
        let reference = sum(values)
        for seed in 1...5 {
            var r = SplitMix64(state: UInt64(seed))
            let shuffled = values.shuffled(using: &r)
            #expect(sum(shuffled) == reference)
            // Split into uneven parts, merged as threads' partial sums are.
            let cut = shuffled.count * seed / 7
            var a = ExactSum(), b = ExactSum()
            for v in shuffled[..<cut] { a.add(v) }
            for v in shuffled[cut...] { b.add(v) }
            var merged = b
            merged.add(a)
            #expect(merged.value == reference)
        }
        // Plain summation is order dependent on the same data (the reason for all this).
        var plainResults = Set<Double>()
        for seed in 1...5 {
            var r = SplitMix64(state: UInt64(seed))
            plainResults.insert(values.shuffled(using: &r).reduce(0, +))
        }
        #expect(plainResults.count > 1)
    }

    /// The one-pass way takes one, two or three bands by the span of its
    /// prediction (`ExactSum.bands`: 50 - m binades a band for 2^m terms).
    /// Around each limit, a chunk of terms spanning `span` binades is added
    /// twice: measured first, then split in one pass against the prediction
    /// (one binade of room above: a span of span + 1; m = 8, so the limits
    /// are 42, 92 and 142). Both give what term-by-term adding gives, and
    /// the second takes one pass (its chunks grow) while three bands hold it.
    @Test(arguments: [0, 41, 42, 91, 92, 141, 142, 200])
    func bandLimitsAgreeWithTermByTerm(span: Int) {
        var rng = SplitMix64(state: UInt64(span) + 7)
        let n = ExactSum.blockSize
        let values = (0..<n).map { k -> Double in
            let significand = 1 + Double(rng.next() >> 12) * 0x1p-52
            return Double(sign: k % 3 == 0 ? .minus : .plus, exponent: -(k * span / (n - 1)), significand: significand)
        }
        var chunks = ExactSum(), termwise = ExactSum()
        values.withUnsafeBufferPointer { v in
            chunks.add(v.baseAddress!, count: n)
            #expect(chunks.chunkLog2 == ExactSum.blockLog2)
            chunks.add(v.baseAddress!, count: n)
        }
        for _ in 0..<2 { for v in values { termwise.add(v) } }
        #expect(chunks.value == termwise.value)
        let onePass = chunks.chunkLog2 > ExactSum.blockLog2
        #expect(onePass == (span + 1 + 8 <= 150))
        #expect(ExactSum.bands(span: span + 1, termsLog2: 8) == (span < 42 ? 1 : span < 92 ? 2 : span < 142 ? 3 : nil))
    }

    @Test func nonFiniteTerms() {
        #expect(sum([1, .infinity]) == .infinity)
        #expect(sum([1, -.infinity]) == -.infinity)
        #expect(sum([.infinity, -.infinity]).isNaN)
        #expect(sum([1, .nan, 2]).isNaN)
        var acc = ExactSum()
        acc.add(1)
        #expect(!acc.sawNonFinite)
        acc.add(.nan)
        #expect(acc.sawNonFinite)
    }

    @Test func overflowingSumIsInfinite() {
        #expect(sum([.greatestFiniteMagnitude, .greatestFiniteMagnitude]) == .infinity)
        #expect(sum([-.greatestFiniteMagnitude, -.greatestFiniteMagnitude]) == -.infinity)
        #expect(sum([.greatestFiniteMagnitude, .greatestFiniteMagnitude, -.greatestFiniteMagnitude])
                == .greatestFiniteMagnitude)
    }
}

@Suite struct ExactSumBlockTests {
    func blockSum(_ values: [Double]) -> Double {
        var acc = ExactSum()
        values.withUnsafeBufferPointer { acc.add($0.baseAddress!, count: $0.count) }
        return acc.value
    }

    @Test func blockPathEqualsOneByOne() {
        var rng = SplitMix64(state: 99)
        // Smooth, wide-ranging, tiny, huge, mixed signs, lengths around the block size.
        let cases: [[Double]] = [
            (0..<1000).map { sin(Double($0) * 0.01) },
            (0..<777).map { _ in Double.random(in: -1...1, using: &rng) * Double(sign: .plus, exponent: Int.random(in: -1000...1000, using: &rng), significand: 1) },
            (0..<300).map { _ in Double.random(in: 0...1, using: &rng) * .leastNormalMagnitude },
            (0..<257).map { k in k % 2 == 0 ? 0x1p1020 : -0x1p1020 + 1e300 },
            [1e100, 1.0, -1e100] + [Double](repeating: 1e-300, count: 255),
            [-0.0, 0.0, -0.0],
            [],
        ]
        for (index, values) in cases.enumerated() {
            #expect(blockSum(values) == sum(values), "case \(index)")
        }
    }

    /// Blocks whose magnitudes span up to 2^35 take one splitting level whose
    /// remainders are summed in plain arithmetic: at the edge of that range
    /// (and just beyond, where the general path takes over), with full
    /// mantissas, mixed signs and subnormals, the sum is still exact.
    @Test func singleLevelBlocksAtTheEdgeOfTheirRange() {
        var rng = SplitMix64(state: 31)
        for span in [0, 1, 20, 34, 35, 36, 37, 38, 40, 44, 60] {
            for top in [1000, 3, -300, -1000, -1022] {
                let values = (0..<256).map { k -> Double in
                    let exponent = k == 0 ? top : k == 1 ? top - span : top - Int.random(in: 0...span, using: &rng)
                    let significand = 1 + Double(rng.next() >> 12) * 0x1p-52
                    let sign: FloatingPointSign = rng.next() & 1 == 0 ? .plus : .minus
                    return Double(sign: sign, exponent: exponent, significand: significand)
                }
                #expect(blockSum(values) == sum(values), "span \(span), top \(top)")
                let sameSign = values.map(abs)
                #expect(blockSum(sameSign) == sum(sameSign), "span \(span), top \(top), one sign")
                // The worst case of the bound: 255 remainders of 251 units of
                // the last place each, and one value `span` binades below.
                let heavy = [Double](repeating: Double(sign: .plus, exponent: top, significand: 1 + 251 * 0x1p-52), count: 255)
                    + [Double(sign: .plus, exponent: top - span, significand: 1 + Double(rng.next() >> 12) * 0x1p-52)]
                // Taking the large values away again, one by one, must leave
                // the small one exactly (a rounded total would hide an error).
                var acc = ExactSum()
                heavy.withUnsafeBufferPointer { acc.add($0.baseAddress!, count: $0.count) }
                for v in heavy.dropLast() { acc.add(-v) }
                #expect(acc.value == heavy.last!, "span \(span), top \(top), largest remainders")
            }
        }
    }

    /// After a first block, chunks of up to 2^11 terms take one pass against
    /// a sigma predicted from the block before. Chunks whose magnitudes rise
    /// above the prediction, or spread below it further than the chunk's
    /// length allows, must be redone; at those edges, and past them, with
    /// full mantissas and mixed signs, the sum stays exact. So do dot products,
    /// zeros followed by values, and a NaN in a later chunk.
    @Test func onePassChunksAtTheEdgeOfTheirPrediction() {
        var rng = SplitMix64(state: 77)
        func value(_ exponent: Int) -> Double {
            let significand = 1 + Double(rng.next() >> 12) * 0x1p-52
            return Double(sign: rng.next() & 1 == 0 ? .plus : .minus, exponent: exponent, significand: significand)
        }
        for top in [0, -500, 900] {
            let first = (0..<256).map { _ in value(top - Int.random(in: 0...3, using: &rng)) }
            for rise in [-3, 0, 1, 2] {
                for span in [0, 10, 24, 26, 28, 30, 32, 36, 40, 60, 90, 120, 138, 142, 160] {
                    for length in [8, 300, 1024, 2047, 2048, 6000] {
                        let rest = (0..<length).map { k in
                            value(k == 0 ? top + rise : k == 1 ? top + rise - span : top + rise - Int.random(in: 0...span, using: &rng))
                        }
                        let values = first + rest
                        #expect(blockSum(values) == sum(values), "top \(top), rise \(rise), span \(span), length \(length)")
                        var dot = ExactSum(), oneByOne = ExactSum()
                        values.withUnsafeBufferPointer { x in
                            rest.withUnsafeBufferPointer { y in dot.addProducts(x.baseAddress!, y.baseAddress!, count: y.count) }
                        }
                        for k in 0..<rest.count { oneByOne.add(values[k] * rest[k]) }
                        #expect(dot.value == oneByOne.value || (dot.value.isNaN && oneByOne.value.isNaN), "dot: top \(top), rise \(rise), span \(span), length \(length)")
                    }
                }
            }
        }
        let zerosThenValues = [Double](repeating: 0, count: 3000) + (0..<3000).map { _ in value(-40) }
        #expect(blockSum(zerosThenValues) == sum(zerosThenValues))
        let tinyThenLarge = (0..<2000).map { _ in value(-1070) } + (0..<2000).map { _ in value(1000) }
        #expect(blockSum(tinyThenLarge) == sum(tinyThenLarge))
        var late = (0..<5000).map { sin(Double($0) * 0.001) }
        late[4000] = .nan
        #expect(blockSum(late).isNaN)
        late[4000] = -.infinity
        #expect(blockSum(late) == -.infinity)
    }

    /// One chunk of 2^m terms at the edges of the one-pass way's bounds:
    /// terms one binade above the block before (the most the prediction
    /// allows), each leaving a remainder just under half of the split's unit,
    /// all of one sign, and one term `extra` binades below the lowest the
    /// remainders' sum allows at extra = 0. Taking the terms away again, one
    /// by one with the first block's, must leave zero: a chunk added
    /// inexactly (a bound two binades too loose) would leave a difference.
    @Test func onePassBoundsAreTight() {
        var rng = SplitMix64(state: 3)
        let cases = (8...11).flatMap { m in
            [0, -600, 700].flatMap { top in
                [0, 1, 2, 3, 4].flatMap { extra in [FloatingPointSign.plus, .minus].map { (m, top, extra, $0) } }
            }
        }
        for (m, top, extra, sign) in cases {
            let first = [Double](repeating: Double(sign: .plus, exponent: top, significand: 1), count: 256)
            var acc = ExactSum()
            first.withUnsafeBufferPointer { acc.add($0.baseAddress!, count: $0.count) }
            acc.chunkLog2 = m
            // The split's unit is 8 last bits of these terms: 3 is just under half of it.
            // The largest terms, with random bits above the last three.
            var chunk = (0..<(1 << m) - 1).map { _ -> Double in
                let significand = ((UInt64(1) << 49) - 1 - (rng.next() >> 20)) << 3 | 3
                return Double(sign: sign, exponent: top + 1, significand: 1 + Double(significand) * 0x1p-52)
            }
            chunk.append(Double(sign: sign, exponent: top + m - 49 - extra, significand: 1 + Double(rng.next() >> 12) * 0x1p-52))
            chunk.withUnsafeBufferPointer { acc.add($0.baseAddress!, count: $0.count) }
            for v in first + chunk { acc.add(-v) }
            #expect(acc.value == 0, "m \(m), top \(top), extra \(extra), \(sign)")
        }
    }

    /// The same for two and three bands: a chunk that fewer bands cannot
    /// take (its span is too wide), split again against its own largest
    /// term, whose other terms leave last-band remainders just under half of
    /// that band's unit, all of one sign, and one term `extra` binades below
    /// the lowest the remainders' sum allows at extra = 0 (from extra = 1 on,
    /// one band more, or the measured way, takes the chunk).
    @Test(arguments: [2, 3]) func bandedBoundsAreTight(bands: Int) {
        var rng = SplitMix64(state: 4)
        let cases = (8...11).flatMap { m in
            [0, -600, 700].flatMap { top in
                [0, 1, 2, 3].flatMap { extra in [FloatingPointSign.plus, .minus].map { (m, top, extra, $0) } }
            }
        }
        for (m, top, extra, sign) in cases {
            let first = [Double](repeating: Double(sign: .plus, exponent: top, significand: 1), count: 256)
            var acc = ExactSum()
            first.withUnsafeBufferPointer { acc.add($0.baseAddress!, count: $0.count) }
            acc.chunkLog2 = m
            // Split against its largest term (top + 1): p = top + 4, the last band's p = top + 4 - 50 (bands - 1),
            // whose unit is 8 last bits of terms at top + 1 - 50 (bands - 1): 3 is just under half of it.
            let low = top + 1 - 50 * (bands - 1)
            var chunk = [Double(sign: sign, exponent: top + 1, significand: 1.5)]
            chunk += (0..<(1 << m) - 2).map { _ -> Double in
                let significand = ((UInt64(1) << 49) - 1 - (rng.next() >> 20)) << 3 | 3
                return Double(sign: sign, exponent: low, significand: 1 + Double(significand) * 0x1p-52)
            }
            chunk.append(Double(sign: sign, exponent: low + m - 50 - extra, significand: 1 + Double(rng.next() >> 12) * 0x1p-52))
            chunk.withUnsafeBufferPointer { acc.add($0.baseAddress!, count: $0.count) }
            for v in first + chunk { acc.add(-v) }
            #expect(acc.value == 0, "bands \(bands), m \(m), top \(top), extra \(extra), \(sign)")
        }
    }

    @Test func blockPathSeesNonFinite() {
        #expect(blockSum([Double](repeating: 1, count: 300) + [.nan]).isNaN)
        #expect(blockSum([Double](repeating: 1, count: 10) + [.infinity]) == .infinity)
        #expect(blockSum([.greatestFiniteMagnitude, .greatestFiniteMagnitude]) == .infinity)
    }

    @Test func blockPathIsSplitIndependent() {
        var rng = SplitMix64(state: 5)
        let values = (0..<5000).map { _ in Double.random(in: -1...1, using: &rng) * Double(sign: .plus, exponent: Int.random(in: -40...40, using: &rng), significand: 1) }
        let whole = blockSum(values)
        for cut in [1, 255, 256, 257, 2500, 4999] {
            var acc = ExactSum()
            values.withUnsafeBufferPointer {
                acc.add($0.baseAddress!, count: cut)
                acc.add($0.baseAddress! + cut, count: values.count - cut)
            }
            #expect(acc.value == whole)
        }
    }
}
