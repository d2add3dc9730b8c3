import MPI

/// The heat problem in the shared time loop: several steps per advance
/// (one halo exchange for `stepsPerExchange` steps), the state is u.
extension HeatSimulation: TimeSteppingProblem {
    var name: String { HeatConfiguration.name }
    var gridSize: (nx: Int, ny: Int) { model.configuration.gridSize }
    var block: Decomposition.Block { model.block }

    var diagnosticsEvery: Int { model.configuration.output.diagnosticsEvery }
    var snapshotEvery: Int? { model.configuration.output.fields ? model.configuration.output.every : nil }
    var snapshotFields: [(name: String, field: Field)] { [("u", u)] }
    var stateFields: [(name: String, field: Field)] { [("u", u)] }
    var stateScalars: [String: Double] { [:] }
    var series: [String: Checkpoint.Series] { diagnostics.series }

    func isLast(step: Int, time: Double) -> Bool { step >= model.configuration.steps }

    func reach(from step: Int) -> Int { min(model.configuration.steps, step + stepsPerExchange) }

    func begin(at step: Int, fresh: Bool) throws {
        loopBegan = wallSeconds()
        if fresh { try recordDiagnostics(step: step, time: 0) }
        progress(step, 0)
    }

    func advance(from step: Int, to target: Int, time: Double) throws -> (time: Double, finite: Bool?) {
        try advance(steps: target - step)
        FaultInjection.currentStep = target
        if FaultInjection.fires(.nan) { u.origin[0] = .nan }
        // Found out at the next diagnostics: a step reduces nothing.
        return (Double(target) * model.dt, nil)
    }

    func diagnose(step: Int, time: Double) throws -> Bool {
        try recordDiagnostics(step: step, time: time)
        progress(step, wallSeconds() - loopBegan)
        // Every rank holds the same reduced values: no agreement needed.
        return diagnostics.lastIsFinite
    }
}
