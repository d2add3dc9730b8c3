import CKernelShims

// The heat update in bands of rows (`heatStencilSweep` with `bands`, and the
// temporal-blocking wavefront): several rows per pass, each row's centre
// loaded once for the updates that read it.

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
