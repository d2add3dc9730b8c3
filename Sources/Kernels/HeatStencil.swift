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
/// With `bands`, rows padded to whole cache lines are swept in bands of
/// four (`heatStencilBand`): a core that streams the field keeps four rows
/// in flight each way, and loads each row's centre once for the three
/// updates that read it. Whether that pays from memory depends on the
/// machine (docs/performance.md, "Kernel measurements"), so `row_bands`
/// `auto` times both.
///
/// Not @inlinable on purpose: kernels are compiled here, with this module's
/// flags (-Ounchecked, AVX2), and called from the other modules.
public func heatStencilSweep(from u: UnsafePointer<Double>, to v: UnsafeMutablePointer<Double>,
                             stride: Int, rows: Range<Int>, columns: Range<Int>, rx: Double, ry: Double,
                             streaming: Bool = false, prefetch: Bool = false, bands: Bool = true) {
    guard !columns.isEmpty else { return }
    let first = columns.lowerBound, count = columns.count
    // Bands of four rows where the rows' stores share their alignment (rows padded to whole lines).
    let bandRows = bands && stride % BandVector.scalarCount == 0 ? 4 : 1
    // A narrow strip (the columns beside a west or east halo) has its rows a
    // stride apart, which no hardware prefetcher follows: its rows
    // `stripAhead` ahead are asked for. (One rank, periodic 1024^2: the
    // boundary phase 0.106-0.110 -> 0.054-0.078 s of a ~1.5 s run.)
    let narrow = count < BandVector.scalarCount
    var j = rows.lowerBound
    while j < rows.upperBound {
        let n = min(bandRows, rows.upperBound - j)
        let c = u + j * stride + first, out = v + j * stride + first
        if narrow {
            for k in stripAhead ..< stripAhead + n {
                kernels_prefetch(c + k * stride - 1); kernels_prefetch(c + k * stride + count)
                kernels_prefetch(out + k * stride)
            }
        }
        // Rows past the band are never read; they repeat its last row's north.
        func input(_ k: Int) -> UnsafePointer<Double> { c + (min(k, n + 1) - 1) * stride }
        func output(_ k: Int) -> UnsafeMutablePointer<Double> { out + min(k, n - 1) * stride }
        heatStencilBand((input(0), input(1), input(2), input(3), input(4), input(5)),
                        (output(0), output(1), output(2), output(3)), bandRows: n, count: count, rx: rx, ry: ry,
                        streaming: streaming, prefetch: prefetch)
        j += n
    }
    if streaming { kernels_store_fence() }
}

/// One row of the update from explicit row pointers (the rows of a
/// temporal block live in different buffers); `center[-1]` and
/// `center[count]` are read. Streaming stores need a store fence after the
/// last row (`kernels_store_fence`).
public func heatStencilLine(center: UnsafePointer<Double>, south: UnsafePointer<Double>, north: UnsafePointer<Double>,
                            out: UnsafeMutablePointer<Double>, count: Int, rx: Double, ry: Double, streaming: Bool,
                            prefetch: Bool) {
    // One loop per setting of the flags, none with a test inside (`KernelFlag`).
    switch (streaming, prefetch) {
    case (false, false):
        stencilRow(center: center, south: south, north: north, out: out, count: count, rx: rx, ry: ry, FlagOff.self, FlagOff.self)
    case (false, true):
        stencilRow(center: center, south: south, north: north, out: out, count: count, rx: rx, ry: ry, FlagOff.self, FlagOn.self)
    case (true, false):
        stencilRow(center: center, south: south, north: north, out: out, count: count, rx: rx, ry: ry, FlagOn.self, FlagOff.self)
    case (true, true):
        stencilRow(center: center, south: south, north: north, out: out, count: count, rx: rx, ry: ry, FlagOn.self, FlagOn.self)
    }
}

/// `heatStencilLine` with its flags fixed at compile time.
@inline(__always)
func stencilRow<Streams: KernelFlag, Prefetches: KernelFlag>(
    center: UnsafePointer<Double>, south: UnsafePointer<Double>, north: UnsafePointer<Double>,
    out: UnsafeMutablePointer<Double>, count: Int, rx: Double, ry: Double, _: Streams.Type, _: Prefetches.Type
) {
    if Streams.isOn {
        heatStencilRowStreaming(center: center, south: south, north: north, out: out, count: count, rx: rx, ry: ry,
                                Prefetches.self)
    } else {
        heatStencilRow(center: center, south: south, north: north, out: out, count: count, rx: rx, ry: ry, Prefetches.self)
    }
}

/// How far ahead, in doubles, a row sweep with `prefetch` asks for the row
/// it reads from memory (north; the centre and south rows are still in
/// cache from the rows before) and the output line it will write: the
/// hardware prefetchers alone keep too few misses in flight for one core.
/// On fields that stay in cache it costs two more instructions per 8
/// updates, hence the flag (docs/performance.md, "Kernel measurements").
let prefetchAheadRead = 1024
let prefetchAheadWrite = 512

/// How many rows ahead a narrow strip asks for its rows (`heatStencilSweep`).
let stripAhead = 8

/// How far the 5-point update reads: one point each way. A halo of depth m
/// carries m steps; each step of a block computes this much less of it.
public let heatStencilReach = 1

/// The update of one point, or of a vector of points lane by lane: the one
/// place the 5-point formula is written. With fused multiply-adds,
/// `fma(u, -2, w + e)` rounds `(w + e) - 2u` once, as the plain form does
/// (`2u` is exact), so both give the same bits; the fused form takes two
/// multiply-adds in place of three of the seven additions, which lets a
/// band compute from cache faster than it streams (section "Performance").
/// Baseline x86-64 has no FMA instruction (it would be a library call per
/// lane), so it keeps the plain form.
@inline(__always)
func heatUpdate<V: HeatValue>(here: V, west: V, east: V, south: V, north: V, rx: V, ry: V) -> V {
    #if KERNELS_BASELINE
    let twice = here + here
    return here + rx * ((west + east) - twice) + ry * ((south + north) - twice)
    #else
    let x = (west + east).addingProduct(here, .minusTwo)
    let y = (south + north).addingProduct(here, .minusTwo)
    return here + rx * x + ry * y
    #endif
}

/// What `heatUpdate` computes with: a double, or a vector of them.
protocol HeatValue {
    static func + (a: Self, b: Self) -> Self
    static func - (a: Self, b: Self) -> Self
    static func * (a: Self, b: Self) -> Self
    func addingProduct(_ a: Self, _ b: Self) -> Self
    static var minusTwo: Self { get }
}

extension Double: HeatValue {
    static var minusTwo: Double { -2 }
}

extension SIMD8: HeatValue where Scalar == Double {
    static var minusTwo: SIMD8<Double> { SIMD8(repeating: -2) }
}

/// Eight updates at `i` (a cache line of output).
@inline(__always)
func heatStencil8(center c: UnsafePointer<Double>, south s: UnsafePointer<Double>, north n: UnsafePointer<Double>,
                  at i: Int, rx: SIMD8<Double>, ry: SIMD8<Double>) -> SIMD8<Double> {
    heatUpdate(here: loadVector(c, i), west: loadVector(c, i - 1), east: loadVector(c, i + 1), south: loadVector(s, i),
               north: loadVector(n, i),
               rx: rx, ry: ry)
}

/// Where a row's loop of 8-wide vectors starts so that its stores, and the
/// loads of the same columns, start on cache lines (`out` + the result is
/// 64-byte aligned): a vector that straddles two lines costs two loads or
/// stores (on an Intel core with AVX-512, a band of rows took twice as long
/// that way). The columns before it are done by one vector at 0 that the
/// aligned ones overlap, recomputed from the same inputs (same bits).
/// Returns 0 (nothing done) for aligned or short rows.
@inline(__always)
func alignedStart(_ out: UnsafeMutablePointer<Double>, count: Int, vector: (Int) -> Void) -> Int {
    let misaligned = Int(bitPattern: out) & 63
    guard misaligned != 0 && count >= 16 else { return 0 }
    vector(0)
    return (64 - misaligned) / MemoryLayout<Double>.stride
}

/// The columns `i..<count` after a row's last whole vector: one more vector
/// ending at the last column where the row is long enough (overlapping
/// columns computed again from the same inputs: same bits), else `scalar`.
@inline(__always)
func finishRow(from i: Int, count: Int, width: Int, vector: (Int) -> Void, scalar: (Range<Int>) -> Void) {
    guard i < count else { return }
    if count >= width { vector(count - width) } else { scalar(i ..< count) }
}

/// One update at `i` (ends of rows, short rows).
@inline(__always)
func heatStencil1(center c: UnsafePointer<Double>, south s: UnsafePointer<Double>, north n: UnsafePointer<Double>,
                  at i: Int, rx: Double, ry: Double) -> Double {
    heatUpdate(here: c[i], west: c[i - 1], east: c[i + 1], south: s[i], north: n[i], rx: rx, ry: ry)
}

/// One row of the update; `center[-1]` and `center[count]` are read.
/// A cache line of output (8 updates: one AVX-512 vector, two AVX2 ones) per
/// iteration, stored on whole cache lines (`alignedStart`), with `prefetch`
/// one prefetch for the north row and one for the output.
@inline(__always)
func heatStencilRow<Prefetches: KernelFlag>(center c: UnsafePointer<Double>, south s: UnsafePointer<Double>,
                                           north n: UnsafePointer<Double>, out: UnsafeMutablePointer<Double>,
                                           count: Int, rx: Double, ry: Double, _: Prefetches.Type) {
    let vrx = SIMD8<Double>(repeating: rx), vry = SIMD8<Double>(repeating: ry)
    let outBytes = UnsafeMutableRawPointer(out)
    @inline(__always) func vector(at i: Int) {
        outBytes.storeBytes(of: heatStencil8(center: c, south: s, north: n, at: i, rx: vrx, ry: vry),
                            toByteOffset: 8 * i, as: SIMD8<Double>.self)
    }
    var i = alignedStart(out, count: count, vector: vector)
    while i + 8 <= count {
        if Prefetches.isOn {
            kernels_prefetch(n + i + prefetchAheadRead)
            kernels_prefetch(out + i + prefetchAheadWrite)
        }
        vector(at: i)
        i += 8
    }
    finishRow(from: i, count: count, width: 8, vector: vector) { columns in
        for k in columns { out[k] = heatStencil1(center: c, south: s, north: n, at: k, rx: rx, ry: ry) }
    }
}

/// The same row with streaming stores for the aligned middle, a whole
/// cache line per store: the output goes to memory without being read first
/// (16 instead of 24 bytes per update). The arithmetic is the same, lane by
/// lane. Full-line stores, not two 32-byte ones per line: a core writes
/// faster that way (docs/performance.md, "Kernel measurements").
@inline(__always)
func heatStencilRowStreaming<Prefetches: KernelFlag>(center c: UnsafePointer<Double>, south s: UnsafePointer<Double>,
                                                    north n: UnsafePointer<Double>, out: UnsafeMutablePointer<Double>,
                                                    count: Int, rx: Double, ry: Double, _: Prefetches.Type) {
    var i = 0
    while i < count && Int(bitPattern: out + i) & 63 != 0 {
        out[i] = heatStencil1(center: c, south: s, north: n, at: i, rx: rx, ry: ry)
        i += 1
    }
    let vrx = SIMD8<Double>(repeating: rx), vry = SIMD8<Double>(repeating: ry)
    while i + 8 <= count {
        if Prefetches.isOn { kernels_prefetch(n + i + prefetchAheadRead) }
        kernels_stream8(out + i, heatStencil8(center: c, south: s, north: n, at: i, rx: vrx, ry: vry))
        i += 8
    }
    while i < count {
        out[i] = heatStencil1(center: c, south: s, north: n, at: i, rx: rx, ry: ry)
        i += 1
    }
}
