/// The explicit (FTCS) 5-point heat update:
///
///     v = u + rx * ((w + e) - 2u) + ry * ((s + n) - 2u),   rx = alpha dt / hx^2, ry = alpha dt / hy^2
///
/// over a rectangle of a row-major block with `stride` elements per row.
/// Pointers address point (0, 0) of the block; neighbours at -1 and at
/// `rows.upperBound`/`columns.upperBound` must be readable (halo or boundary).
///
/// The expression is evaluated in the same order for every point, whatever
/// the rectangle, so a field does not depend on how it is split into
/// rectangles (ranks, threads, interior/boundary strips). The form
/// `u + r * (neighbours - 2u)` keeps the total heat of a periodic field
/// constant to round-off (no systematic error from rounding 1 - 2rx - 2ry).
public func heatStencilSweep(from u: UnsafePointer<Double>, to v: UnsafeMutablePointer<Double>,
                             stride: Int, rows: Range<Int>, columns: Range<Int>, rx: Double, ry: Double) {
    guard !columns.isEmpty else { return }
    let first = columns.lowerBound, count = columns.count
    for j in rows {
        let c = u + j * stride + first
        let out = v + j * stride + first
        heatStencilRow(center: c, south: c - stride, north: c + stride, out: out, count: count, rx: rx, ry: ry)
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
