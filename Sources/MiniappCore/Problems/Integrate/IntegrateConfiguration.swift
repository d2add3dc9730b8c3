import Kernels

/// The reduction benchmark: the midpoint rule for integrals over
/// [0, pi] x [0, pi] on an n x n grid, split over ranks and threads, with
/// thread reductions and MPI_Allreduce and no halo exchange.
public struct IntegrateConfiguration: Sendable, Equatable {
    public var n = 1024
    public var integrands: [Integrand] = Integrand.allCases
    /// Integrations per integrand, for steadier timings (median reported).
    public var repeats = 5
    public var decomposition = DecompositionSpec()
    public var path = "integrate.h5"

    static let sections = ["problem", "grid", "integrands", "repeat", "decomposition", "output"]

    public static func read(_ root: ObjectReader) throws(InputError) -> IntegrateConfiguration {
        try root.rejectUnknownKeys(known: sections)
        var c = IntegrateConfiguration()
        if let g = try root.object("grid") {
            try g.rejectUnknownKeys(known: ["n"])
            c.n = try g.integer("n", default: 1024, min: 1, max: GridLimits.maxPointsPerAxis)
        }
        if root.contains("integrands") {
            let names = Integrand.allCases.map(\.rawValue)
            c.integrands = try root.array("integrands", count: (root.member("integrands").flatMap {
                if case .array(let e) = $0.value { e.count } else { nil } } ?? 0)) { (node, key) throws(InputError) in
                guard case .string(let s) = node.value, let f = Integrand(rawValue: s) else {
                    throw InputError("must be one of " + names.map { "'\($0)'" }.joined(separator: ", "), at: node, key: key)
                }
                return f
            }
            if c.integrands.isEmpty {
                throw InputError("must name at least one integrand", at: root.member("integrands")!, key: "integrands")
            }
        }
        c.repeats = try root.integer("repeat", default: 5, min: 1, max: 1_000_000)
        c.decomposition = try DecompositionSpec.read(root)
        if let o = try root.object("output") {
            try o.rejectUnknownKeys(known: ["path"])
            c.path = try o.string("path", default: "integrate.h5")
            if c.path.isEmpty { throw InputError("must not be empty", at: o.member("path")!, key: "output.path") }
        }
        return c
    }

    public var effectiveJSON: JSONNode {
        .object([("problem", .string(Self.name)), ("grid", .object([("n", .int(n))])),
                 ("integrands", .array(integrands.map { .string($0.rawValue) })), ("repeat", .int(repeats)),
                 ("decomposition", decomposition.json), ("output", .object([("path", .string(path))]))])
    }
}
