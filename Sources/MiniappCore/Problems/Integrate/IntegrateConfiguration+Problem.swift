extension IntegrateConfiguration: Problem {
    static var name: String { "integrate" }
    var outputPath: String { path }
    var gridSize: (nx: Int, ny: Int) { (n, n) }
    var trajectoryJSON: JSONNode { effectiveJSON }

    mutating func apply(_ options: RunOptions) throws {
        if let outputPath = options.outputPath { path = outputPath }
        if let dims = options.dims { decomposition.dims = dims }
        if options.checkpointEvery != nil || options.restartPath != nil {
            throw MiniappFailure(.usage, "problem \"integrate\" has no time steps: nothing to checkpoint or restart")
        }
        if options.steps != nil {
            throw MiniappFailure(.usage, "--steps: problem \"integrate\" has no time steps (its input has \"repeat\")")
        }
    }

    func check(_ restart: RestartPlan) throws {
        throw MiniappFailure(.usage, "problem \"integrate\" has no time steps: nothing to checkpoint or restart")
    }

    func run(context: RunContext, threadSource: String, restart: RestartPlan?) throws -> RunSummary {
        try IntegrateRun(configuration: self, context: context, threadSource: threadSource).execute()
    }
}
