import Kernels
import Testing
import TestSupport

/// The message that carries exact sums and maxima across ranks: whatever
/// the grouping and order in which MPI combines the ranks' messages, the
/// result is the exact sum of all terms, or, where the live digits of all
/// ranks together span more than the window, "too wide" for every grouping.
@Suite struct ExactSumMessageTests {
    /// Each "rank" holds some terms; returns the messages of the ranks.
    private func messages(_ ranks: [[Double]], maxima: [[Double]], digits: Int) -> [[Int64]] {
        zip(ranks, maxima).map { terms, extremes in
            var sum = ExactSum()
            for x in terms { sum.add(x) }
            var message = [Int64](repeating: -1, count: ExactSumMessage.wordCount(sums: 2, maxima: extremes.count,
                                                                                   digits: digits))
            var negated = ExactSum()
            for x in terms { negated.add(-x) }
            message.withUnsafeMutableBufferPointer {
                ExactSumMessage.write(sums: [sum, negated], maxima: extremes, digits: digits, into: $0.baseAddress!)
            }
            return message
        }
    }

    /// Combines the messages in a random order and grouping.
    private func reduce(_ messages: [[Int64]], using rng: inout SplitMix64) -> [Int64] {
        var pool = messages.shuffled(using: &rng)
        while pool.count > 1 {
            let a = pool.remove(at: Int.random(in: 0..<pool.count, using: &rng))
            let k = Int.random(in: 0..<pool.count, using: &rng)
            a.withUnsafeBufferPointer { input in
                pool[k].withUnsafeMutableBufferPointer { ExactSumMessage.combine(input.baseAddress!, into: $0.baseAddress!) }
            }
        }
        return pool[0]
    }

    private func read(_ message: [Int64]) -> (sums: [Double]?, maxima: [Double], span: Int) {
        message.withUnsafeBufferPointer {
            let r = ExactSumMessage.read($0.baseAddress!)
            return (r.sums, r.maxima, r.widestSpan)
        }
    }

    @Test func everyGroupingGivesTheExactSum() {
        var rng = SplitMix64(state: 11)
        for trial in 0..<300 {
            let ranks = 1 + trial % 9
            // Magnitudes within 2^-40 ... 2^40 of each other: the live digits fit 11.
            let terms = (0..<ranks).map { _ in
                (0..<Int.random(in: 0...20, using: &rng)).map { _ in
                    Double.random(in: -1...1, using: &rng) * Double(sign: .plus, exponent: Int.random(in: -40...40, using: &rng),
                                                                   significand: 1)
                }
            }
            let extremes = (0..<ranks).map { _ in [Double.random(in: -5...5, using: &rng), -0.0] }
            let expected = sum(terms.flatMap { $0 }), negated = sum(terms.flatMap { $0 }.map { -$0 })
            let result = read(reduce(messages(terms, maxima: extremes, digits: 11), using: &rng))
            #expect(result.sums.map { $0.map(\.bitPattern) } == [expected.bitPattern, negated.bitPattern],
                    "trial \(trial)")
            #expect(result.maxima[0] == extremes.map { $0[0] }.max()!)
            #expect(result.maxima[1].bitPattern == (-0.0).bitPattern)
            #expect(result.span <= 11)
        }
    }

    @Test func wideSpansAreReportedForEveryGrouping() {
        var rng = SplitMix64(state: 5)
        // One rank's terms near 1, another's near 2^-700: no window of 11 digits holds both,
        // although each rank's own digits fit.
        let terms: [[Double]] = [[1.0, 0.75, -0.125], [0x1p-700, 3 * 0x1p-701], [-2.5]]
        let expected = sum(terms.flatMap { $0 })
        for _ in 0..<20 {
            let narrow = read(reduce(messages(terms, maxima: [[1], [2], [3]], digits: 11), using: &rng))
            #expect(narrow.sums == nil)
            #expect(narrow.span > 11)
            #expect(narrow.maxima == [3])
            let wide = read(reduce(messages(terms, maxima: [[1], [2], [3]], digits: ExactSum.digitCount), using: &rng))
            #expect(wide.sums?.map(\.bitPattern) == [expected.bitPattern, (-expected).bitPattern])
            #expect(wide.span == narrow.span)
        }
    }

    @Test func cancellationAcrossRanksAndNonFinite() {
        var rng = SplitMix64(state: 3)
        let ranks: [[Double]] = [[1e10, 0.5], [-1e10], [0x1p-60], [], [.infinity]]
        let result = read(reduce(messages(Array(ranks.prefix(4)), maxima: [[.nan], [1], [2], [3]], digits: 11), using: &rng))
        #expect(result.sums?.map(\.bitPattern) == [(0.5 + 0x1p-60).bitPattern, (-(0.5 + 0x1p-60)).bitPattern])
        #expect(result.maxima[0].isNaN)
        let infinite = read(reduce(messages(ranks, maxima: [[], [], [], [], []], digits: 11), using: &rng))
        #expect(infinite.sums?.first == .infinity)
        #expect(infinite.sums?.last == -.infinity)
    }

    @Test func negativeSumsHaveNarrowWindows() {
        var rng = SplitMix64(state: 9)
        // In the form of ExactSum.normalize a negative number has every digit
        // below its top live; in balanced form only its own.
        let result = read(reduce(messages([[-3.0], [-0x1p-20]], maxima: [[], []], digits: 11), using: &rng))
        #expect(result.span <= 3)
        #expect(result.sums?.first == -3.0 - 0x1p-20)
    }
}
