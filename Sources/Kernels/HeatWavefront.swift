import CKernelShims

/// Temporal blocking of the heat update: `steps` time steps in one pass over
/// memory. Rows of the input (level 0) are read once; each intermediate
/// level keeps only three rows in a small ring buffer (cache-resident); the
/// last level is written once. A wavefront goes up the rows: at row j,
/// level 1 computes row j, level 2 row j - 1, ..., level m row j - m + 1,
/// each from the three rows of the level below that are now complete.
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

/// Scratch rows for one thread's wavefront: 3 rows per intermediate level,
/// plus one row of boundary values. Columns from -halo-1 to nx+halo+1.
public final class WavefrontBuffers: @unchecked Sendable {
    let width: Int
    let offset: Int
    let levels: Int
    let storage: UnsafeMutablePointer<Double>
    let boundaryRow: UnsafeMutablePointer<Double>

    public init(nx: Int, halo: Int, maxSteps: Int, boundaryValue: Double) {
        offset = halo + 1
        width = nx + 2 * offset
        levels = max(0, maxSteps - 1)
        let count = max(1, 3 * levels * width)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: (count + width) * 8, alignment: 64)
        storage = raw.bindMemory(to: Double.self, capacity: count + width)
        // Ghost columns beyond a physical side must read as the boundary value.
        storage.initialize(repeating: boundaryValue, count: count + width)
        boundaryRow = storage + count
    }

    deinit { storage.deallocate() }

    /// Column 0 of ring row (level, row), level in 1..<maxSteps.
    @inline(__always)
    func row(level: Int, _ r: Int) -> UnsafeMutablePointer<Double> {
        let slot = ((r % 3) + 3) % 3
        return storage + ((level - 1) * 3 + slot) * width + offset
    }
}

/// Advances rows `ownedRows` of the block `steps` time steps: reads `u`
/// (level 0, whose halo holds `steps` or more valid points on open sides)
/// and writes the owned rows and columns of `v`. `buffers` belong to the
/// calling thread. `streaming` writes `v` with streaming stores; `prefetch`
/// prefetches the rows read from `u` and written to `v` (not the ring rows,
/// which are in cache).
public func heatWavefront(_ g: WavefrontGeometry, from u: UnsafePointer<Double>, to v: UnsafeMutablePointer<Double>,
                          ownedRows: Range<Int>, steps m: Int, buffers: WavefrontBuffers, streaming: Bool,
                          prefetch: Bool = false) {
    guard m >= 1, !ownedRows.isEmpty else { return }
    let s = g.stride
    /// The extension of level `level` beyond the owned area on open sides.
    func rows(_ level: Int) -> Range<Int> {
        let extra = m - level
        let low = ownedRows.lowerBound - (ownedRows.lowerBound == 0 && !g.open.south ? 0 : extra)
        let high = ownedRows.upperBound + (ownedRows.upperBound == g.ny && !g.open.north ? 0 : extra)
        // Inside the block rows exist for every thread; beyond it only on open sides.
        return max(low, g.open.south ? -extra : 0) ..< min(high, g.open.north ? g.ny + extra : g.ny)
    }
    func columns(_ level: Int) -> Range<Int> {
        let extra = m - level
        return (g.open.west ? -extra : 0) ..< (g.open.east ? g.nx + extra : g.nx)
    }
    /// Row r of level `level` (0: u itself; physical ghost rows: boundary values).
    func source(_ level: Int, _ r: Int) -> UnsafePointer<Double> {
        if level == 0 { return u + r * s }
        if (r < 0 && !g.open.south) || (r >= g.ny && !g.open.north) { return UnsafePointer(buffers.boundaryRow + buffers.offset) }
        return UnsafePointer(buffers.row(level: level, r))
    }
    let firstRow = rows(1).lowerBound, lastRow = rows(1).upperBound
    for j in firstRow ..< lastRow + m - 1 {
        for level in 1...m {
            let r = j - (level - 1)
            guard rows(level).contains(r) else { continue }
            let c = columns(level)
            let out = level == m ? v + r * s : buffers.row(level: level, r)
            let center = source(level - 1, r)
            heatStencilLine(center: center + c.lowerBound, south: source(level - 1, r - 1) + c.lowerBound,
                            north: source(level - 1, r + 1) + c.lowerBound, out: out + c.lowerBound, count: c.count,
                            rx: g.rx, ry: g.ry, streaming: streaming && level == m,
                            prefetch: prefetch && (level == 1 || level == m))
        }
    }
    if streaming { kernels_store_fence() }
}
