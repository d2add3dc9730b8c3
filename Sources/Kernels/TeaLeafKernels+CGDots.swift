/// CG's operator pass with its dot products: w = A z, and r.z, w.z (and,
/// preconditioned, r.r) in the same loop, from registers.
///
/// The operator streams its fields from memory, and the exact sums' lanes
/// (`ExactSum+OnePass`) compute between its loads: each chunk of a row is
/// split against the sums' predictions as its w is made, instead of a
/// second pass over w, z and r per row. Where a sum's split misses, that
/// sum alone takes the chunk again from w, z and r (just written and read:
/// in cache); where a sum has no prediction yet (a thread's first row),
/// the chunk is made first and summed after.

import CKernelShims

/// How far ahead (cells) the loop asks for the rows it reads from memory.
private let prefetchAhead = 192

/// w = A z on a rectangle, adding r.z, w.z and r.r (one pass, one later reduction).
/// Without preconditioning z is r, and r.z is r.r (`rr` is left alone).
/// `predictions`: the calling thread's, kept from one call to the next.
public func teaCGApplyDots(_ a: TeaOperator, z: UnsafePointer<Double>, r: UnsafePointer<Double>,
                           into w: UnsafeMutablePointer<Double>, rows: Range<Int>, columns: Range<Int>,
                           rz: inout ExactSum, wz: inout ExactSum, rr: inout ExactSum, predictions: CGDotPredictions) {
    guard !columns.isEmpty else { return }
    if z != r {
        applyDots(a, z: z, r: r, into: w, rows: rows, columns: columns, rz: &rz, wz: &wz, rr: &rr,
                  saved: predictions.chunks, Preconditioned.self)
    } else {
        applyDots(a, z: z, r: r, into: w, rows: rows, columns: columns, rz: &rz, wz: &wz, rr: &rr,
                  saved: predictions.chunks, Unpreconditioned.self)
    }
}

/// What the sums of each column chunk were split against last, one set per
/// thread: the chunk below, one row down, is split against it, also in the
/// next call (the next rows, or the next iteration's first).
public final class CGDotPredictions {
    fileprivate let chunks: UnsafeMutablePointer<ExactSum.Prediction>

    /// For rows of `columns` cells.
    public init(columns: Int) {
        let count = 3 * max(1, (columns + cgDotChunk - 1) / cgDotChunk)
        chunks = .allocate(capacity: count)
        chunks.initialize(repeating: ExactSum.Prediction(), count: count)
    }

    deinit { chunks.deallocate() }
}

/// Whether z differs from r (three sums) or not (two), as a type: a loop each, without a branch inside.
private protocol Preconditioning { static var preconditioned: Bool { get } }
private enum Preconditioned: Preconditioning { static var preconditioned: Bool { true } }
private enum Unpreconditioned: Preconditioning { static var preconditioned: Bool { false } }

private func applyDots<P: Preconditioning>(_ a: TeaOperator, z: UnsafePointer<Double>, r: UnsafePointer<Double>,
                                           into w: UnsafeMutablePointer<Double>, rows: Range<Int>, columns: Range<Int>,
                                           rz: inout ExactSum, wz: inout ExactSum, rr: inout ExactSum,
                                           saved: UnsafeMutablePointer<ExactSum.Prediction>, _: P.Type) {
    let preconditioned = P.preconditioned
    for j in rows {
        let row = j * a.stride
        // Chunks of the block's columns 0 ..< 256, 256 ..< 512, ..., cut to `columns`.
        var start = columns.lowerBound
        while start < columns.upperBound {
            let c = start / cgDotChunk, n = min((c + 1) * cgDotChunk, columns.upperBound) - start
            rz.prediction = saved[3 * c]
            wz.prediction = saved[3 * c + 1]
            if preconditioned { rr.prediction = saved[3 * c + 2] }
            let o = row + start
            var chunk = CGDotChunk<P>(a: a, z: z + o, r: r + o, w: w + o, at: o, count: n)
            if !chunk.addInOnePass(rz: &rz, wz: &wz, rr: &rr) {
                for k in 0..<n { w[o + k] = a.apply(z, o + k) }
                wz.addProducts(w + o, z + o, count: n)
                rz.addProducts(r + o, z + o, count: n)
                if preconditioned { rr.addProducts(r + o, r + o, count: n) }
            }
            saved[3 * c] = rz.prediction
            saved[3 * c + 1] = wz.prediction
            if preconditioned { saved[3 * c + 2] = rr.prediction }
            start += n
        }
    }
}

/// Cells per chunk: a row's magnitudes change along it (a front of the
/// residual spans tens of binades), and a short chunk's narrower span needs
/// fewer bands. Each chunk is split against the prediction of the chunk
/// above it, one row up.
private let cgDotChunk = 256

/// One chunk of a row: `count` cells from offset `at` (the pointers
/// address its first cell).
private struct CGDotChunk<P: Preconditioning> {
    let a: TeaOperator
    let z: UnsafePointer<Double>, r: UnsafePointer<Double>, w: UnsafeMutablePointer<Double>
    let at: Int, count: Int
    var preconditioned: Bool { P.preconditioned }

    /// Makes w and adds the chunk's sums in one pass, where every sum has a
    /// prediction that a split of at most three bands takes (all in as many
    /// bands as the widest needs); false, having done nothing, otherwise.
    @inline(__always)
    mutating func addInOnePass(rz: inout ExactSum, wz: inout ExactSum, rr: inout ExactSum) -> Bool {
        guard let first = rz.predictedBands(count: count), let second = wz.predictedBands(count: count) else { return false }
        var bands = max(first, second)
        if preconditioned {
            guard let third = rr.predictedBands(count: count) else { return false }
            bands = max(bands, third)
        }
        switch bands {
        case 1: return addInOnePass(OneBand.self, rz: &rz, wz: &wz, rr: &rr)
        case 2: return addInOnePass(TwoBands.self, rz: &rz, wz: &wz, rr: &rr)
        default: return addInOnePass(ThreeBands.self, rz: &rz, wz: &wz, rr: &rr)
        }
    }

    @inline(__always)
    private mutating func addInOnePass<Bands: BandCount>(_: Bands.Type, rz: inout ExactSum, wz: inout ExactSum,
                                                         rr: inout ExactSum) -> Bool {
        let m = ExactSum.termsLog2(count)
        guard var rzLanes = DotLanes<Bands>(rz, termsLog2: m), var wzLanes = DotLanes<Bands>(wz, termsLog2: m),
              var rrLanes = DotLanes<Bands>(preconditioned ? rr : rz, termsLog2: m)
        else { return false }
        let origin = z - at   // the operator takes offsets from cell (0, 0)
        var k = 0
        let s = a.stride
        while k + 4 <= count {
            // The rows that come from memory, ahead of the hardware prefetchers: the sums'
            // work between the loads leaves too few misses in flight otherwise.
            kernels_prefetch(z + k + s + prefetchAhead)
            kernels_prefetch(a.ky + at + k + s + prefetchAhead)
            kernels_prefetch(a.kx + at + k + prefetchAhead)
            kernels_prefetch(w + k + prefetchAhead)
            let wv = a.apply4(origin, at + k)
            UnsafeMutableRawPointer(w + k).storeBytes(of: wv, as: SIMD4<Double>.self)
            let zv = UnsafeRawPointer(z + k).loadUnaligned(as: SIMD4<Double>.self)
            let rv = preconditioned ? UnsafeRawPointer(r + k).loadUnaligned(as: SIMD4<Double>.self) : zv
            wzLanes.add(wv * zv)
            rzLanes.add(rv * zv)
            if preconditioned { rrLanes.add(rv * rv) }
            k += 4
        }
        while k < count {
            // The last cells one by one, in lanes of their own (zeros add nothing).
            w[k] = a.apply(origin, at + k)
            wzLanes.add(SIMD4(w[k] * z[k], 0, 0, 0))
            rzLanes.add(SIMD4(r[k] * z[k], 0, 0, 0))
            if preconditioned { rrLanes.add(SIMD4(r[k] * r[k], 0, 0, 0)) }
            k += 1
        }
        rzLanes.finish(into: &rz, orAdd: r, z, count: count)
        wzLanes.finish(into: &wz, orAdd: w, z, count: count)
        if preconditioned { rrLanes.finish(into: &rr, orAdd: r, r, count: count) }
        return true
    }
}

/// One dot product's lanes along a chunk: its split, and its terms' magnitudes.
private struct DotLanes<Bands: BandCount> {
    var lanes: OnePassLanes<Bands>
    var seen = LaneMagnitudes()

    /// Lanes against `sum`'s prediction (nil where its sigmas would not be normal).
    @inline(__always)
    init?(_ sum: ExactSum, termsLog2 m: Int) {
        guard let lanes = OnePassLanes<Bands>(largestBiased: sum.predictedLargestBiased, termsLog2: m) else { return nil }
        self.lanes = lanes
    }

    @inline(__always)
    mutating func add(_ terms: SIMD4<Double>) {
        lanes.add(terms)
        seen.see(terms)
    }

    /// Adds the split to `sum` where it is exact; otherwise the products
    /// x[k] * y[k] of the chunk, from memory (cache).
    @inline(__always)
    func finish(into sum: inout ExactSum, orAdd x: UnsafePointer<Double>, _ y: UnsafePointer<Double>, count: Int) {
        let split = lanes.split(seen)
        if sum.isExact(split) { sum.addExact(split) } else { sum.addProducts(x, y, count: count, afterMissing: seen) }
    }
}
