@testable import Kernels
import Testing
import TestSupport

/// CG's operator pass with its exact dot products (`teaCGApplyDots`): w
/// must be the operator's, cell by cell, and the sums the exact sums of the
/// rounded products, added one by one, whatever rectangles the block is cut
/// into, on residuals whose magnitudes fall across a row and down the block
/// over hundreds of binades (the front of a solve), with zeros, as CG's are.
@Suite struct TeaCGDotsTests {
    struct Block {
        let nx: Int, ny: Int, stride: Int
        var kx: [Double], ky: [Double], z: [Double], r: [Double]

        /// `decay` binades per cell across a row, `tilt` per row down the block.
        init(nx: Int, ny: Int, decay: Double, tilt: Double, seed: UInt64) {
            var rng = SplitMix64(state: seed)
            self.nx = nx; self.ny = ny
            stride = nx + 2
            let count = (ny + 2) * stride
            func coefficient() -> Double { 0.5 + Double(rng.next() >> 11) * 0x1p-53 }
            kx = (0..<count).map { _ in coefficient() }
            ky = (0..<count).map { _ in coefficient() }
            func residual(_ cell: Int) -> Double {
                let (j, i) = (cell / (nx + 2) - 1, cell % (nx + 2) - 1)
                if (i + 3 * j) % 97 == 5 { return 0 }
                let exponent = Int(-decay * Double(max(i, 0)) - tilt * Double(max(j, 0)))
                let significand = 1 + Double(rng.next() >> 12) * 0x1p-52
                return Double(sign: rng.next() & 1 == 0 ? .plus : .minus, exponent: max(exponent, -1000),
                              significand: significand)
            }
            z = (0..<count).map(residual)
            r = (0..<count).map(residual)
        }

        var origin: Int { stride + 1 }

        /// w and the three sums by rectangles of `rowParts` x `columnParts`;
        /// z is r when not `preconditioned`.
        func fused(preconditioned: Bool, rowParts: Int, columnParts: Int) -> (w: [Double], sums: [Double]) {
            var w = [Double](repeating: 0, count: z.count)
            var rz = ExactSum(), wz = ExactSum(), rr = ExactSum()
            let predictions = CGDotPredictions(columns: nx)
            kx.withUnsafeBufferPointer { kx in ky.withUnsafeBufferPointer { ky in
                z.withUnsafeBufferPointer { z in r.withUnsafeBufferPointer { r in w.withUnsafeMutableBufferPointer { w in
                    let o = origin
                    let a = TeaOperator(kx: kx.baseAddress! + o, ky: ky.baseAddress! + o, di: kx.baseAddress! + o,
                                        stride: stride, rx: 0.75, ry: 1.25)
                    let zp = (preconditioned ? z : r).baseAddress! + o
                    for p in 0..<rowParts {
                        for q in 0..<columnParts {
                            teaCGApplyDots(a, z: zp, r: r.baseAddress! + o, into: w.baseAddress! + o,
                                           rows: ny * p / rowParts ..< ny * (p + 1) / rowParts,
                                           columns: nx * q / columnParts ..< nx * (q + 1) / columnParts,
                                           rz: &rz, wz: &wz, rr: &rr, predictions: predictions)
                        }
                    }
                } } }
            } }
            return (w, [rz.value, wz.value, rr.value])
        }

        /// The same, cell by cell and term by term.
        func oneByOne(preconditioned: Bool) -> (w: [Double], sums: [Double]) {
            var w = [Double](repeating: 0, count: z.count)
            var rz = ExactSum(), wz = ExactSum(), rr = ExactSum()
            kx.withUnsafeBufferPointer { kx in ky.withUnsafeBufferPointer { ky in
                (preconditioned ? z : r).withUnsafeBufferPointer { z in
                    let o = origin
                    let a = TeaOperator(kx: kx.baseAddress! + o, ky: ky.baseAddress! + o, di: kx.baseAddress! + o,
                                        stride: stride, rx: 0.75, ry: 1.25)
                    for j in 0..<ny {
                        for i in 0..<nx {
                            let cell = o + j * stride + i
                            w[cell] = a.apply(z.baseAddress! + o, j * stride + i)
                            wz.add(w[cell] * z[cell])
                            rz.add(r[cell] * z[cell])
                            if preconditioned { rr.add(r[cell] * r[cell]) }
                        }
                    }
                }
            } }
            return (w, [rz.value, wz.value, rr.value])
        }
    }

    @Test(arguments: [(decay: 0.01, tilt: 0.0), (0.1, 0.2), (0.3, 0.05), (1.5, 0.5), (4.0, 2.0)])
    func sumsAreExactAndWIsTheOperators(decay: Double, tilt: Double) {
        let block = Block(nx: 701, ny: 37, decay: decay, tilt: tilt, seed: 11)
        for preconditioned in [false, true] {
            let expected = block.oneByOne(preconditioned: preconditioned)
            for (rowParts, columnParts) in [(1, 1), (3, 1), (2, 3), (37, 5)] {
                let fused = block.fused(preconditioned: preconditioned, rowParts: rowParts, columnParts: columnParts)
                let label = "decay \(decay), tilt \(tilt), preconditioned \(preconditioned), parts \(rowParts) x \(columnParts)"
                #expect(fused.w == expected.w, "w: \(label)")
                #expect(fused.sums == expected.sums, "sums: \(label)")
            }
        }
    }

    @Test func aNaNMakesTheSumsNaN() {
        var block = Block(nx: 300, ny: 9, decay: 0.05, tilt: 0.1, seed: 12)
        block.r[block.origin + 5 * block.stride + 290] = .nan
        let sums = block.fused(preconditioned: true, rowParts: 1, columnParts: 1).sums
        #expect(sums[0].isNaN && sums[2].isNaN)
        #expect(!sums[1].isNaN)
    }
}
