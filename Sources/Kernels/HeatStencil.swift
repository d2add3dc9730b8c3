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

// MARK: - Bands of rows (cache-resident sweeps)

/// The rows a band kernel reads: `rows[k]` is row `k - 1` of the band
/// (south of the first row up to north of the last). A band of n rows
/// reads n + 2 rows and loads each of them once per column vector for all
/// the updates it takes part in, instead of three times.
public typealias BandRows = (UnsafePointer<Double>, UnsafePointer<Double>, UnsafePointer<Double>,
                             UnsafePointer<Double>, UnsafePointer<Double>, UnsafePointer<Double>)
public typealias BandOutputs = (UnsafeMutablePointer<Double>, UnsafeMutablePointer<Double>,
                                UnsafeMutablePointer<Double>, UnsafeMutablePointer<Double>)

/// The vector of a band kernel: 8 doubles. One AVX-512 register where the
/// kernel module is built for it (x86-64-v4, `native` on such a machine),
/// two AVX2 registers otherwise, at the same speed as `SIMD4` there.
/// A band computes from cache, where the FP pipes are the limit, so the
/// width of the vectors is the rate (docs/performance.md, "Kernel measurements").
typealias BandVector = SIMD8<Double>

@inline(__always)
func loadVector(_ p: UnsafePointer<Double>, _ i: Int) -> BandVector {
    UnsafeRawPointer(p + i).loadUnaligned(as: BandVector.self)
}

@inline(__always)
func storeVector(_ v: BandVector, _ p: UnsafeMutablePointer<Double>, _ i: Int) {
    UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: BandVector.self)
}

/// Output row k of a band at vector `i`, from input rows k, k + 1, k + 2
/// (`below`, `here`, `above`: centres already loaded, shared with the rows around).
@inline(__always)
func bandUpdate(_ row: UnsafePointer<Double>, below: BandVector, here: BandVector, above: BandVector, at i: Int,
                rx: BandVector, ry: BandVector) -> BandVector {
    heatUpdate(here: here, west: loadVector(row, kernels_opaque_index(i - 1)), east: loadVector(row, i + 1),
               south: below, north: above, rx: rx, ry: ry)
}

/// Rows 0..<n (n = 1...4) of a band: output row k from input rows k, k + 1,
/// k + 2 of `rows` (its south, centre, north). The output rows share their
/// alignment (field rows and ring rows are padded to whole lines). With
/// `streaming`, the aligned middle of each row is written with streaming
/// stores (needs a store fence after the last band, `kernels_store_fence`);
/// the overlapping vectors at the ends of a row (`alignedStart`,
/// `finishRow`) are ordinary stores of the same bits. With `prefetch`, asks
/// for the input rows 2...n + 1 (the ones a band reads first when it walks up
/// a field in memory) and, with ordinary stores, the output rows ahead, as a
/// single-row sweep does. Bitwise the same as `heatStencilLine` on each row.
public func heatStencilBand(_ rows: BandRows, _ out: BandOutputs, bandRows n: Int, count: Int, rx: Double, ry: Double,
                            streaming: Bool = false, prefetch: Bool, ahead: PrefetchAhead = .none) {
    // One loop per setting of the flags, none with a test inside (`KernelFlag`).
    switch (streaming, prefetch) {
    case (false, false): band(rows, out, n, count, rx, ry, ahead, FlagOff.self, FlagOff.self)
    case (false, true): band(rows, out, n, count, rx, ry, ahead, FlagOff.self, FlagOn.self)
    case (true, false): band(rows, out, n, count, rx, ry, ahead, FlagOn.self, FlagOff.self)
    case (true, true): band(rows, out, n, count, rx, ry, ahead, FlagOn.self, FlagOn.self)
    }
}

private func band<Streams: KernelFlag, Prefetches: KernelFlag>(
    _ rows: BandRows, _ out: BandOutputs, _ n: Int, _ count: Int, _ rx: Double, _ ry: Double, _ ahead: PrefetchAhead,
    _: Streams.Type, _: Prefetches.Type
) {
    switch n {
    case 4: heatStencilBand4(rows, out, count: count, rx: rx, ry: ry, ahead: ahead, Streams.self, Prefetches.self)
    case 2: heatStencilBand2(rows, out, count: count, rx: rx, ry: ry, Streams.self, Prefetches.self)
    case 3:
        heatStencilBand2(rows, out, count: count, rx: rx, ry: ry, Streams.self, Prefetches.self)
        stencilRow(center: rows.3, south: rows.2, north: rows.4, out: out.2, count: count, rx: rx, ry: ry,
                   Streams.self, Prefetches.self)
    default:
        stencilRow(center: rows.1, south: rows.0, north: rows.2, out: out.0, count: count, rx: rx, ry: ry,
                   Streams.self, Prefetches.self)
    }
}

/// Whether a band of `count` columns from `out` can stream: no streaming
/// store from a misaligned column, so a row too short for the overlapping
/// vector before the aligned ones is done column by column.
@inline(__always)
func bandStreams(_ out: UnsafeMutablePointer<Double>, count: Int) -> Bool {
    count >= 2 * BandVector.scalarCount || Int(bitPattern: out) & 63 == 0
}

/// Stores a band's vector at `p + i`: streamed (`p + i` on a cache line) or ordinary.
@inline(__always)
func putVector(_ v: BandVector, _ p: UnsafeMutablePointer<Double>, _ i: Int, streams: Bool) {
    if streams { kernels_stream8(p + i, v) } else { storeVector(v, p, i) }
}

/// Four rows, a vector of columns per step: 6 loads of the rows' centres
/// and 8 of their west/east neighbours for four vectors of updates (20 for
/// four single rows). A core streaming a field from memory also keeps four
/// rows in flight each way instead of one, which lets it stream faster than
/// row by row (the same in C: bench/stencil_reference.c; docs/performance.md).
@inline(__always)
func heatStencilBand4<Streams: KernelFlag, Prefetches: KernelFlag>(
    _ r: BandRows, _ o: BandOutputs, count: Int, rx: Double, ry: Double, ahead: PrefetchAhead = .none,
    _: Streams.Type, _: Prefetches.Type
) {
    guard !Streams.isOn || bandStreams(o.0, count: count) else {
        return bandColumns(r, o, bandRows: 4, 0 ..< count, rx: rx, ry: ry)
    }
    let vrx = BandVector(repeating: rx), vry = BandVector(repeating: ry), width = BandVector.scalarCount
    var i = alignedStart(o.0, count: count) { band4Vector(r, o, at: $0, rx: vrx, ry: vry, streams: false) }
    var cursor = ahead.cursor()
    while i + width <= count {
        if cursor.left > 0 {
            var more = 0
            while more < ahead.linesPerStep { cursor.prefetchNext(); more += 1 }
        }
        if Prefetches.isOn {
            kernels_prefetch(r.2 + i + prefetchAheadRead); kernels_prefetch(r.3 + i + prefetchAheadRead)
            kernels_prefetch(r.4 + i + prefetchAheadRead); kernels_prefetch(r.5 + i + prefetchAheadRead)
            if !Streams.isOn {
                kernels_prefetch(o.0 + i + prefetchAheadWrite); kernels_prefetch(o.1 + i + prefetchAheadWrite)
                kernels_prefetch(o.2 + i + prefetchAheadWrite); kernels_prefetch(o.3 + i + prefetchAheadWrite)
            }
        }
        band4Vector(r, o, at: i, rx: vrx, ry: vry, streams: Streams.isOn)
        i += width
    }
    finishRow(from: i, count: count, width: width, vector: { band4Vector(r, o, at: $0, rx: vrx, ry: vry, streams: false) },
              scalar: { bandColumns(r, o, bandRows: 4, $0, rx: rx, ry: ry) })
}

/// One vector of columns of the four rows, from `i`.
@inline(__always)
func band4Vector(_ r: BandRows, _ o: BandOutputs, at i: Int, rx vrx: BandVector, ry vry: BandVector, streams: Bool) {
    let c0 = loadVector(r.0, i), c1 = loadVector(r.1, i), c2 = loadVector(r.2, i)
    let c3 = loadVector(r.3, i), c4 = loadVector(r.4, i), c5 = loadVector(r.5, i)
    putVector(bandUpdate(r.1, below: c0, here: c1, above: c2, at: i, rx: vrx, ry: vry), o.0, i, streams: streams)
    putVector(bandUpdate(r.2, below: c1, here: c2, above: c3, at: i, rx: vrx, ry: vry), o.1, i, streams: streams)
    putVector(bandUpdate(r.3, below: c2, here: c3, above: c4, at: i, rx: vrx, ry: vry), o.2, i, streams: streams)
    putVector(bandUpdate(r.4, below: c3, here: c4, above: c5, at: i, rx: vrx, ry: vry), o.3, i, streams: streams)
}

/// Cache lines a band kernel asks for while it computes, `linesPerStep` per
/// vector step, for the band that comes after it: lines `first ..< first +
/// lines` of a list of segments, each `segmentLines` lines long and
/// `segmentBytes` after the one before, the first at `origin` (the rows of a
/// column tile; a single segment when rows are whole). The last step may
/// ask for a few lines past them, which is harmless.
public struct PrefetchAhead: @unchecked Sendable {
    public let origin: UnsafeRawPointer
    public let first: Int
    public let lines: Int
    public let linesPerStep: Int
    public let segmentLines: Int
    public let segmentBytes: Int

    public init(origin: UnsafeRawPointer, first: Int = 0, lines: Int, linesPerStep: Int = 1, segmentLines: Int = .max,
                segmentBytes: Int = 0) {
        self.origin = origin; self.first = first; self.lines = max(0, lines); self.linesPerStep = max(1, linesPerStep)
        self.segmentLines = max(1, segmentLines); self.segmentBytes = segmentBytes
    }

    public static var none: PrefetchAhead { PrefetchAhead(origin: UnsafeRawPointer(bitPattern: 64)!, lines: 0) }

    /// Walks the lines in order, one prefetch each.
    struct Cursor {
        var line: UnsafeRawPointer
        var segment: UnsafeRawPointer
        var leftInSegment: Int
        var left: Int
        let segmentLines: Int
        let segmentBytes: Int

        @inline(__always)
        mutating func prefetchNext() {
            kernels_prefetch(line)
            left -= 1
            leftInSegment -= 1
            if leftInSegment == 0 {
                segment += segmentBytes
                line = segment
                leftInSegment = segmentLines
            } else {
                line += 64
            }
        }
    }

    @inline(__always)
    func cursor() -> Cursor {
        let (k, offset) = first.quotientAndRemainder(dividingBy: segmentLines)
        let segment = origin + k * segmentBytes
        return Cursor(line: segment + offset * 64, segment: segment, leftInSegment: segmentLines - offset, left: lines,
                      segmentLines: segmentLines, segmentBytes: segmentBytes)
    }
}

/// Columns of a band one at a time (ends of rows, short rows).
@inline(__always)
func bandColumns(_ r: BandRows, _ o: BandOutputs, bandRows n: Int, _ columns: Range<Int>, rx: Double, ry: Double) {
    for k in columns {
        o.0[k] = heatStencil1(center: r.1, south: r.0, north: r.2, at: k, rx: rx, ry: ry)
        o.1[k] = heatStencil1(center: r.2, south: r.1, north: r.3, at: k, rx: rx, ry: ry)
        if n == 4 {
            o.2[k] = heatStencil1(center: r.3, south: r.2, north: r.4, at: k, rx: rx, ry: ry)
            o.3[k] = heatStencil1(center: r.4, south: r.3, north: r.5, at: k, rx: rx, ry: ry)
        }
    }
}

/// Two rows (inputs `r.0`...`r.3`, outputs `o.0`, `o.1`), as `heatStencilBand4`.
@inline(__always)
func heatStencilBand2<Streams: KernelFlag, Prefetches: KernelFlag>(
    _ r: BandRows, _ o: BandOutputs, count: Int, rx: Double, ry: Double, _: Streams.Type, _: Prefetches.Type
) {
    guard !Streams.isOn || bandStreams(o.0, count: count) else {
        return bandColumns(r, o, bandRows: 2, 0 ..< count, rx: rx, ry: ry)
    }
    let vrx = BandVector(repeating: rx), vry = BandVector(repeating: ry), width = BandVector.scalarCount
    @inline(__always) func vector(at i: Int, streams: Bool) {
        let c0 = loadVector(r.0, i), c1 = loadVector(r.1, i), c2 = loadVector(r.2, i), c3 = loadVector(r.3, i)
        putVector(bandUpdate(r.1, below: c0, here: c1, above: c2, at: i, rx: vrx, ry: vry), o.0, i, streams: streams)
        putVector(bandUpdate(r.2, below: c1, here: c2, above: c3, at: i, rx: vrx, ry: vry), o.1, i, streams: streams)
    }
    var i = alignedStart(o.0, count: count) { vector(at: $0, streams: false) }
    while i + width <= count {
        if Prefetches.isOn {
            kernels_prefetch(r.2 + i + prefetchAheadRead); kernels_prefetch(r.3 + i + prefetchAheadRead)
            if !Streams.isOn { kernels_prefetch(o.0 + i + prefetchAheadWrite); kernels_prefetch(o.1 + i + prefetchAheadWrite) }
        }
        vector(at: i, streams: Streams.isOn)
        i += width
    }
    finishRow(from: i, count: count, width: width, vector: { vector(at: $0, streams: false) },
              scalar: { bandColumns(r, o, bandRows: 2, $0, rx: rx, ry: ry) })
}
