import Foundation

/// The implicit heat-conduction problem of TeaLeaf (UK Mini-App Consortium):
/// material states on a rectangle of cells, temperature u = energy * density,
/// conduction coefficients from the density, zero-flux outer boundaries, one
/// backward-Euler solve per step (see docs/guide/tealeaf.md).
///
/// Read from our JSON or from a TeaLeaf deck (`TealeafDeck`); defaults are
/// TeaLeaf's, so a deck means the same here as there.
public struct TealeafConfiguration: Sendable, Equatable {
    public struct Grid: Sendable, Equatable {
        public var xCells = 10, yCells = 10
        public var xmin = 0.0, xmax = 100.0, ymin = 0.0, ymax = 100.0
        public var dx: Double { (xmax - xmin) / Double(xCells) }
        public var dy: Double { (ymax - ymin) / Double(yCells) }
    }

    public enum Geometry: Sendable, Equatable {
        /// State 1: everywhere first.
        case background
        case rectangle(xmin: Double, xmax: Double, ymin: Double, ymax: Double)
        /// Cells whose centre lies within `radius` of (x, y).
        case circle(x: Double, y: Double, radius: Double)
        /// The cell whose lower-left vertex is (x, y).
        case point(x: Double, y: Double)
    }

    public struct State: Sendable, Equatable {
        public var density: Double
        public var energy: Double
        public var geometry: Geometry
    }

    public enum Method: String, Sendable, CaseIterable { case cg, jacobi, chebyshev, ppcg }
    public enum Preconditioner: String, Sendable, CaseIterable { case none, jacDiag = "jac_diag" }
    /// Conductivity from density (TeaLeaf's default) or from its reciprocal.
    public enum Coefficient: String, Sendable, CaseIterable { case conductivity, recipConductivity = "recip_conductivity" }

    public struct Solver: Sendable, Equatable {
        public var method = Method.jacobi
        public var eps = 1.0e-10
        public var maxIters = 1000
        public var preconditioner = Preconditioner.none
        public var coefficient = Coefficient.conductivity
        /// Halo depth for the polynomial preconditioner's inner steps (PPCG).
        public var haloDepth = 1
        /// nil: 4 * floor(sqrt(sqrt(cells))) as in TeaLeaf.
        public var ppcgInnerSteps: Int? = nil
        /// CG iterations before Chebyshev/PPCG may switch (eigenvalue estimates).
        public var cgPresteps = 25
        /// ... and the residual below which they may.
        public var cgEpslim = 1.0
    }

    public var grid = Grid()
    public var states: [State] = []
    public var initialTimestep = 0.1
    public var endTime = 10.0
    /// nil: no limit on steps (end_time decides).
    public var endStep: Int? = nil
    public var solver = Solver()
    /// TeaLeaf's test problems 1-5: a published temperature sum to compare with.
    public var testProblem: Int? = nil
    public var decomposition = DecompositionSpec()
    public var output = Output()

    public struct Output: Sendable, Equatable {
        public var path = "tea.h5"
        /// Temperature snapshots every N steps (and the final state); 0: final only.
        public var every = 0
        /// Field summary printed every N steps (and at the end); 0: at the end only.
        public var summaryEvery = 10
        public var checkpoint = CheckpointSpec()
    }

    /// Temperature sums U published with TeaLeaf for its test problems.
    public static let publishedTemperature: [Int: Double] = [
        1: 157.55084183279294, 2: 106.27221178646569, 3: 99.955877498324000,
        4: 97.277332050749976, 5: 95.462351583362249,
    ]

    public var ppcgInnerSteps: Int {
        solver.ppcgInnerSteps ?? 4 * Int(Double(grid.xCells * grid.yCells).squareRoot().squareRoot())
    }

    // MARK: Checks shared by JSON and decks

    /// Consistency checks; `locate` turns a key into the error's position.
    func validate(locate: (String) -> (line: Int, column: Int)) throws(InputError) {
        func fail(_ key: String, _ message: String) -> InputError {
            let (l, c) = locate(key)
            return InputError(key: key, line: l, column: c, message: message)
        }
        if states.isEmpty { throw fail("states", "at least one state (the background) is needed") }
        if !(grid.xmax > grid.xmin) { throw fail("grid.xmax", "must be greater than xmin (\(grid.xmin)), got \(grid.xmax)") }
        if !(grid.ymax > grid.ymin) { throw fail("grid.ymax", "must be greater than ymin (\(grid.ymin)), got \(grid.ymax)") }
        // Extreme magnitudes can leave the operator's coefficients 0, infinite or NaN.
        let dx = (grid.xmax - grid.xmin) / Double(grid.xCells), dy = (grid.ymax - grid.ymin) / Double(grid.yCells)
        let coefficients = [initialTimestep / (dx * dx), initialTimestep / (dy * dy)]
        if !(dx.isFinite && dy.isFinite && coefficients.allSatisfy { $0 > 0 && $0.isFinite }) {
            throw fail("grid", String(format: "the cell sizes (dx = %.3g, dy = %.3g) and the time step (%.3g) give "
                                      + "dt / h^2 = %.3g, %.3g, which double precision cannot hold: choose magnitudes "
                                      + "nearer 1", dx, dy, initialTimestep, coefficients[0], coefficients[1]))
        }
        for (k, state) in states.enumerated() {
            if !(state.density > 0) { throw fail("states[\(k)].density", "must be > 0, got \(state.density)") }
            switch state.geometry {
            case .rectangle(let x0, let x1, let y0, let y1):
                if !(x1 > x0) || !(y1 > y0) {
                    throw fail("states[\(k)]", "a rectangle needs xmin < xmax and ymin < ymax")
                }
            case .circle(_, _, let radius):
                if !(radius > 0) { throw fail("states[\(k)].radius", "must be > 0, got \(radius)") }
            default: break
            }
        }
        if solver.haloDepth > 1 && solver.method != .ppcg {
            throw fail("solver.halo_depth", "a halo deeper than 1 is only used by the ppcg solver")
        }
        if let n = testProblem, Self.publishedTemperature[n] == nil {
            throw fail("verification.test_problem", "TeaLeaf's test problems are 1 to 5, got \(n)")
        }
    }

    // MARK: JSON

    static let sections = ["problem", "grid", "states", "time", "solver", "verification", "decomposition", "output"]

    public static func read(_ root: ObjectReader) throws(InputError) -> TealeafConfiguration {
        try root.rejectUnknownKeys(known: sections)
        var c = TealeafConfiguration()
        if let g = try root.object("grid") {
            try g.rejectUnknownKeys(known: ["x_cells", "y_cells", "xmin", "xmax", "ymin", "ymax"])
            c.grid.xCells = try g.integer("x_cells", default: 10, min: 1, max: GridLimits.maxPointsPerAxis)
            c.grid.yCells = try g.integer("y_cells", default: 10, min: 1, max: GridLimits.maxPointsPerAxis)
            c.grid.xmin = try g.number("xmin", default: 0)
            c.grid.xmax = try g.number("xmax", default: 100)
            c.grid.ymin = try g.number("ymin", default: 0)
            c.grid.ymax = try g.number("ymax", default: 100)
        }
        guard let statesNode = root.member("states") else {
            throw InputError("is missing (a list of states, the background first)", at: root.node, key: "states")
        }
        guard case .array(let elements) = statesNode.value, !elements.isEmpty else {
            throw InputError("must be a non-empty array of states, the background first", at: statesNode, key: "states")
        }
        for (k, element) in elements.enumerated() { c.states.append(try readState(element, index: k)) }

        if let t = try root.object("time") {
            try t.rejectUnknownKeys(known: ["initial_timestep", "end_time", "end_step"])
            c.initialTimestep = try t.number("initial_timestep", default: 0.1, min: 0, exclusiveMin: true)
            c.endTime = try t.number("end_time", default: 10, min: 0, exclusiveMin: true)
            if let step = t.member("end_step"), case .null = step.value {} else if t.contains("end_step") {
                c.endStep = try t.integer("end_step", min: 1)
            }
        }
        if let s = try root.object("solver") {
            try s.rejectUnknownKeys(known: ["method", "eps", "max_iters", "preconditioner", "coefficient", "halo_depth",
                                            "ppcg_inner_steps", "cg_presteps", "cg_epslim"])
            c.solver.method = Method(rawValue: try s.choice("method", among: Method.allCases.map(\.rawValue), default: "cg"))!
            c.solver.eps = try s.number("eps", default: 1e-10, min: 0, exclusiveMin: true)
            c.solver.maxIters = try s.integer("max_iters", default: 1000, min: 1)
            c.solver.preconditioner = Preconditioner(rawValue: try s.choice(
                "preconditioner", among: Preconditioner.allCases.map(\.rawValue), default: "none"))!
            c.solver.coefficient = Coefficient(rawValue: try s.choice(
                "coefficient", among: Coefficient.allCases.map(\.rawValue), default: "conductivity"))!
            c.solver.haloDepth = try s.integer("halo_depth", default: 1, min: 1, max: 64)
            if let n = s.member("ppcg_inner_steps"), case .null = n.value {} else if s.contains("ppcg_inner_steps") {
                c.solver.ppcgInnerSteps = try s.integer("ppcg_inner_steps", min: 1)
            }
            c.solver.cgPresteps = try s.integer("cg_presteps", default: 25, min: 1)
            c.solver.cgEpslim = try s.number("cg_epslim", default: 1, min: 0, exclusiveMin: true)
        } else {
            c.solver.method = .cg
        }
        if let v = try root.object("verification") {
            try v.rejectUnknownKeys(known: ["test_problem"])
            if let n = v.member("test_problem"), case .null = n.value {} else if v.contains("test_problem") {
                c.testProblem = try v.integer("test_problem", min: 1)
            }
        }
        c.decomposition = try DecompositionSpec.read(root)
        if let o = try root.object("output") {
            try o.rejectUnknownKeys(known: ["path", "every", "summary_every"] + CheckpointSpec.keys)
            c.output.path = try o.string("path", default: "tea.h5")
            if c.output.path.isEmpty { throw InputError("must not be empty", at: o.member("path")!, key: "output.path") }
            c.output.every = try o.integer("every", default: 0, min: 0)
            c.output.summaryEvery = try o.integer("summary_every", default: 10, min: 0)
            c.output.checkpoint = try CheckpointSpec.read(o)
        }
        try c.validate { key in
            let node = locateNode(root.node, key) ?? root.node
            return (node.line, node.column)
        }
        return c
    }

    private static func readState(_ node: JSONNode, index k: Int) throws(InputError) -> State {
        let s = try ObjectReader(node, path: "states[\(k)]")
        let density = try s.number("density", min: 0, exclusiveMin: true)
        let energy = try s.number("energy")
        if k == 0 {
            try s.rejectUnknownKeys(known: ["density", "energy"])
            return State(density: density, energy: energy, geometry: .background)
        }
        let geometry = try s.choice("geometry", among: ["rectangle", "circle", "point"])
        switch geometry {
        case "rectangle":
            try s.rejectUnknownKeys(known: ["density", "energy", "geometry", "xmin", "xmax", "ymin", "ymax"])
            return State(density: density, energy: energy,
                         geometry: .rectangle(xmin: try s.number("xmin"), xmax: try s.number("xmax"),
                                              ymin: try s.number("ymin"), ymax: try s.number("ymax")))
        case "circle":
            try s.rejectUnknownKeys(known: ["density", "energy", "geometry", "xmin", "ymin", "radius"])
            return State(density: density, energy: energy,
                         geometry: .circle(x: try s.number("xmin"), y: try s.number("ymin"), radius: try s.number("radius")))
        default:
            try s.rejectUnknownKeys(known: ["density", "energy", "geometry", "xmin", "ymin"])
            return State(density: density, energy: energy, geometry: .point(x: try s.number("xmin"), y: try s.number("ymin")))
        }
    }

    /// The node at a key path like "grid.xmax" or "states[2].radius".
    private static func locateNode(_ root: JSONNode, _ path: String) -> JSONNode? {
        var node: JSONNode? = root
        for part in path.split(separator: ".") {
            var name = String(part), index: Int? = nil
            if let open = name.firstIndex(of: "["), let k = Int(name[name.index(after: open)...].dropLast()) {
                index = k
                name = String(name[..<open])
            }
            node = node?[name]
            if let index, case .array(let elements)? = node?.value { node = index < elements.count ? elements[index] : nil }
        }
        return node
    }

    // MARK: The effective input

    public var effectiveJSON: JSONNode {
        let statesJSON: [JSONNode] = states.map { s in
            var members: [(String, JSONNode)] = [("density", .double(s.density)), ("energy", .double(s.energy))]
            switch s.geometry {
            case .background: break
            case .rectangle(let x0, let x1, let y0, let y1):
                members += [("geometry", .string("rectangle")), ("xmin", .double(x0)), ("xmax", .double(x1)),
                            ("ymin", .double(y0)), ("ymax", .double(y1))]
            case .circle(let x, let y, let r):
                members += [("geometry", .string("circle")), ("xmin", .double(x)), ("ymin", .double(y)), ("radius", .double(r))]
            case .point(let x, let y):
                members += [("geometry", .string("point")), ("xmin", .double(x)), ("ymin", .double(y))]
            }
            return .object(members)
        }
        return .object([
            ("problem", .string(Self.name)),
            ("grid", .object([("x_cells", .int(grid.xCells)), ("y_cells", .int(grid.yCells)),
                              ("xmin", .double(grid.xmin)), ("xmax", .double(grid.xmax)),
                              ("ymin", .double(grid.ymin)), ("ymax", .double(grid.ymax))])),
            ("states", .array(statesJSON)),
            ("time", .object([("initial_timestep", .double(initialTimestep)), ("end_time", .double(endTime)),
                              ("end_step", endStep.map(JSONNode.int) ?? .null)])),
            ("solver", .object([("method", .string(solver.method.rawValue)), ("eps", .double(solver.eps)),
                                ("max_iters", .int(solver.maxIters)),
                                ("preconditioner", .string(solver.preconditioner.rawValue)),
                                ("coefficient", .string(solver.coefficient.rawValue)),
                                ("halo_depth", .int(solver.haloDepth)),
                                ("ppcg_inner_steps", solver.ppcgInnerSteps.map(JSONNode.int) ?? .null),
                                ("cg_presteps", .int(solver.cgPresteps)), ("cg_epslim", .double(solver.cgEpslim))])),
            ("verification", .object([("test_problem", testProblem.map(JSONNode.int) ?? .null)])),
            ("decomposition", decomposition.json),
            ("output", .object([("path", .string(output.path)), ("every", .int(output.every)),
                                ("summary_every", .int(output.summaryEvery))] + output.checkpoint.jsonMembers)),
        ])
    }
}
