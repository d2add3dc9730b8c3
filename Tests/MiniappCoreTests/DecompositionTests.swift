@testable import MiniappCore
import Testing

/// A pure stand-in for MPI_Dims_create (balanced, non-increasing), so the
/// choice logic is tested without MPI.
func balanced(_ ranks: Int) -> ([Int]) throws -> [Int] {
    { requested in
        let fixed = requested.filter { $0 > 0 }.reduce(1, *)
        let free = ranks / fixed
        if requested[0] > 0 && requested[1] > 0 { return requested }
        if requested[0] > 0 { return [requested[0], free] }
        if requested[1] > 0 { return [free, requested[1]] }
        var a = Int(Double(free).squareRoot())
        while free % a != 0 { a -= 1 }
        return [free / a, a]
    }
}

@Suite struct DecompositionTests {
    @Test func unevenBlocksTileTheGrid() {
        let d = Decomposition(nx: 67, ny: 45, px: 3, py: 2)
        #expect(d.block(coords: [0, 0]) == .init(offset: [0, 0], size: [23, 23]))
        #expect(d.block(coords: [1, 0]) == .init(offset: [23, 0], size: [22, 23]))
        #expect(d.block(coords: [2, 1]) == .init(offset: [45, 23], size: [22, 22]))
        var covered = 0
        for cx in 0..<3 { for cy in 0..<2 { covered += d.block(coords: [cx, cy]).points } }
        #expect(covered == 67 * 45)
        #expect(d.blockSizeRange.x == 22...23 && d.blockSizeRange.y == 22...23)
    }

    @Test func hugeGridOffsetsStay64Bit() {
        let d = Decomposition(nx: 100_000, ny: 100_000, px: 7, py: 13)
        let last = d.block(coords: [6, 12])
        #expect(last.offset[0] + last.size[0] == 100_000 && last.offset[1] + last.size[1] == 100_000)
        #expect(d.block(coords: [3, 3]).points == 14286 * 7693)
        // Global linear index of the last point: far beyond Int32.
        #expect((last.offset[1] + last.size[1] - 1) * 100_000 + (last.offset[0] + last.size[0] - 1) == 9_999_999_999)
    }

    @Test func automaticDimsPutMoreRanksAlongTheLongerAxis() throws {
        #expect(try Decomposition.chooseDims(ranks: 6, requested: [0, 0], nx: 67, ny: 45, balancedDims: balanced(6)) == [3, 2])
        #expect(try Decomposition.chooseDims(ranks: 6, requested: [0, 0], nx: 45, ny: 67, balancedDims: balanced(6)) == [2, 3])
        #expect(try Decomposition.chooseDims(ranks: 4, requested: [0, 0], nx: 8, ny: 8, balancedDims: balanced(4)) == [2, 2])
        // Square: more ranks along y (cuts between contiguous rows).
        #expect(try Decomposition.chooseDims(ranks: 2, requested: [0, 0], nx: 64, ny: 64, balancedDims: balanced(2)) == [1, 2])
        #expect(try Decomposition.chooseDims(ranks: 8, requested: [0, 0], nx: 64, ny: 64, balancedDims: balanced(8)) == [2, 4])
    }

    @Test func automaticDimsAvoidAxesWithTooFewPoints() throws {
        // Balanced would be 2 x 2, but x has one point: 1 x 4 works.
        #expect(try Decomposition.chooseDims(ranks: 4, requested: [0, 0], nx: 1, ny: 100, balancedDims: balanced(4)) == [1, 4])
        #expect(try Decomposition.chooseDims(ranks: 6, requested: [0, 0], nx: 2, ny: 50, balancedDims: balanced(6)) == [2, 3])
    }

    @Test func requestedDimsAreChecked() throws {
        #expect(try Decomposition.chooseDims(ranks: 8, requested: [2, 0], nx: 64, ny: 64, balancedDims: balanced(8)) == [2, 4])
        #expect(throws: DecompositionError.self) {
            try Decomposition.chooseDims(ranks: 6, requested: [4, 4], nx: 64, ny: 64, balancedDims: balanced(6))
        }
        #expect(throws: DecompositionError.self) {
            try Decomposition.chooseDims(ranks: 6, requested: [4, 0], nx: 64, ny: 64, balancedDims: balanced(6))
        }
        do {
            _ = try Decomposition.chooseDims(ranks: 4, requested: [4, 1], nx: 3, ny: 40, balancedDims: balanced(4))
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("3 x 40") && "\(error)".contains("4 x 1"))
        }
        do {
            _ = try Decomposition.chooseDims(ranks: 6, requested: [0, 0], nx: 2, ny: 2, balancedDims: balanced(6))
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("too few points for 6 ranks"))
        }
    }
}
