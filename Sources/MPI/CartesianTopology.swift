import CMPI

/// A 2D Cartesian process grid (MPI_Cart_create). Axis 0 is x, axis 1 is y.
/// Ranks may be reordered by the library: use `communicator`, not the parent.
public final class CartesianTopology: @unchecked Sendable {
    public let communicator: Communicator
    public let dims: [Int]
    public let periods: [Bool]
    /// This rank's coordinates in the process grid.
    public let coords: [Int]

    /// MPI_Dims_create: fills the zero entries of `dims` so their product is `nodes`.
    /// Throws when the fixed entries do not divide `nodes`.
    public static func balancedDims(nodes: Int, fixed dims: [Int]) throws -> [Int] {
        var values = dims.map { Int32($0) }
        try check(MPI_Dims_create(mpiCount(nodes, "MPI_Dims_create"), Int32(values.count), &values),
                  "MPI_Dims_create")
        return values.map(Int.init)
    }

    public init(parent: Communicator, dims: [Int], periods: [Bool], reorder: Bool = true) throws {
        precondition(dims.count == periods.count)
        var d = dims.map { Int32($0) }
        var p = periods.map { Int32($0 ? 1 : 0) }
        var comm = cmpi_comm_null()
        try check(cmpi_cart_create(parent.handle, Int32(d.count), &d, &p, reorder ? 1 : 0, &comm), "MPI_Cart_create")
        guard comm != cmpi_comm_null() else {
            throw MPIError(function: "MPI_Cart_create (rank left out of the grid)", code: cmpi_err_topology())
        }
        communicator = try Communicator(handle: comm, owned: true)
        self.dims = dims
        self.periods = periods
        var c = [Int32](repeating: 0, count: dims.count)
        try check(MPI_Cart_coords(comm, Int32(communicator.rank), Int32(dims.count), &c), "MPI_Cart_coords")
        coords = c.map(Int.init)
    }

    /// MPI_Cart_shift: the ranks one step down (`source`) and up (`destination`)
    /// along `axis`, MPI_PROC_NULL at a non-periodic edge.
    public func shift(axis: Int, by displacement: Int = 1) throws -> (source: Int, destination: Int) {
        var source: Int32 = 0, destination: Int32 = 0
        try check(MPI_Cart_shift(communicator.handle, Int32(axis), Int32(displacement), &source, &destination),
                  "MPI_Cart_shift")
        return (Int(source), Int(destination))
    }

    /// The rank at this rank's coordinates plus `offset`, wrapping periodic
    /// axes; MPI_PROC_NULL when that leaves a non-periodic axis (diagonal
    /// neighbours, which MPI_Cart_shift does not give).
    public func neighbour(offset: [Int]) throws -> Int {
        var target = [Int32]()
        for axis in dims.indices {
            var c = coords[axis] + offset[axis]
            if c < 0 || c >= dims[axis] {
                guard periods[axis] else { return procNull }
                c = ((c % dims[axis]) + dims[axis]) % dims[axis]
            }
            target.append(Int32(c))
        }
        var rank: Int32 = 0
        try check(MPI_Cart_rank(communicator.handle, &target, &rank), "MPI_Cart_rank")
        return Int(rank)
    }

    /// Every rank's coordinates, indexed by rank of `communicator`.
    public func allCoords() throws -> [[Int]] {
        var result = [[Int]]()
        for rank in 0..<communicator.size {
            var c = [Int32](repeating: 0, count: dims.count)
            try check(MPI_Cart_coords(communicator.handle, Int32(rank), Int32(dims.count), &c), "MPI_Cart_coords")
            result.append(c.map(Int.init))
        }
        return result
    }
}

/// MPI_PROC_NULL: no neighbour (-2 in Open MPI, -1 in MPICH).
public let procNull = Int(cmpi_proc_null())
