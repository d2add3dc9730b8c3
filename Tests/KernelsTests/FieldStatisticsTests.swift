import Foundation
import Kernels
import Testing
import TestSupport

/// The diagnostics' reductions against the same quantities computed one
/// value at a time: bit for bit, for fields whose blocks take the short exact
/// way, the general one, or none (zeros), and for any split into row ranges.
@Suite struct FieldStatisticsTests {
    struct Expected: Equatable {
        var sum = 0.0, minimum = 0.0, maximum = 0.0, squared0 = 0.0, squared1 = 0.0, worst0 = 0.0, worst1 = 0.0
    }

    let nx = 700, ny = 9, stride = 704

    func field(_ kind: Int) -> [Double] {
        var rng = SplitMix64(state: UInt64(kind) + 11)
        return (0..<(stride * ny)).map { k in
            let (i, j) = (k % stride, k / stride)
            let smooth = sin(Double(i + 1) * 0.004) * sin(Double(j + 1) * 0.3)
            switch kind {
            case 0: return smooth
            case 1: return i % 97 == 0 ? 0 : smooth * Double(sign: .plus, exponent: -Int.random(in: 0...120, using: &rng), significand: 1)
            case 2: return j == 4 ? 0 : smooth + Double(rng.next() >> 11) * 0x1p-80
            default: return i % 5 == 0 ? -smooth : smooth * 1e-300
            }
        }
    }

    func expected(_ u: [Double], _ px: [Double], _ py: [Double], scales: (Double, Double)) -> Expected {
        var sum = ExactSum(), s0 = ExactSum(), s1 = ExactSum()
        var e = Expected(minimum: .infinity, maximum: -.infinity)
        for j in 0..<ny {
            for i in 0..<nx {
                let v = u[j * stride + i]
                sum.add(v)
                e.minimum = min(e.minimum, v); e.maximum = max(e.maximum, v)
                let d0 = v - (scales.0 * py[j]) * px[i], d1 = v - (scales.1 * py[j]) * px[i]
                s0.add(d0 * d0); s1.add(d1 * d1)
                e.worst0 = max(e.worst0, abs(d0)); e.worst1 = max(e.worst1, abs(d1))
            }
        }
        (e.sum, e.squared0, e.squared1) = (sum.value, s0.value, s1.value)
        return e
    }

    @Test(arguments: 0..<4)
    func blocksAgreeWithOneByOne(kind: Int) {
        let u = field(kind)
        let px = (0..<nx).map { sin(Double($0 + 1) * 0.004) }, py = (0..<ny).map { sin(Double($0 + 1) * 0.3) }
        let scales = (1.0, 0.999)
        let want = expected(u, px, py, scales: scales)
        u.withUnsafeBufferPointer { u in
            px.withUnsafeBufferPointer { px in
                py.withUnsafeBufferPointer { py in
                    let references = [SeparableReference(profileX: px.baseAddress!, profileY: py.baseAddress!, scale: scales.0),
                                      SeparableReference(profileX: px.baseAddress!, profileY: py.baseAddress!, scale: scales.1)]
                    for cut in [0, 1, 4, ny] {
                        var a = FieldStatistics(), b = FieldStatistics()
                        accumulateStatistics(&a, origin: u.baseAddress!, stride: stride, rows: 0..<cut, nx: nx, references: references)
                        accumulateStatistics(&b, origin: u.baseAddress!, stride: stride, rows: cut..<ny, nx: nx, references: references)
                        a.merge(b)
                        let got = Expected(sum: a.sum.value, minimum: a.minimum, maximum: a.maximum,
                                           squared0: a.squaredError.0.value, squared1: a.squaredError.1.value,
                                           worst0: a.maxError.0, worst1: a.maxError.1)
                        #expect(got == want, "kind \(kind), cut \(cut)")
                    }
                }
            }
        }
    }

    @Test func nonFiniteValuesReachTheSums() {
        for bad in [Double.nan, .infinity, -.infinity] {
            var u = field(0)
            u[3 * stride + 300] = bad
            var stats = FieldStatistics()
            u.withUnsafeBufferPointer {
                accumulateStatistics(&stats, origin: $0.baseAddress!, stride: stride, rows: 0..<ny, nx: nx, references: [])
            }
            #expect(stats.sum.sawNonFinite)
            #expect(bad.isNaN ? stats.sum.value.isNaN : stats.sum.value == bad)
        }
    }
}
