import Foundation

extension TealeafConfiguration: Problem {
    static var name: String { "tealeaf" }
    var outputPath: String { output.path }
    var gridSize: (nx: Int, ny: Int) { (grid.xCells, grid.yCells) }

    /// A TeaLeaf deck (tea.in), with the results named after it.
    static func readNativeFormat(_ text: String, fileName: String) throws(InputError) -> TealeafConfiguration? {
        guard TealeafDeck.isDeck(text) else { return nil }
        var c = try TealeafDeck.parse(text, fileName: fileName)
        let base = ((fileName as NSString).lastPathComponent as NSString).deletingPathExtension
        c.output.path = (base.isEmpty ? "tea" : base) + ".h5"
        return c
    }

    var trajectoryJSON: JSONNode {
        let all = effectiveJSON
        var solver = all["solver"]!
        if case .object(let members) = solver.value {
            solver = JSONNode(.object(members.filter { $0.key != "halo_depth" }))
        }
        return .object(["problem", "grid", "states"].map { ($0, all[$0]!) }
                       + [("time.initial_timestep", .double(initialTimestep)), ("solver", solver)])
    }

    mutating func apply(_ options: RunOptions) throws {
        if let steps = options.steps { endStep = steps; endTime = .greatestFiniteMagnitude }
        try options.apply(output: &output.path, dims: &decomposition.dims, checkpoint: &output.checkpoint)
    }

    func check(_ restart: RestartPlan) throws {
        if (endStep.map { $0 <= restart.step } ?? false) || restart.time + 1e-16 > endTime {
            throw MiniappFailure(.dataError, "the checkpoint '\(restart.path)' is after step \(restart.step) (t = "
                                 + "\(restart.time)), where the run already ends (end_step, end_time or --steps): ask "
                                 + "for more steps to continue it")
        }
    }

    func run(context: RunContext, threadSource: String, restart: RestartPlan?) throws -> RunSummary {
        try TealeafRun(configuration: self, context: context, threadSource: threadSource, restart: restart).execute()
    }
}
