import Foundation

/// The explicit heat-equation problem: u_t = alpha * laplacian(u) on a
/// rectangle, FTCS with the 5-point stencil (see docs/guide/input.md).
public struct HeatConfiguration: Sendable, Equatable {
    public struct Grid: Sendable, Equatable {
        public var nx: Int, ny: Int
        public var lx: Double, ly: Double
    }

    public enum Initial: Sendable, Equatable {
        case sine(modes: [Int], amplitude: Double)
        case gaussian(center: [Double], width: Double, amplitude: Double)
        case constant(value: Double)
    }

    public var grid: Grid
    public var boundaryX: BoundaryKind
    public var boundaryY: BoundaryKind
    public var boundaryValue: Double
    public var alpha: Double
    public var steps: Int
    /// nil: automatic, `safety * h_min^2 / (4 alpha)`.
    public var requestedDt: Double?
    public var safety: Double
    public var initial: Initial
    public var decomposition: DecompositionSpec
    public var output: OutputSpec
    public var scheme = Scheme()

    /// The longest run of steps that no diagnostics, snapshot or checkpoint
    /// (every `checkpointEvery` steps; 0: none) interrupts.
    func stepsBetweenEvents(checkpointEvery: Int) -> Int {
        let periods = [output.diagnosticsEvery, output.fields ? output.every : 0, checkpointEvery].filter { $0 > 0 }
        return periods.min().map { min($0, steps) } ?? steps
    }

    /// How the time steps are organised (see docs/performance.md).
    public struct Scheme: Sendable, Equatable {
        /// Halo exchanged once every `haloDepth` steps, `haloDepth` points
        /// deep; the steps in between compute redundantly into the halo.
        public var haloDepth = 1
        /// Compute those steps in one pass over memory (a wavefront).
        public var temporalBlocking = false
        /// Streaming (non-temporal) stores for the output of a sweep.
        public var streamingStores = Setting.auto
        /// Software prefetch of the rows a sweep streams from and to memory.
        public var softwarePrefetch = Setting.auto
        /// Sweeps that go up the rows in bands of four instead of one at a time.
        public var rowBands = Setting.auto
        /// Column tiles of the temporal-blocking wavefront.
        public var tileColumns = TileColumns.auto
        /// Neither `halo_depth` nor `temporal_blocking` given (or both
        /// `"auto"`): the run chooses between the single sweep and temporal
        /// blocking `automaticDepth` steps deep (`HeatSimulation.chooseScheme`).
        public var automatic = true

        /// The depth of temporal blocking that the automatic choice tries.
        public static let automaticDepth = 8
        var automaticDepth: Int { Self.automaticDepth }

        /// The forced scheme the automatic choice tries against the single sweep.
        public var blockingCandidate: Scheme {
            var candidate = self
            (candidate.haloDepth, candidate.temporalBlocking, candidate.automatic) = (Self.automaticDepth, true, false)
            return candidate
        }

        /// `auto`: tiles whose wavefront rows fit in half a core's L2 cache
        /// where whole rows do not, kept if they are faster (timed at
        /// start-up); `off`: whole rows; `width(n)`: tiles of about n columns.
        public enum TileColumns: Sendable, Equatable {
            case auto, off, width(Int)

            var json: JSONNode {
                switch self {
                case .auto: .string("auto")
                case .off: .string("off")
                case .width(let n): .int(n)
                }
            }
        }

        /// A machine-dependent optimisation: `auto` decides by the fields'
        /// size against the last-level cache (streaming stores and row bands:
        /// and by timing).
        public enum Setting: String, Sendable, CaseIterable {
            case auto, on, off
        }

        static func read(_ root: ObjectReader) throws(InputError) -> Scheme {
            guard let section = try root.object("scheme") else { return Scheme() }
            try section.rejectUnknownKeys(known: ["halo_depth", "temporal_blocking", "streaming_stores", "software_prefetch",
                                                  "tile_columns", "row_bands"])
            var scheme = Scheme()
            switch try section.choiceOrInteger("halo_depth", among: ["auto"], min: 1, max: 64, default: .choice("auto")) {
            case .integer(let depth): scheme.haloDepth = depth; scheme.automatic = false
            case .choice: break
            }
            if case .string = section.member("temporal_blocking")?.value {
                _ = try section.choice("temporal_blocking", among: ["auto"])
            } else if section.member("temporal_blocking") != nil {
                scheme.temporalBlocking = try section.bool("temporal_blocking")
                scheme.automatic = false
            }
            let settings = Setting.allCases.map(\.rawValue)
            scheme.streamingStores = Setting(rawValue: try section.choice("streaming_stores", among: settings, default: "auto"))!
            scheme.softwarePrefetch = Setting(rawValue: try section.choice("software_prefetch", among: settings, default: "auto"))!
            scheme.rowBands = Setting(rawValue: try section.choice("row_bands", among: settings, default: "auto"))!
            switch try section.choiceOrInteger("tile_columns", among: ["auto", "off"], min: 8,
                                               max: GridLimits.maxPointsPerAxis, default: .choice("auto")) {
            case .choice(let name): scheme.tileColumns = name == "off" ? .off : .auto
            case .integer(let n):
                guard scheme.temporalBlocking else {
                    throw InputError("is for temporal blocking only: set \"temporal_blocking\": true, or remove the key",
                                     at: section.member("tile_columns")!, key: section.keyPath("tile_columns"))
                }
                scheme.tileColumns = .width(n)
            }
            return scheme
        }

        var json: JSONNode {
            .object([("halo_depth", automatic ? .string("auto") : .int(haloDepth)),
                     ("temporal_blocking", automatic ? .string("auto") : .bool(temporalBlocking)),
                     ("streaming_stores", .string(streamingStores.rawValue)),
                     ("software_prefetch", .string(softwarePrefetch.rawValue)), ("tile_columns", tileColumns.json),
                     ("row_bands", .string(rowBands.rawValue))])
        }
    }

    public static let sections = ["problem", "grid", "boundary", "physics", "time", "initial", "decomposition", "output", "scheme"]

    // MARK: Derived quantities

    /// Grid spacing: L/(n+1) on a Dirichlet axis (n unknowns between two fixed
    /// boundary points), L/n on a periodic axis.
    public var hx: Double { spacing(length: grid.lx, points: grid.nx, boundaryX) }
    public var hy: Double { spacing(length: grid.ly, points: grid.ny, boundaryY) }

    private func spacing(length: Double, points: Int, _ kind: BoundaryKind) -> Double {
        kind == .dirichlet ? length / Double(points + 1) : length / Double(points)
    }

    /// The FTCS stability limit 1 / (2 alpha (1/hx^2 + 1/hy^2)).
    public var stabilityLimit: Double { 1 / (2 * alpha * (1 / (hx * hx) + 1 / (hy * hy))) }

    public var dt: Double {
        if let requestedDt { return requestedDt }
        let h = min(hx, hy)
        return safety * h * h / (4 * alpha)
    }

    /// Coordinate of unknown i (0-based) along an axis.
    static func coordinate(_ i: Int, spacing h: Double, _ kind: BoundaryKind) -> Double {
        kind == .dirichlet ? Double(i + 1) * h : (Double(i) + 0.5) * h
    }

    // MARK: Reading

    public static func read(_ root: ObjectReader) throws(InputError) -> HeatConfiguration {
        try root.rejectUnknownKeys(known: sections)

        guard let gridSection = try root.object("grid") else {
            throw InputError("is missing (a required section)", at: root.node, key: "grid")
        }
        try gridSection.rejectUnknownKeys(known: ["nx", "ny", "lx", "ly"])
        let grid = Grid(nx: try gridSection.integer("nx", min: 1, max: GridLimits.maxPointsPerAxis),
                        ny: try gridSection.integer("ny", min: 1, max: GridLimits.maxPointsPerAxis),
                        lx: try gridSection.number("lx", default: 1, min: 0, exclusiveMin: true),
                        ly: try gridSection.number("ly", default: 1, min: 0, exclusiveMin: true))

        var boundaryX = BoundaryKind.dirichlet, boundaryY = BoundaryKind.dirichlet, boundaryValue = 0.0
        if let section = try root.object("boundary") {
            try section.rejectUnknownKeys(known: ["x", "y", "value"])
            let kinds = [BoundaryKind.dirichlet.rawValue, BoundaryKind.periodic.rawValue]
            boundaryX = BoundaryKind(rawValue: try section.choice("x", among: kinds, default: "dirichlet"))!
            boundaryY = BoundaryKind(rawValue: try section.choice("y", among: kinds, default: "dirichlet"))!
            boundaryValue = try section.number("value", default: 0)
        }

        var alpha = 1.0
        if let section = try root.object("physics") {
            try section.rejectUnknownKeys(known: ["alpha"])
            alpha = try section.number("alpha", default: 1, min: 0, exclusiveMin: true)
        }

        var steps = 100, requestedDt: Double? = nil, safety = 0.9
        var dtNode: JSONNode?
        if let section = try root.object("time") {
            try section.rejectUnknownKeys(known: ["steps", "dt", "safety"], elsewhere: ["alpha": "physics"])
            steps = try section.integer("steps", default: 100, min: 0)
            requestedDt = try section.optionalNumber("dt", min: 0, exclusiveMin: true)
            dtNode = section.member("dt")
            safety = try section.number("safety", default: 0.9, min: 0, exclusiveMin: true, max: 1)
        }

        let initial = try readInitial(root, grid: grid)

        let configuration = HeatConfiguration(
            grid: grid, boundaryX: boundaryX, boundaryY: boundaryY, boundaryValue: boundaryValue, alpha: alpha,
            steps: steps, requestedDt: requestedDt, safety: safety, initial: initial,
            decomposition: try DecompositionSpec.read(root),
            output: try OutputSpec.read(root, defaultPath: "heat.h5"), scheme: try Scheme.read(root))
        if let dt = requestedDt, dt > configuration.stabilityLimit, let dtNode {
            let limit = String(format: "%.6g", configuration.stabilityLimit)
            let spacing = String(format: "hx = %.6g, hy = %.6g", configuration.hx, configuration.hy)
            throw InputError("is \(dt), above the stability limit \(limit) of the explicit scheme "
                             + "(1 / (2 alpha (1/hx^2 + 1/hy^2)), \(spacing)); use a smaller dt, or null for automatic",
                             at: dtNode, key: "time.dt")
        }
        // Extreme magnitudes can leave the stencil's coefficients 0, infinite or NaN.
        let c = configuration
        let coefficients = [c.alpha * c.dt / (c.hx * c.hx), c.alpha * c.dt / (c.hy * c.hy)]
        if !(c.dt > 0 && c.dt.isFinite && coefficients.allSatisfy { $0 > 0 && $0.isFinite }) {
            throw InputError(String(format: "grid.lx, grid.ly, physics.alpha and the time step (hx = %.3g, hy = %.3g, "
                                    + "alpha = %.3g, dt = %.3g) give alpha dt / h^2 = %.3g, %.3g, which double precision "
                                    + "cannot hold: choose magnitudes nearer 1", c.hx, c.hy, c.alpha, c.dt,
                                    coefficients[0], coefficients[1]),
                             at: root.member("grid") ?? root.node, key: "grid")
        }
        return configuration
    }

    private static func readInitial(_ root: ObjectReader, grid: Grid) throws(InputError) -> Initial {
        guard let section = try root.object("initial") else { return .sine(modes: [1, 1], amplitude: 1) }
        let type = try section.choice("type", among: ["sine", "gaussian", "constant"], default: "sine")
        switch type {
        case "sine":
            try section.rejectUnknownKeys(known: ["type", "modes", "amplitude"])
            let modes = try section.array("modes", count: 2, default: [1, 1]) { (node, key) throws(InputError) in
                try ObjectReader.integer(node, key: key, min: 1)
            }
            return .sine(modes: modes, amplitude: try section.number("amplitude", default: 1))
        case "gaussian":
            try section.rejectUnknownKeys(known: ["type", "center", "width", "amplitude"])
            let center = try section.array("center", count: 2, default: [grid.lx / 2, grid.ly / 2]) {
                (node, key) throws(InputError) in try ObjectReader.number(node, key: key)
            }
            return .gaussian(center: center,
                             width: try section.number("width", default: 0.1 * min(grid.lx, grid.ly), min: 0, exclusiveMin: true),
                             amplitude: try section.number("amplitude", default: 1))
        default:
            try section.rejectUnknownKeys(known: ["type", "amplitude"])
            return .constant(value: try section.number("amplitude", default: 1))
        }
    }

    // MARK: The effective input

    /// Every key with its value in effect (defaults and command-line overrides
    /// included): stored in the output so that a run can be repeated.
    public var effectiveJSON: JSONNode {
        let initialJSON: JSONNode
        switch initial {
        case .sine(let modes, let amplitude):
            initialJSON = .object([("type", .string("sine")), ("modes", .array(modes.map(JSONNode.int))),
                                   ("amplitude", .double(amplitude))])
        case .gaussian(let center, let width, let amplitude):
            initialJSON = .object([("type", .string("gaussian")), ("center", .array(center.map(JSONNode.double))),
                                   ("width", .double(width)), ("amplitude", .double(amplitude))])
        case .constant(let value):
            initialJSON = .object([("type", .string("constant")), ("amplitude", .double(value))])
        }
        return .object([
            ("problem", .string(Self.name)),
            ("grid", .object([("nx", .int(grid.nx)), ("ny", .int(grid.ny)), ("lx", .double(grid.lx)), ("ly", .double(grid.ly))])),
            ("boundary", .object([("x", .string(boundaryX.rawValue)), ("y", .string(boundaryY.rawValue)),
                                  ("value", .double(boundaryValue))])),
            ("physics", .object([("alpha", .double(alpha))])),
            ("time", .object([("steps", .int(steps)), ("dt", requestedDt.map(JSONNode.double) ?? .null),
                              ("safety", .double(safety))])),
            ("initial", initialJSON),
            ("decomposition", decomposition.json),
            ("output", output.json),
            ("scheme", scheme.json),
        ])
    }
}
