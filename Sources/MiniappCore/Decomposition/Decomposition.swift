import ThreadPool

/// How the global nx x ny grid is split over a px x py process grid: the
/// block of each rank, with remainders spread so that block sizes differ by
/// at most one. Pure arithmetic, 64-bit throughout (grids of 100000^2 points
/// and beyond are fine).
public struct Decomposition: Sendable, Equatable {
    /// Global points per axis.
    public let nx: Int, ny: Int
    /// Processes per axis.
    public let px: Int, py: Int

    public init(nx: Int, ny: Int, px: Int, py: Int) {
        precondition(px >= 1 && py >= 1 && px <= nx && py <= ny)
        self.nx = nx; self.ny = ny; self.px = px; self.py = py
    }

    public var xBlocks: BlockPartition { BlockPartition(count: nx, parts: px) }
    public var yBlocks: BlockPartition { BlockPartition(count: ny, parts: py) }

    /// The block at process coordinates (cx, cy): global offset and size per axis.
    public func block(coords: [Int]) -> Block {
        Block(offset: [xBlocks.start(of: coords[0]), yBlocks.start(of: coords[1])],
              size: [xBlocks.size(of: coords[0]), yBlocks.size(of: coords[1])])
    }

    public struct Block: Sendable, Equatable {
        public let offset: [Int]
        public let size: [Int]
        public var nx: Int { size[0] }
        public var ny: Int { size[1] }
        public var points: Int { size[0] * size[1] }

        package init(offset: [Int], size: [Int]) {
            self.offset = offset
            self.size = size
        }
    }

    /// The smallest and largest block sizes per axis.
    public var blockSizeRange: (x: ClosedRange<Int>, y: ClosedRange<Int>) {
        (nx / px ... (nx + px - 1) / px, ny / py ... (ny + py - 1) / py)
    }

    // MARK: Choosing the process grid

    /// Checks a requested process grid `dims` (0 entries = free) for `ranks`
    /// processes on an nx x ny grid, and completes it.
    ///
    /// Free entries come from `balancedDims` (MPI_Dims_create); the larger
    /// factor goes to the longer axis, and to y on a square grid: a cut
    /// between rows sends contiguous rows and leaves contiguous boundary rows
    /// to compute, where a cut between columns sends strided columns and
    /// leaves a column whose every point is a cache miss. If that leaves an axis with fewer points
    /// than processes, every factorisation allowed by the fixed entries is
    /// tried, smallest halo surface first.
    public static func chooseDims(ranks: Int, requested: [Int], nx: Int, ny: Int,
                                  balancedDims: ([Int]) throws -> [Int]) throws -> [Int] {
        precondition(requested.count == 2)
        let fixed = requested.filter { $0 > 0 }.reduce(1, *)
        if requested[0] > 0 && requested[1] > 0 && fixed != ranks {
            throw DecompositionError("decomposition.dims \(requested[0]) x \(requested[1]) = \(fixed) processes, "
                                     + "but the job has \(ranks) rank\(ranks == 1 ? "" : "s")")
        }
        if ranks % fixed != 0 {
            throw DecompositionError("decomposition.dims \(requested[0]) x \(requested[1]): \(fixed) does not divide "
                                     + "the \(ranks) ranks of the job")
        }
        var dims = try balancedDims(requested)
        // MPI_Dims_create orders free entries largest first; put the larger on the longer axis (y on a tie).
        if requested == [0, 0] && (dims[0] < dims[1]) != (nx <= ny) { dims.swapAt(0, 1) }
        if fits(dims, nx: nx, ny: ny) { return dims }

        let candidates = (1...ranks).filter { ranks % $0 == 0 }.map { [$0, ranks / $0] }
            .filter { c in (requested[0] == 0 || c[0] == requested[0]) && (requested[1] == 0 || c[1] == requested[1]) }
            .filter { fits($0, nx: nx, ny: ny) }
            .sorted { surface($0, nx: nx, ny: ny) < surface($1, nx: nx, ny: ny) }
        if let best = candidates.first { return best }
        if requested != [0, 0] {
            throw DecompositionError("the \(nx) x \(ny) grid cannot be split over a \(dims[0]) x \(dims[1]) process grid "
                                     + "with at least one point per rank along each axis")
        }
        throw DecompositionError("the \(nx) x \(ny) grid has too few points for \(ranks) ranks: no process grid gives "
                                 + "every rank at least one point along each axis")
    }

    static func fits(_ dims: [Int], nx: Int, ny: Int) -> Bool { dims[0] <= nx && dims[1] <= ny }

    /// Halo points exchanged per step over the whole grid (the cut lengths).
    static func surface(_ dims: [Int], nx: Int, ny: Int) -> Int { (dims[0] - 1) * ny + (dims[1] - 1) * nx }
}

public struct DecompositionError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ message: String) { description = message }
}
