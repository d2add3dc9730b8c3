@testable import Kernels
import Testing
import TestSupport

/// CG's update pass leaves every other x update to the next pass
/// (`teaCGUpdate`'s `defersX`), which makes both in their order: after any
/// number of passes, and the last deferred update made by `teaAxpy`, every
/// vector must hold the same bits as with an x update in every pass.
@Suite struct TeaCGUpdateTests {
    struct Vectors: Equatable {
        var x, p, r, s, z: [Double]
    }

    @Test(arguments: [false, true], [1, 2, 5, 6])
    func deferredUpdatesGiveTheSameBits(preconditioned: Bool, passes: Int) {
        var rng = SplitMix64(state: 21)
        let (nx, ny, stride) = (37, 5, 40)
        let count = ny * stride
        func vector() -> [Double] { (0..<count).map { _ in Double(rng.next() >> 11) * 0x1p-53 - 0.5 } }
        let start = Vectors(x: vector(), p: vector(), r: vector(), s: vector(), z: vector())
        let w = (0..<passes).map { _ in vector() }
        let mi = vector()
        let coefficients = (0..<passes).map { _ in (alpha: Double(rng.next() >> 11) * 0x1p-53, beta: Double(rng.next() >> 11) * 0x1p-53) }

        func run(deferring: Bool) -> Vectors {
            var v = start
            var pending: Double? = nil
            for k in 0..<passes {
                let beta: Double? = k == 0 ? nil : coefficients[k].beta
                let defers = deferring && pending == nil && beta != nil
                v.x.withUnsafeMutableBufferPointer { x in v.p.withUnsafeMutableBufferPointer { p in
                    v.r.withUnsafeMutableBufferPointer { r in v.s.withUnsafeMutableBufferPointer { s in
                        v.z.withUnsafeMutableBufferPointer { z in w[k].withUnsafeBufferPointer { w in
                            mi.withUnsafeBufferPointer { mi in
                                teaCGUpdate(x: x.baseAddress!, p: p.baseAddress!, r: r.baseAddress!, s: s.baseAddress!,
                                            z: preconditioned ? z.baseAddress! : r.baseAddress!, w: w.baseAddress!,
                                            mi: preconditioned ? mi.baseAddress! : nil, alpha: coefficients[k].alpha,
                                            beta: beta, deferredAlpha: pending, defersX: defers, stride: stride,
                                            rows: 0..<ny, columns: 1..<nx + 1)
                            }
                        } }
                    } }
                } }
                pending = defers ? coefficients[k].alpha : nil
            }
            if let alpha = pending {
                v.x.withUnsafeMutableBufferPointer { x in v.p.withUnsafeBufferPointer { p in
                    teaAxpy(x: x.baseAddress!, p: p.baseAddress!, alpha: alpha, stride: stride, rows: 0..<ny,
                            columns: 1..<nx + 1)
                } }
            }
            return v
        }
        let everyPass = run(deferring: false), deferred = run(deferring: true)
        let same = deferred == everyPass, moved = everyPass.x != start.x   // (not the vectors in a failure's message)
        #expect(same)
        #expect(moved)
    }
}
