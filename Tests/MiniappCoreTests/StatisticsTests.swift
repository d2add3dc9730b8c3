@testable import MiniappCore
import Testing

@Suite struct StatisticsTests {
    @Test func medianAndQuartileSpread() {
        let sample = Sample([4, 1, 3, 2, 5, 8, 6, 7])
        #expect(sample.minimum == 1 && sample.maximum == 8)
        #expect(sample.median == 5)  // the upper of the two middle values
        #expect(sample.spread == (7.0 - 3) / (2 * 5))
    }

    @Test func fewValuesUseTheRange() {
        #expect(Sample([2, 4, 3]).spread == (4.0 - 2) / (2 * 3))
    }

    /// A phase that never ran times zero in every run: its spread is 0, not 0/0.
    @Test func equalValuesHaveNoSpread() {
        #expect(Sample([0, 0, 0]).spread == 0)
        #expect(Sample([0, 0, 0, 0, 0]).spread == 0)
        #expect(Sample([1.5, 1.5]).spread == 0)
    }
}
