import CKernelShims

/// The explicit (FTCS) 5-point heat update:
///
///     v = u + rx * ((w + e) - 2u) + ry * ((s + n) - 2u),   rx = alpha dt / hx^2, ry = alpha dt / hy^2
///
/// over a rectangle of a row-major block with `stride` elements per row.
/// Pointers address point (0, 0) of the block; neighbours at -1 and at
/// `rows.upperBound`/`columns.upperBound` must be readable (halo or boundary).
///
/// The expression is evaluated in the same order for every point, whatever
/// the rectangle, the store instructions or the scheme, so a field does not
/// depend on how it is split into rectangles (ranks, threads,
/// interior/boundary strips, temporal blocks). The form
/// `u + r * (neighbours - 2u)` keeps the total heat of a periodic field
/// constant to round-off (no systematic error from rounding 1 - 2rx - 2ry).
///
/// Not @inlinable on purpose: kernels are compiled here, with this module's
/// flags (-Ounchecked, AVX2), and called from the other modules.
public func heatStencilSweep(from u: UnsafePointer<Double>, to v: UnsafeMutablePointer<Double>,
                             stride: Int, rows: Range<Int>, columns: Range<Int>, rx: Double, ry: Double,
                             streaming: Bool = false) {
    guard !columns.isEmpty else { return }
    let first = columns.lowerBound, count = columns.count
    for j in rows {
        let c = u + j * stride + first
        let out = v + j * stride + first
        if streaming {
            heatStencilRowStreaming(center: c, south: c - stride, north: c + stride, out: out, count: count, rx: rx, ry: ry)
        } else {
            heatStencilRow(center: c, south: c - stride, north: c + stride, out: out, count: count, rx: rx, ry: ry)
        }
    }
    if streaming { kernels_store_fence() }
}

/// One row of the update from explicit row pointers (the rows of a
/// temporal block live in different buffers); `center[-1]` and
/// `center[count]` are read.
public func heatStencilLine(center: UnsafePointer<Double>, south: UnsafePointer<Double>, north: UnsafePointer<Double>,
                            out: UnsafeMutablePointer<Double>, count: Int, rx: Double, ry: Double, streaming: Bool) {
    if streaming {
        heatStencilRowStreaming(center: center, south: south, north: north, out: out, count: count, rx: rx, ry: ry)
    } else {
        heatStencilRow(center: center, south: south, north: north, out: out, count: count, rx: rx, ry: ry)
    }
}

/// One row of the update; `center[-1]` and `center[count]` are read.
/// Plain pointers and a counted loop: the form LLVM vectorises (it versions
/// the loop with a runtime check that `out` does not overlap the inputs).
@inline(__always)
func heatStencilRow(center c: UnsafePointer<Double>, south s: UnsafePointer<Double>,
                    north n: UnsafePointer<Double>, out: UnsafeMutablePointer<Double>,
                    count: Int, rx: Double, ry: Double) {
    var i = 0
    while i < count {
        let here = c[i]
        let twice = here + here
        out[i] = here + rx * ((c[i - 1] + c[i + 1]) - twice) + ry * ((s[i] + n[i]) - twice)
        i += 1
    }
}

/// The same row with streaming stores for the aligned middle: the output
/// goes to memory without being read first (16 instead of 24 bytes per
/// update). The arithmetic is the same, lane by lane.
@inline(__always)
func heatStencilRowStreaming(center c: UnsafePointer<Double>, south s: UnsafePointer<Double>,
                             north n: UnsafePointer<Double>, out: UnsafeMutablePointer<Double>,
                             count: Int, rx: Double, ry: Double) {
    var i = 0
    while i < count && Int(bitPattern: out + i) & 31 != 0 {
        let here = c[i], twice = here + here
        out[i] = here + rx * ((c[i - 1] + c[i + 1]) - twice) + ry * ((s[i] + n[i]) - twice)
        i += 1
    }
    let vrx = SIMD4<Double>(repeating: rx), vry = SIMD4<Double>(repeating: ry)
    while i + 4 <= count {
        let here = UnsafeRawPointer(c + i).loadUnaligned(as: SIMD4<Double>.self)
        let west = UnsafeRawPointer(c + i - 1).loadUnaligned(as: SIMD4<Double>.self)
        let east = UnsafeRawPointer(c + i + 1).loadUnaligned(as: SIMD4<Double>.self)
        let south = UnsafeRawPointer(s + i).loadUnaligned(as: SIMD4<Double>.self)
        let north = UnsafeRawPointer(n + i).loadUnaligned(as: SIMD4<Double>.self)
        let twice = here + here
        kernels_stream4(out + i, here + vrx * ((west + east) - twice) + vry * ((south + north) - twice))
        i += 4
    }
    while i < count {
        let here = c[i], twice = here + here
        out[i] = here + rx * ((c[i - 1] + c[i + 1]) - twice) + ry * ((s[i] + n[i]) - twice)
        i += 1
    }
}
