import Kernels
import Testing
import TestSupport

@Suite struct HeatStencilTests {
    /// A block of nx x ny points with a halo of one, filled with random values.
    /// Rows `stride` apart (nx + 2 unless given: padding past the halo).
    struct Block {
        let nx: Int, ny: Int
        let stride: Int
        var data: [Double]
        init(nx: Int, ny: Int, seed: UInt64, stride: Int? = nil) {
            self.nx = nx; self.ny = ny; self.stride = stride ?? nx + 2
            var rng = SplitMix64(state: seed)
            data = (0..<self.stride * (ny + 2)).map { _ in Double.random(in: -1...1, using: &rng) }
        }
        func at(_ i: Int, _ j: Int) -> Double { data[(j + 1) * stride + i + 1] }
    }

    func sweep(_ block: Block, pieces: [(rows: Range<Int>, columns: Range<Int>)], rx: Double, ry: Double,
               streaming: Bool = false, prefetch: Bool = false) -> [Double] {
        var out = [Double](repeating: .nan, count: block.data.count)
        block.data.withUnsafeBufferPointer { u in
            out.withUnsafeMutableBufferPointer { v in
                let origin = block.stride + 1
                for piece in pieces {
                    heatStencilSweep(from: u.baseAddress! + origin, to: v.baseAddress! + origin, stride: block.stride,
                                     rows: piece.rows, columns: piece.columns, rx: rx, ry: ry,
                                     streaming: streaming, prefetch: prefetch)
                }
            }
        }
        return out
    }

    @Test func matchesANaiveLoop() {
        let block = Block(nx: 37, ny: 23, seed: 3)
        let rx = 0.21, ry = 0.17
        let out = sweep(block, pieces: [(0..<23, 0..<37)], rx: rx, ry: ry)
        var worst = 0.0
        for j in 0..<23 {
            for i in 0..<37 {
                let u = block.at(i, j)
                let naive = u + rx * (block.at(i - 1, j) - 2 * u + block.at(i + 1, j))
                    + ry * (block.at(i, j - 1) - 2 * u + block.at(i, j + 1))
                worst = max(worst, abs(out[(j + 1) * block.stride + i + 1] - naive))
            }
        }
        #expect(worst < 1e-15)
        // The halo is not written.
        #expect(out[0].isNaN && out[block.stride - 1].isNaN)
    }

    @Test func splittingTheRectangleIsBitwiseInvisible() {
        let block = Block(nx: 41, ny: 19, seed: 11)
        let whole = sweep(block, pieces: [(0..<19, 0..<41)], rx: 0.2, ry: 0.24)
        // Interior plus boundary strips, as the solver does it.
        let strips = sweep(block, pieces: [(1..<18, 1..<40), (0..<1, 0..<41), (18..<19, 0..<41),
                                           (1..<18, 0..<1), (1..<18, 40..<41)], rx: 0.2, ry: 0.24)
        // Odd row blocks, as threads would take them.
        let rows = sweep(block, pieces: [(0..<5, 0..<41), (5..<12, 0..<41), (12..<19, 0..<41)], rx: 0.2, ry: 0.24)
        #expect(whole.map(\.bitPattern) == strips.map(\.bitPattern))
        #expect(whole.map(\.bitPattern) == rows.map(\.bitPattern))
    }

    /// Streaming stores (scalar until aligned, vectors, scalar tail) and
    /// software prefetch change instructions, not results; widths around the
    /// vector and cache-line lengths exercise every path.
    @Test(arguments: [1, 3, 4, 7, 8, 9, 15, 16, 17, 45, 1030])
    func storesAndPrefetchAreBitwiseInvisible(width: Int) {
        let block = Block(nx: width, ny: 6, seed: UInt64(width))
        let plain = sweep(block, pieces: [(0..<6, 0..<width)], rx: 0.19, ry: 0.23)
        for (streaming, prefetch) in [(false, true), (true, false), (true, true)] {
            let other = sweep(block, pieces: [(0..<6, 0..<width)], rx: 0.19, ry: 0.23, streaming: streaming, prefetch: prefetch)
            let differing = zip(other, plain).filter { $0.bitPattern != $1.bitPattern }.count
            #expect(differing == 0, "streaming \(streaming), prefetch \(prefetch)")
        }
    }

    /// A band of 1-4 rows (shared loads, fused `- 2u`) gives each row the
    /// bits of a single-row sweep, on random values of both signs; widths
    /// below, at and around multiples of the 8-wide vector (every tail length).
    /// Rows start at every alignment to a cache line (the kernels start with
    /// one vector of their own up to the first aligned column).
    @Test(arguments: [1, 2, 3, 4, 5, 8, 9, 15, 16, 17, 23, 31, 1030])
    func bandsAreBitwiseSingleRows(width: Int) {
        let block = Block(nx: width, ny: 4, seed: UInt64(100 + width))
        let plain = sweep(block, pieces: [(0..<4, 0..<width)], rx: 0.19, ry: 0.23)
        for rows in 1...4 {
            for (prefetch, shift) in [(false, 0), (true, 0)] + (1..<8).map({ (false, $0) }) {
                // The band written `shift` doubles further on in a buffer of its own.
                var out = [Double](repeating: .nan, count: block.data.count + 8)
                block.data.withUnsafeBufferPointer { u in
                    out.withUnsafeMutableBufferPointer { v in
                        let first = u.baseAddress! + 1, target = v.baseAddress! + block.stride + 1 + shift
                        func row(_ k: Int) -> UnsafePointer<Double> { first + min(k, rows + 1) * block.stride }
                        func outRow(_ k: Int) -> UnsafeMutablePointer<Double> { target + min(k, rows - 1) * block.stride }
                        heatStencilBand((row(0), row(1), row(2), row(3), row(4), row(5)),
                                        (outRow(0), outRow(1), outRow(2), outRow(3)),
                                        bandRows: rows, count: width, rx: 0.19, ry: 0.23,
                                        prefetch: prefetch)
                    }
                }
                let written = (1...rows).flatMap { j in (1...width).map { j * block.stride + $0 } }
                let differing = written.filter { out[$0 + shift].bitPattern != plain[$0].bitPattern }.count
                #expect(differing == 0, "\(rows) rows, prefetch \(prefetch), shift \(shift)")
                #expect(out[(rows + 1) * block.stride + 1 + shift].isNaN, "no row past the band is written")
                #expect(out[block.stride + shift].isNaN && out[block.stride + width + 1 + shift].isNaN,
                        "no column beyond the row is written")
            }
        }
    }

    /// Rows padded to whole cache lines (stride a multiple of 8, as fields
    /// are) are swept in bands of four (then two, one): each row gets the
    /// bits of a sweep row by row (`heatStencilLine`), with every store kind,
    /// for every row count (every band remainder), columns starting at every
    /// alignment and widths around the vector length.
    @Test(arguments: [1, 5, 9, 14, 17, 23, 40, 1030])
    func sweepsInBandsAreBitwiseRowByRow(width: Int) {
        let stride = (width + 2 + 7) / 8 * 8
        let block = Block(nx: width, ny: 9, seed: UInt64(300 + width), stride: stride)
        var rowByRow = [Double](repeating: .nan, count: block.data.count)
        block.data.withUnsafeBufferPointer { u in
            rowByRow.withUnsafeMutableBufferPointer { v in
                for j in 1...9 {
                    heatStencilLine(center: u.baseAddress! + j * stride + 1, south: u.baseAddress! + (j - 1) * stride + 1,
                                    north: u.baseAddress! + (j + 1) * stride + 1, out: v.baseAddress! + j * stride + 1,
                                    count: width, rx: 0.19, ry: 0.23, streaming: false, prefetch: false)
                }
            }
        }
        for rows in 1...9 {
            for first in Set([0, min(3, width - 1), width / 2]) {
                for (streaming, prefetch) in [(false, false), (false, true), (true, false), (true, true)] {
                    let out = sweep(block, pieces: [(0..<rows, first..<width)], rx: 0.19, ry: 0.23, streaming: streaming,
                                    prefetch: prefetch)
                    let written = (1...rows).flatMap { j in (1 + first...width).map { j * stride + $0 } }
                    let differing = written.filter { out[$0].bitPattern != rowByRow[$0].bitPattern }.count
                    #expect(differing == 0, "\(rows) rows from column \(first), streaming \(streaming), prefetch \(prefetch)")
                    #expect(out.enumerated().filter { !$1.isNaN }.count == written.count, "nothing else is written")
                }
            }
        }
    }

    /// Bands with streaming stores (the plain sweep, the last level of a
    /// temporal block): rows that share their cache-line alignment (stride
    /// a multiple of 8), starting at columns 0...7 so that the aligned
    /// middle starts at every offset (rows too short to reach it are done
    /// column by column).
    @Test(arguments: [6, 14, 22, 30, 1030])
    func streamingBandsAreBitwiseSingleRows(width: Int) {
        let block = Block(nx: width, ny: 4, seed: UInt64(200 + width))
        #expect(block.stride % 8 == 0)
        let plain = sweep(block, pieces: [(0..<4, 0..<width)], rx: 0.19, ry: 0.23)
        for rows in 1...4 {
            for first in 0..<min(8, width) {
                var out = [Double](repeating: .nan, count: block.data.count)
                block.data.withUnsafeBufferPointer { u in
                    out.withUnsafeMutableBufferPointer { v in
                        let origin = u.baseAddress! + 1 + first, target = v.baseAddress! + block.stride + 1 + first
                        func row(_ k: Int) -> UnsafePointer<Double> { origin + min(k, rows + 1) * block.stride }
                        func outRow(_ k: Int) -> UnsafeMutablePointer<Double> { target + min(k, rows - 1) * block.stride }
                        heatStencilBand((row(0), row(1), row(2), row(3), row(4), row(5)),
                                        (outRow(0), outRow(1), outRow(2), outRow(3)), bandRows: rows,
                                        count: width - first, rx: 0.19, ry: 0.23, streaming: true, prefetch: false)
                    }
                }
                let written = (1...rows).flatMap { j in (1 + first...width).map { j * block.stride + $0 } }
                let differing = written.filter { out[$0].bitPattern != plain[$0].bitPattern }.count
                #expect(differing == 0, "\(rows) rows, first column \(first)")
                #expect(out.enumerated().filter { !$1.isNaN }.count == written.count, "nothing outside is written")
            }
        }
    }
}
