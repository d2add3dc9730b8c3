/// A rank's block of a 2D field: nx x ny owned points plus a halo of `halo`
/// points on every side, row-major (x fastest), in one aligned allocation.
/// Stored rows are padded to whole cache lines (`paddedStride`), so every
/// row starts at the same place in a cache line whatever nx is.
///
/// The memory is not touched here: each thread initialises the rows it will
/// compute (first touch places those pages in its NUMA domain).
public final class Field: @unchecked Sendable {
    public let nx: Int, ny: Int, halo: Int
    /// Elements per stored row: `nx + 2 halo` and the padding after them.
    public let stride: Int
    /// Stored rows.
    public let rows: Int
    private let storage: UnsafeMutablePointer<Double>

    /// Throws when the memory cannot be had (see `LargeArray.allocate`).
    public init(nx: Int, ny: Int, halo: Int) throws {
        self.nx = nx
        self.ny = ny
        self.halo = halo
        stride = Field.paddedStride(nx: nx, halo: halo)
        rows = ny + 2 * halo
        storage = try LargeArray.allocate(stride * rows)
    }

    deinit { LargeArray.deallocate(storage) }

    /// Bytes held by a field of this shape.
    public static func bytes(nx: Int, ny: Int, halo: Int) -> Int {
        paddedStride(nx: nx, halo: halo) * (ny + 2 * halo) * MemoryLayout<Double>.stride
    }

    /// `nx + 2 halo` rounded up to a whole number of 64-byte cache lines. Rows
    /// that share their alignment let the temporal-blocking wavefront write
    /// four rows together with streaming stores (which need aligned
    /// addresses) for any nx, and a streaming-store sweep write whole lines.
    public static func paddedStride(nx: Int, halo: Int) -> Int {
        (nx + 2 * halo + rowAlignment - 1) / rowAlignment * rowAlignment
    }

    /// Stored rows are a whole number of this many doubles: a cache line.
    public static let rowAlignment = 64 / MemoryLayout<Double>.stride

    /// Point (0, 0), the first owned point; halo points are at negative offsets.
    @inline(__always)
    public var origin: UnsafeMutablePointer<Double> { storage + halo * stride + halo }

    /// The start of stored row `j` (j in -halo ..< ny + halo), at column -halo.
    @inline(__always)
    public func storedRow(_ j: Int) -> UnsafeMutablePointer<Double> { storage + (j + halo) * stride }

    @inline(__always)
    public subscript(i: Int, j: Int) -> Double {
        get { origin[j * stride + i] }
        set { origin[j * stride + i] = newValue }
    }

    /// The whole allocation, halo included.
    public var allElements: UnsafeMutableBufferPointer<Double> { .init(start: storage, count: stride * rows) }
}
