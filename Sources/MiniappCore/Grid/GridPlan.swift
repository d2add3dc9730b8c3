import MPI

/// The process grid and blocks that a run on `ranks` ranks chooses for an
/// nx x ny grid, worked out without the run (`miniapp plan`): the
/// performance model reads it instead of imitating MPI_Dims_create and the
/// field layout. MPI must be initialised (MPI_Dims_create).
public struct GridPlan: Sendable {
    public let ranks: Int
    public let decomposition: Decomposition
    /// Each Cartesian rank's coordinates (row-major, as MPI_Cart_create numbers them).
    public let coords: [[Int]]

    public init(nx: Int, ny: Int, ranks: Int, requestedDims: [Int] = [0, 0]) throws {
        let dims = try Self.chooseDims(nx: nx, ny: ny, ranks: ranks, requested: requestedDims)
        self.ranks = ranks
        decomposition = Decomposition(nx: nx, ny: ny, px: dims[0], py: dims[1])
        coords = (0..<ranks).map { [$0 / dims[1], $0 % dims[1]] }
    }

    /// The process grid of a run: MPI_Dims_create's balance, the larger
    /// factor on the longer axis, within what `requested` fixes.
    static func chooseDims(nx: Int, ny: Int, ranks: Int, requested: [Int]) throws -> [Int] {
        try Decomposition.chooseDims(ranks: ranks, requested: requested, nx: nx, ny: ny) {
            try CartesianTopology.balancedDims(nodes: ranks, fixed: $0)
        }
    }

    public var json: JSONNode {
        let blocks = coords.map { decomposition.block(coords: $0) }
        let ints = { (values: [Int]) in JSONNode.array(values.map(JSONNode.int)) }
        return .object([("ranks", .int(ranks)), ("dims", ints([decomposition.px, decomposition.py])),
                        ("coords", .array(coords.map(ints))), ("offsets", .array(blocks.map { ints($0.offset) })),
                        ("sizes", .array(blocks.map { ints($0.size) }))])
    }
}
