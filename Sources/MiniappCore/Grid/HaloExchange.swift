import MPI

/// Non-blocking halo exchange of a `Field` with the neighbours in a 2D
/// Cartesian process grid.
///
/// `start` posts every MPI_Irecv, then every MPI_Isend, straight from and into
/// the field (rows are contiguous; columns and corners use committed
/// MPI_Type_vector types, so nothing is packed). The caller computes the
/// interior meanwhile, calling `progress` now and then (Open MPI has no
/// progress thread here: a message only moves inside an MPI call), then
/// `finish` (MPI_Waitall) before it touches the boundary strips.
///
/// Physical boundaries (MPI_PROC_NULL) post nothing. A periodic axis held by a
/// single rank exchanges with itself; tags (the direction of travel) keep the
/// two messages apart.
public final class HaloExchange {
    /// Directions on the process grid; `rawValue` is the tag of a message travelling that way.
    public enum Direction: Int, CaseIterable, Sendable {
        case west, east, south, north, southWest, southEast, northWest, northEast

        public var offset: (dx: Int, dy: Int) {
            switch self {
            case .west: (-1, 0)
            case .east: (1, 0)
            case .south: (0, -1)
            case .north: (0, 1)
            case .southWest: (-1, -1)
            case .southEast: (1, -1)
            case .northWest: (-1, 1)
            case .northEast: (1, 1)
            }
        }

        public var opposite: Direction {
            switch self {
            case .west: .east
            case .east: .west
            case .south: .north
            case .north: .south
            case .southWest: .northEast
            case .southEast: .northWest
            case .northWest: .southEast
            case .northEast: .southWest
            }
        }

        public var isCorner: Bool { rawValue >= 4 }
    }

    /// One neighbour: where its message lands and where ours comes from.
    private struct Link {
        let direction: Direction
        let rank: Int
        let sendOffset: Int      // element offset from the field origin
        let receiveOffset: Int
        let count: Int           // items of `type`
        let type: Datatype
    }

    public let depth: Int
    /// Fields one exchange may carry (each field's messages get their own tags).
    public let maxFields: Int
    private let communicator: Communicator
    private let links: [Link]
    private let requests: RequestSet
    /// Directions from which halo data arrives (the rest are physical boundaries).
    public let receivingSides: Set<Direction>

    /// - Parameters:
    ///   - depth: halo points exchanged per side (the field's halo must be at least this).
    ///   - corners: also exchange the diagonal neighbours (stencils that read
    ///     corner halos, or halos deeper than one applied several times).
    ///   - maxFields: how many fields (of the same shape) one exchange may carry.
    public init(topology: CartesianTopology, nx: Int, ny: Int, stride: Int, depth: Int, corners: Bool,
                maxFields: Int = 1) throws {
        precondition(depth >= 1 && nx >= depth && ny >= depth, "halo depth exceeds the block")
        self.depth = depth
        self.maxFields = maxFields
        communicator = topology.communicator
        var links: [Link] = []
        let row = Datatype(Double.self)
        var shapes: [String: Datatype] = [:]
        for direction in Direction.allCases where corners || !direction.isCorner {
            let (dx, dy) = direction.offset
            let rank = try topology.neighbour(offset: [dx, dy])
            if rank == procNull { continue }
            // Along each axis: the owned strip next to the side, and the halo strip beyond it.
            func span(_ d: Int, _ n: Int) -> (send: Int, receive: Int, width: Int) {
                switch d {
                case -1: (0, -depth, depth)
                case 1: (n - depth, n, depth)
                default: (0, 0, n)
                }
            }
            let x = span(dx, nx), y = span(dy, ny)
            let count: Int, type: Datatype
            if y.width == 1 {
                (count, type) = (x.width, row)    // one contiguous row segment
            } else {
                let key = "\(x.width)x\(y.width)"
                if shapes[key] == nil {
                    shapes[key] = try Datatype(vectorOf: Double.self, count: y.width, blockLength: x.width, stride: stride)
                }
                (count, type) = (1, shapes[key]!)
            }
            links.append(Link(direction: direction, rank: rank,
                              sendOffset: y.send * stride + x.send, receiveOffset: y.receive * stride + x.receive,
                              count: count, type: type))
        }
        self.links = links
        requests = RequestSet(capacity: 2 * max(1, links.count) * maxFields)
        receivingSides = Set(links.map(\.direction))
    }

    /// Messages sent per exchange.
    public var messageCount: Int { links.count }

    /// Posts the receives, then the sends, for each field (given by its
    /// origin, point (0, 0)). Messages of field k are tagged direction + 8k.
    public func start(_ origins: [UnsafeMutablePointer<Double>]) throws {
        precondition(origins.count <= maxFields, "more fields than the exchange was built for")
        for (k, origin) in origins.enumerated() {
            for link in links {
                // The neighbour at `direction` sends towards us, i.e. the opposite way.
                try requests.receive(into: origin + link.receiveOffset, count: link.count, type: link.type,
                                     from: link.rank, tag: link.direction.opposite.rawValue + 8 * k, on: communicator)
            }
        }
        for (k, origin) in origins.enumerated() {
            for link in links {
                try requests.send(from: origin + link.sendOffset, count: link.count, type: link.type,
                                  to: link.rank, tag: link.direction.rawValue + 8 * k, on: communicator)
            }
        }
    }

    /// Exchanges and waits (no overlap).
    public func exchange(_ origins: [UnsafeMutablePointer<Double>]) throws {
        try start(origins)
        try finish()
    }

    /// Lets MPI move the messages along; true once all have completed.
    @discardableResult
    public func progress() throws -> Bool { try requests.testAll() }

    /// Waits for every message (MPI_Waitall).
    public func finish() throws { try requests.waitAll() }
}
