extension HeatConfiguration: Problem {
    static var name: String { "heat" }
    var outputPath: String { output.path }
    var gridSize: (nx: Int, ny: Int) { (grid.nx, grid.ny) }

    var trajectoryJSON: JSONNode {
        let all = effectiveJSON
        return .object(["problem", "grid", "boundary", "physics", "initial"].map { ($0, all[$0]!) }
                       + [("time.dt (in effect)", .double(dt))])
    }

    mutating func apply(_ options: RunOptions) throws {
        if let steps = options.steps { self.steps = steps }
        try options.apply(output: &output.path, dims: &decomposition.dims, checkpoint: &output.checkpoint)
    }

    func check(_ restart: RestartPlan) throws {
        if steps < restart.step {
            throw MiniappFailure(.dataError, "the checkpoint '\(restart.path)' is after step \(restart.step), but the run "
                                 + "ends at step \(steps) (time.steps or --steps): ask for more steps to continue it")
        }
    }

    func run(context: RunContext, threadSource: String, restart: RestartPlan?) throws -> RunSummary {
        try HeatRun(configuration: self, context: context, threadSource: threadSource, restart: restart).execute()
    }
}
