/// Input sections shared by every problem.

/// Limits of every problem's grid.
public enum GridLimits {
    /// Largest points (or cells) per axis: keeps nx * ny and every byte count far from Int64 overflow.
    public static let maxPointsPerAxis = 1 << 31
}

/// `"decomposition": {"dims": [px, py]}`; 0 lets MPI_Dims_create choose.
public struct DecompositionSpec: Sendable, Equatable {
    public var dims: [Int]

    public init(dims: [Int] = [0, 0]) { self.dims = dims }

    static func read(_ root: ObjectReader) throws(InputError) -> DecompositionSpec {
        guard let section = try root.object("decomposition") else { return DecompositionSpec() }
        try section.rejectUnknownKeys(known: ["dims"])
        let dims = try section.array("dims", count: 2, default: [0, 0]) { (node, key) throws(InputError) in
            try ObjectReader.integer(node, key: key, min: 0)
        }
        return DecompositionSpec(dims: dims)
    }

    var json: JSONNode { .object([("dims", .array(dims.map(JSONNode.int)))]) }
}

/// `"output": {"path": ..., "every": N, "diagnostics_every": M}`.
public struct OutputSpec: Sendable, Equatable {
    /// The HDF5 file (relative paths are relative to the working directory).
    public var path: String
    /// Field snapshots every this many steps (and the final state); 0: final state only.
    public var every: Int
    /// Reductions every this many steps (and the first and last step); 0: first and last only.
    public var diagnosticsEvery: Int
    /// Write field snapshots at all (timing runs may not want 512 MiB files).
    public var fields = true
    public var checkpoint = CheckpointSpec()

    static let keys = ["path", "every", "diagnostics_every", "fields"] + CheckpointSpec.keys

    static func read(_ root: ObjectReader, defaultPath: String) throws(InputError) -> OutputSpec {
        guard let section = try root.object("output") else {
            return OutputSpec(path: defaultPath, every: 0, diagnosticsEvery: 10)
        }
        try section.rejectUnknownKeys(known: keys)
        let path = try section.string("path", default: defaultPath)
        if path.isEmpty { throw InputError("must not be empty", at: section.member("path")!, key: "output.path") }
        return OutputSpec(path: path,
                          every: try section.integer("every", default: 0, min: 0),
                          diagnosticsEvery: try section.integer("diagnostics_every", default: 10, min: 0),
                          fields: try section.bool("fields", default: true),
                          checkpoint: try CheckpointSpec.read(section))
    }

    var json: JSONNode {
        .object([("path", .string(path)), ("every", .int(every)), ("diagnostics_every", .int(diagnosticsEvery)),
                 ("fields", .bool(fields))] + checkpoint.jsonMembers)
    }
}

/// Checkpoints, in the "output" section: `"checkpoint_every": N` and
/// `"checkpoint_path": "..."` (docs/guide/restart-and-faults.md).
public struct CheckpointSpec: Sendable, Equatable {
    /// A checkpoint every this many steps; 0: only when a stop signal arrives.
    public var every = 0
    /// nil: next to the results file, `heat.h5` -> `heat.chk.h5`.
    public var path: String? = nil

    public init() {}

    static let keys = ["checkpoint_every", "checkpoint_path"]

    static func read(_ section: ObjectReader) throws(InputError) -> CheckpointSpec {
        var spec = CheckpointSpec()
        spec.every = try section.integer("checkpoint_every", default: 0, min: 0)
        if let node = section.member("checkpoint_path"), !node.isNull {
            let path = try section.string("checkpoint_path")
            if path.isEmpty { throw InputError("must not be empty", at: node, key: "output.checkpoint_path") }
            spec.path = path
        }
        return spec
    }

    /// The checkpoint's path for results written to `output`.
    func resolvedPath(output: String) -> String { path ?? Self.defaultPath(forOutput: output) }

    /// `heat.h5` -> `heat.chk.h5`, next to the results.
    static func defaultPath(forOutput output: String) -> String {
        let base = output.hasSuffix(".h5") ? String(output.dropLast(3)) : output
        return base + ".chk.h5"
    }

    var jsonMembers: [(String, JSONNode)] {
        [("checkpoint_every", .int(every)), ("checkpoint_path", path.map(JSONNode.string) ?? .null)]
    }
}

/// Axis boundary conditions.
public enum BoundaryKind: String, Sendable, Equatable {
    case dirichlet, periodic
}
