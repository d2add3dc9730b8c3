import Foundation
import Kernels
import MiniappCore
import ThreadPool

/// What reproducibility costs inside a rank: the exact sum and the exact dot
/// product against a plain (vectorised, order-dependent) sum and a copy of
/// the same array, and one exact diagnostic of a heat field against one
/// sweep of the stencil over it.
enum ExactSumBenchmarks {
    /// One array size: nanoseconds per term and GB/s read, per thread.
    struct Row: Sendable {
        let name: String
        let bytes: Int
        let plainNanoseconds: Double
        let exactNanoseconds: Double
        let dotNanoseconds: Double
        let copyNanoseconds: Double
    }

    /// The terms: a smooth field, as diagnostics and dot products of a
    /// diffusion problem see them (one thread, best of `repeats`).
    static func terms(count: Int, name: String, repeats: Int) -> Row {
        let x = UnsafeMutablePointer<Double>.allocate(capacity: count)
        let y = UnsafeMutablePointer<Double>.allocate(capacity: count)
        defer { x.deallocate(); y.deallocate() }
        let row = 4096
        for k in 0..<count {
            let (i, j) = (Double(k % row) + 0.5, Double(k / row) + 0.5)
            x[k] = sin(Double.pi * i / Double(row)) * sin(Double.pi * j / Double(max(1, count / row)))
            y[k] = x[k] * 1e-3 + 1e-9 * Double(k % 7)
        }
        func best(_ body: () -> Void) -> Double {
            var fastest = Double.infinity
            for _ in 0..<repeats {
                let began = wallSeconds()
                body()
                fastest = min(fastest, wallSeconds() - began)
            }
            return fastest / Double(count) * 1e9
        }
        var sink = 0.0
        let plain = best { sink += plainSum(x, count) }
        let exact = best {
            var sum = ExactSum()
            var start = 0
            while start < count { sum.add(x + start, count: min(row, count - start)); start += row }
            sink += sum.value
        }
        let dot = best {
            var sum = ExactSum()
            var start = 0
            while start < count { sum.addProducts(x + start, y + start, count: min(row, count - start)); start += row }
            sink += sum.value
        }
        let copy = best { y.update(from: x, count: count) }
        if sink.isNaN { Console.write("", to: .output) }
        return Row(name: name, bytes: count * 8, plainNanoseconds: plain, exactNanoseconds: exact, dotNanoseconds: dot,
                   copyNanoseconds: copy)
    }

    /// Seconds of one exact diagnostic (sum, min, max, and the squared and
    /// largest errors against two references, as the heat problem computes
    /// them) and of one stencil sweep, over an n x n field on `threads`
    /// threads (best of `repeats`).
    static func diagnosticAgainstSweep(n: Int, threads: Int, repeats: Int) -> (diagnostic: Double, sweep: Double) {
        let stride = n + 2
        let u = UnsafeMutablePointer<Double>.allocate(capacity: stride * (n + 2))
        let v = UnsafeMutablePointer<Double>.allocate(capacity: stride * (n + 2))
        let profile = UnsafeMutablePointer<Double>.allocate(capacity: n)
        defer { u.deallocate(); v.deallocate(); profile.deallocate() }
        for i in 0..<n { profile[i] = sin(Double.pi * (Double(i) + 1) / Double(n + 1)) }
        let origin = u + stride + 1, target = v + stride + 1
        let pool = ForkJoinPool(threads: threads, pinTo: NodeBenchmarks.pinning(threads))
        let rows = BlockPartition(count: n, parts: threads)
        pool.run { t in
            for j in rows.range(of: t) {
                (u + (j + 1) * stride).update(repeating: 0, count: stride)
                (v + (j + 1) * stride).update(repeating: 0, count: stride)
                for i in 0..<n { origin[j * stride + i] = 0.999 * profile[j] * profile[i] }
            }
        }
        for j in [-1, n] {
            (origin + j * stride - 1).update(repeating: 0, count: stride)
            (target + j * stride - 1).update(repeating: 0, count: stride)
        }
        let partials = PerThread(count: threads, initial: FieldStatistics())
        let references = [SeparableReference(profileX: profile, profileY: profile, scale: 0.999),
                          SeparableReference(profileX: profile, profileY: profile, scale: 0.998)]
        var diagnostic = Double.infinity, sweep = Double.infinity
        for _ in 0..<repeats {
            var began = wallSeconds()
            pool.run { t in
                let slot = partials.pointer(t)
                slot.pointee = FieldStatistics()
                accumulateStatistics(&slot.pointee, origin: origin, stride: stride, rows: rows.range(of: t), nx: n,
                                     references: references)
            }
            var total = FieldStatistics()
            for t in 0..<threads { total.merge(partials[t]) }
            diagnostic = min(diagnostic, wallSeconds() - began)
            began = wallSeconds()
            pool.run { t in
                heatStencilSweep(from: origin, to: target, stride: stride, rows: rows.range(of: t), columns: 0..<n,
                                 rx: 0.2, ry: 0.2, streaming: true, prefetch: true)
            }
            sweep = min(sweep, wallSeconds() - began)
        }
        return (diagnostic, sweep)
    }

    /// A plain sum in eight lanes (what an order-dependent reduction costs).
    private static func plainSum(_ x: UnsafePointer<Double>, _ n: Int) -> Double {
        var a = SIMD4<Double>(), b = SIMD4<Double>()
        var k = 0
        while k + 8 <= n {
            a += UnsafeRawPointer(x + k).loadUnaligned(as: SIMD4<Double>.self)
            b += UnsafeRawPointer(x + k + 4).loadUnaligned(as: SIMD4<Double>.self)
            k += 8
        }
        var tail = 0.0
        while k < n { tail += x[k]; k += 1 }
        return (a + b).sum() + tail
    }
}
