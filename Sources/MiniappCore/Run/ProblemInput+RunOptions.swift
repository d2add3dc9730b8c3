import Foundation

/// Command-line options that override input keys.
extension ProblemInput {
    /// The input with --steps, --output, --dims and --checkpoint-every applied.
    func applying(_ options: RunOptions) throws -> ProblemInput {
        switch self {
        case .heat(var c):
            if let steps = options.steps { c.steps = steps }
            try Self.apply(options, output: &c.output.path, dims: &c.decomposition.dims, checkpoint: &c.output.checkpoint)
            return .heat(c)
        case .tealeaf(var c):
            if let steps = options.steps { c.endStep = steps; c.endTime = .greatestFiniteMagnitude }
            try Self.apply(options, output: &c.output.path, dims: &c.decomposition.dims, checkpoint: &c.output.checkpoint)
            return .tealeaf(c)
        case .integrate(var c):
            if let path = options.outputPath { c.path = path }
            if let dims = options.dims { c.decomposition.dims = dims }
            if options.checkpointEvery != nil || options.restartPath != nil {
                throw MiniappFailure(.usage, "problem \"integrate\" has no time steps: nothing to checkpoint or restart")
            }
            if options.steps != nil {
                throw MiniappFailure(.usage, "--steps: problem \"integrate\" has no time steps (its input has \"repeat\")")
            }
            return .integrate(c)
        }
    }

    /// --output, --dims and --checkpoint-every, for a problem with time steps.
    private static func apply(_ options: RunOptions, output: inout String, dims: inout [Int],
                              checkpoint: inout CheckpointSpec) throws {
        if let path = options.outputPath { output = path }
        if let given = options.dims { dims = given }
        if let every = options.checkpointEvery { checkpoint.every = every }
        try checkDistinct(output: output, checkpoint: checkpoint)
    }

    /// Both files are staged under their names: they must differ.
    private static func checkDistinct(output: String, checkpoint: CheckpointSpec) throws {
        let path = checkpoint.resolvedPath(output: output)
        let absolute = { (p: String) in URL(fileURLWithPath: p).standardizedFileURL.path }
        if absolute(path) == absolute(output) {
            throw MiniappFailure(.dataError, "output.checkpoint_path '\(path)' is the results file itself: choose another path")
        }
    }

    var problemName: String {
        switch self {
        case .heat: "heat"
        case .tealeaf: "tealeaf"
        case .integrate: "integrate"
        }
    }

    var outputPath: String {
        switch self {
        case .heat(let c): c.output.path
        case .tealeaf(let c): c.output.path
        case .integrate(let c): c.path
        }
    }

    /// The keys that decide the solution step by step: a restart must keep
    /// them, or it would not continue the same run. Output, decomposition,
    /// scheme, halo depth and the number of steps may change.
    var trajectoryJSON: JSONNode {
        switch self {
        case .heat(let c):
            let all = c.effectiveJSON
            return .object(["problem", "grid", "boundary", "physics", "initial"].map { ($0, all[$0]!) }
                           + [("time.dt (in effect)", .double(c.dt))])
        case .tealeaf(let c):
            let all = c.effectiveJSON
            var solver = all["solver"]!
            if case .object(let members) = solver.value {
                solver = JSONNode(.object(members.filter { $0.key != "halo_depth" }))
            }
            return .object(["problem", "grid", "states"].map { ($0, all[$0]!) }
                           + [("time.initial_timestep", .double(c.initialTimestep)), ("solver", solver)])
        case .integrate(let c):
            return c.effectiveJSON
        }
    }
}
