import CKernelShims

/// Temporal blocking of the heat update: `steps` time steps in one pass over
/// memory. Rows of the input (level 0) are read once; each intermediate
/// level keeps only a few rows in a small ring buffer (cache-resident); the
/// last level is written once. A wavefront goes up the rows in bands of
/// four: at band j, level 1 computes rows j..<j+4, level 2 rows
/// j-1..<j+3, ..., level m rows j-m+1..<j-m+5, each from the rows of the
/// level below that are now complete. Four rows at a time because a core
/// computes a band of rows from cache ~1.3x faster than single rows (the
/// rows share their loads), and from cache is where this scheme computes.
///
/// One thread computes its own row block of the final level, and the rows
/// around it that the lower levels need (one row less per level: redundant
/// work at block edges, no synchronisation between threads during the pass).
/// Every point is computed by the same expression as a plain sweep, so the
/// result is bitwise the same.
public struct WavefrontGeometry: Sendable {
    /// Rows and columns of the block (owned points).
    public let nx: Int, ny: Int
    public let stride: Int
    /// Sides that hold halo data (neighbour or periodic wrap); the others
    /// are physical boundaries whose ghost points keep `boundaryValue`.
    public let open: (west: Bool, east: Bool, south: Bool, north: Bool)
    public let boundaryValue: Double
    public let rx: Double, ry: Double

    public init(nx: Int, ny: Int, stride: Int, open: (west: Bool, east: Bool, south: Bool, north: Bool),
                boundaryValue: Double, rx: Double, ry: Double) {
        self.nx = nx; self.ny = ny; self.stride = stride; self.open = open
        self.boundaryValue = boundaryValue; self.rx = rx; self.ry = ry
    }
}

/// Scratch rows for one thread's wavefront: a ring of `ringRows` rows per
/// intermediate level (a band and the two rows around it), plus one row of
/// boundary values. Rows as wide as a column tile (`nx`: the widest tile,
/// the block's width when there is one tile), from -halo-1 to nx+halo+1,
/// column 0 of every row at the start of a cache line.
public final class WavefrontBuffers: @unchecked Sendable {
    /// Columns of a ring row (without the ghost columns around them).
    public let columns: Int
    let width: Int
    let offset: Int
    let levels: Int
    let storage: UnsafeMutablePointer<Double>
    let boundaryRow: UnsafeMutablePointer<Double>

    public init(nx: Int, halo: Int, maxSteps: Int, boundaryValue: Double) {
        columns = nx
        (offset, width) = WavefrontBuffers.rowLayout(nx: nx, halo: halo)
        levels = max(0, maxSteps - 1)
        let count = max(1, WavefrontBuffers.ringRows * levels * width)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: (count + width) * 8, alignment: 64)
        storage = raw.bindMemory(to: Double.self, capacity: count + width)
        // Ghost columns beyond a physical side must read as the boundary value.
        storage.initialize(repeating: boundaryValue, count: count + width)
        boundaryRow = storage + count
    }

    deinit { storage.deallocate() }

    /// Column 0 at the start of a cache line in every row (fewer vector loads
    /// and stores split across two lines): its offset in the row, and the row length.
    static func rowLayout(nx: Int, halo: Int) -> (offset: Int, width: Int) {
        let offset = (halo + heatStencilReach + 7) / 8 * 8
        return (offset, (nx + 2 * offset + 7) / 8 * 8)
    }

    /// The bytes one thread's buffers take (for the set-up report).
    public static func bytes(nx: Int, halo: Int, maxSteps: Int) -> Int {
        let width = rowLayout(nx: nx, halo: halo).width
        return (max(1, ringRows * max(0, maxSteps - 1) * width) + width) * MemoryLayout<Double>.stride
    }

    /// The widest column tile (a multiple of 8 columns) whose buffers take at
    /// most `budget` bytes; 0 if none does.
    public static func widestTile(fittingIn budget: Int, halo: Int, maxSteps: Int) -> Int {
        let rowsPerThread = ringRows * max(0, maxSteps - 1) + 1
        let width = budget / MemoryLayout<Double>.stride / rowsPerThread / 8 * 8
        return max(0, (width - 2 * rowLayout(nx: 0, halo: halo).offset) / 8 * 8)
    }

    /// Rows computed together, and the ring rows per level that this needs:
    /// level l computes a band while the band of level l - 1 it reads, and the
    /// row on each side, are still there.
    static let bandRows = 4
    static let ringRows = bandRows + 2 * heatStencilReach

    /// Writes `value` at ring column `column` of every ring row, if the rows have that column.
    func resetColumn(_ column: Int, to value: Double) {
        guard column >= -offset && column < width - offset else { return }
        for row in 0 ..< WavefrontBuffers.ringRows * levels { storage[row * width + offset + column] = value }
    }

    /// Column 0 of ring row (level, row), level in 1..<maxSteps.
    @inline(__always)
    func row(level: Int, _ r: Int) -> UnsafeMutablePointer<Double> {
        let n = WavefrontBuffers.ringRows
        let slot = ((r % n) + n) % n
        return storage + ((level - 1) * n + slot) * width + offset
    }
}

/// Advances rows `ownedRows` of the block `steps` time steps: reads `u`
/// (level 0, whose halo holds `steps` or more valid points on open sides)
/// and writes the owned rows and columns of `v`. `buffers` belong to the
/// calling thread. `streaming` writes `v` with streaming stores; `prefetch`
/// prefetches the rows read from `u` and written to `v` (not the ring rows,
/// which are in cache). `tileColumns` > 0 splits the columns into tiles of
/// about that width, each swept up the rows on its own (see `columnTiles`).
public func heatWavefront(_ g: WavefrontGeometry, from u: UnsafePointer<Double>, to v: UnsafeMutablePointer<Double>,
                          ownedRows: Range<Int>, steps m: Int, buffers: WavefrontBuffers, streaming: Bool,
                          prefetch: Bool = false, tileColumns: Int = 0) {
    guard m >= 1, !ownedRows.isEmpty else { return }
    let tiles = columnTiles(nx: g.nx, width: tileColumns)
    precondition(tiles.allSatisfy { $0.count <= buffers.columns }, "wavefront buffers narrower than a column tile")
    for tile in tiles {
        heatWavefrontTile(g, from: u, to: v, ownedRows: ownedRows, ownedColumns: tile, steps: m, buffers: buffers,
                          streaming: streaming, prefetch: prefetch)
    }
    if streaming { kernels_store_fence() }
}

/// Column tiles of about `width` columns (0: one tile), their edges on whole
/// cache lines. In a tile, level l also computes the m - l columns on each
/// side that the levels above it read (redundant work, like a deep halo's):
/// the ring rows of a level then hold a tile's width instead of a row's,
/// contiguous, and stay in a core's L2 cache where whole rows would not.
public func columnTiles(nx: Int, width: Int) -> [Range<Int>] {
    guard width > 0, width < nx else { return [0 ..< nx] }
    let count = (nx + width - 1) / width
    let size = ((nx + count - 1) / count + 7) / 8 * 8
    return Swift.stride(from: 0, to: nx, by: size).map { $0 ..< min($0 + size, nx) }
}

/// The wavefront over one column tile (all of the block's columns when there is one tile).
func heatWavefrontTile(_ g: WavefrontGeometry, from u: UnsafePointer<Double>, to v: UnsafeMutablePointer<Double>,
                       ownedRows: Range<Int>, ownedColumns: Range<Int>, steps m: Int, buffers: WavefrontBuffers,
                       streaming: Bool, prefetch: Bool) {
    let s = g.stride
    /// The extension of level `level` beyond the owned area on open sides.
    func rows(_ level: Int) -> Range<Int> {
        let extra = (m - level) * heatStencilReach
        let low = ownedRows.lowerBound - (ownedRows.lowerBound == 0 && !g.open.south ? 0 : extra)
        let high = ownedRows.upperBound + (ownedRows.upperBound == g.ny && !g.open.north ? 0 : extra)
        // Inside the block rows exist for every thread; beyond it only on open sides.
        return max(low, g.open.south ? -extra : 0) ..< min(high, g.open.north ? g.ny + extra : g.ny)
    }
    /// The same for columns: into the neighbouring tiles, and beyond the block on open sides.
    func columns(_ level: Int) -> Range<Int> {
        let extra = (m - level) * heatStencilReach
        let low = max(ownedColumns.lowerBound - extra, g.open.west ? -extra : 0)
        let high = min(ownedColumns.upperBound + extra, g.open.east ? g.nx + extra : g.nx)
        return low ..< high
    }
    // Ring rows hold the tile's columns: column c of the block at ring column c - tileStart.
    let tileStart = ownedColumns.lowerBound
    /// Row r of level `level` (0: u itself; physical ghost rows: boundary values).
    func source(_ level: Int, _ r: Int) -> UnsafePointer<Double> {
        if level == 0 { return u + r * s }
        if (r < 0 && !g.open.south) || (r >= g.ny && !g.open.north) {
            return UnsafePointer(buffers.boundaryRow + buffers.offset) - tileStart
        }
        return UnsafePointer(buffers.row(level: level, r)) - tileStart
    }
    // The ghost columns beyond a physical side read as the boundary value;
    // another tile may have left values of its own columns there.
    if tileStart > 0 || ownedColumns.upperBound < g.nx {
        if !g.open.west { buffers.resetColumn(-1 - tileStart, to: g.boundaryValue) }
        if !g.open.east { buffers.resetColumn(g.nx - tileStart, to: g.boundaryValue) }
    }
    let band = WavefrontBuffers.bandRows
    let firstRow = rows(1).lowerBound, lastRow = rows(1).upperBound
    // With `prefetch`, the levels between the first and the last (which
    // compute from cache) ask for the rows of u that level 1 reads first at
    // the next band, a share each: level 1 then reads them from cache instead
    // of waiting for memory (docs/performance.md, "Kernel measurements").
    let middleLevels = prefetch ? max(0, m - 2) : 0
    // Level 1 reads columns lowerBound - 1 ... upperBound of u: the cache lines of that span in each row.
    let readColumns = columns(1)
    let firstByte = Int(bitPattern: u + readColumns.lowerBound - 1), lastByte = Int(bitPattern: u + readColumns.upperBound) + 7
    let linesPerRow = lastByte / 64 - firstByte / 64 + 1
    /// Rows j + band + 1 ... j + 2 band of u (what level 1 reads first at the
    /// band after j), the tile's span of each.
    func rowsAhead(_ j: Int) -> PrefetchAhead {
        let from = j + band + 1, last = min(j + 2 * band, g.open.north ? g.ny + m - 1 : g.ny - 1)
        guard from <= last else { return .none }
        return PrefetchAhead(origin: UnsafeRawPointer(bitPattern: (firstByte + from * s * 8) & ~63)!,
                             lines: (last - from + 1) * linesPerRow, segmentLines: linesPerRow, segmentBytes: s * 8)
    }
    for j in Swift.stride(from: firstRow, to: lastRow + (m - 1) * heatStencilReach, by: band) {
        let ahead = middleLevels > 0 ? rowsAhead(j) : .none
        let linesPerLevel = middleLevels > 0 ? (ahead.lines + middleLevels - 1) / middleLevels : 0
        /// The share of those lines that `level` asks for.
        func aheadShare(_ level: Int) -> PrefetchAhead {
            let skip = (level - 2) * linesPerLevel
            guard level >= 2, level < m, skip < ahead.lines else { return .none }
            // Few middle levels (k = 3, 4) need more than one line per vector step to cover the band.
            let vectorSteps = max(1, columns(level).count / BandVector.scalarCount)
            return PrefetchAhead(origin: ahead.origin, first: skip, lines: min(linesPerLevel, ahead.lines - skip),
                                 linesPerStep: (linesPerLevel + vectorSteps - 1) / vectorSteps,
                                 segmentLines: ahead.segmentLines, segmentBytes: ahead.segmentBytes)
        }
        for level in 1...m {
            let levelRows = rows(level)
            let low = max(j - (level - 1) * heatStencilReach, levelRows.lowerBound)
            let high = min(j - (level - 1) * heatStencilReach + band, levelRows.upperBound)
            guard low < high else { continue }
            let c = columns(level)
            func output(_ r: Int) -> UnsafeMutablePointer<Double> {
                (level == m ? v + r * s : buffers.row(level: level, r) - tileStart) + c.lowerBound
            }
            func input(_ r: Int) -> UnsafePointer<Double> { source(level - 1, min(r, high)) + c.lowerBound }
            // Only the last level writes memory, with streaming stores where asked.
            let streams = streaming && level == m
            if streams && (s * MemoryLayout<Double>.stride) % 64 != 0 {
                // Rows not padded to a common alignment: each output row aligns on its own.
                for r in low ..< high {
                    heatStencilLine(center: input(r), south: input(r - 1), north: input(r + 1), out: output(r),
                                    count: c.count, rx: g.rx, ry: g.ry, streaming: true, prefetch: false)
                }
            } else {
                // Rows past the band are never read; they repeat its last row's north.
                // Only the first level reads, and the last writes, memory: they prefetch
                // (the first only where the middle levels do not do it for it; streamed
                // rows are not read, and the inputs of the last level are in cache).
                heatStencilBand((input(low - 1), input(low), input(low + 1), input(low + 2), input(low + 3),
                                 input(low + 4)),
                                (output(low), output(min(low + 1, high - 1)), output(min(low + 2, high - 1)),
                                 output(min(low + 3, high - 1))),
                                bandRows: high - low, count: c.count, rx: g.rx, ry: g.ry, streaming: streams,
                                prefetch: prefetch && !streams && ((level == 1 && middleLevels == 0) || level == m),
                                ahead: aheadShare(level))
            }
        }
    }
}
