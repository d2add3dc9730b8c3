import MPI

/// The TeaLeaf problem in the shared time loop: one implicit solve per
/// step, the solver's record of each step, and the field summaries as its
/// diagnostics. The state is the energy.
final class TealeafStepping: TimeSteppingProblem {
    let solver: TealeafSolver
    private let configuration: TealeafConfiguration
    private let console: Console
    /// The solver's record of every step and the field summaries, the restored ones included.
    private(set) var records: TealeafRecords
    private var firstStepOfRun = true
    private var lastPrinted = -Double.infinity
    private var loopBegan = 0.0

    init(solver: TealeafSolver, communicator: Communicator, console: Console, records: TealeafRecords) {
        self.solver = solver
        self.communicator = communicator
        configuration = solver.configuration
        self.console = console
        self.records = records
    }

    var name: String { TealeafConfiguration.name }
    var gridSize: (nx: Int, ny: Int) { configuration.gridSize }
    var block: Decomposition.Block { solver.model.block }
    let communicator: Communicator
    var timer: PhaseTimer {
        get { solver.timer }
        set { solver.timer = newValue }
    }

    var diagnosticsEvery: Int { configuration.output.summaryEvery }
    var snapshotEvery: Int? { configuration.output.every }
    var snapshotFields: [(name: String, field: Field)] { [("u", solver.u)] }
    var stateFields: [(name: String, field: Field)] { solver.stateFields }
    var stateScalars: [String: Double] { solver.stateScalars }
    var series: [String: Checkpoint.Series] { records.series }

    func isLast(step: Int, time: Double) -> Bool {
        time + 1e-16 > configuration.endTime || step >= (configuration.endStep ?? Int.max)
    }

    func reach(from step: Int) -> Int { step + 1 }

    func begin(at step: Int, fresh: Bool) throws {
        loopBegan = wallSeconds()
        guard fresh else { return }
        solver.prepareStep()   // u = energy * density: the state at step 0
        _ = try diagnose(step: step, time: 0)
    }

    func advance(from step: Int, to target: Int, time: Double) throws -> (time: Double, finite: Bool?) {
        if FaultInjection.fires(.nan) { solver.energy.origin[0] = .nan }   // into the state the next solve starts from
        solver.prepareStep()
        let solveBegan = wallSeconds()
        let result = try solver.solve(firstStep: target == 1)
        let solveSeconds = wallSeconds() - solveBegan
        solver.finishStep()
        let now = time + configuration.initialTimestep
        records.add(result, step: target, time: now, trueResidual: try solver.trueResidualNorm(), seconds: solveSeconds)
        // The residual is reduced over all ranks: every rank sees the same NaN.
        guard result.residual.isFinite else { return (now, false) }
        printStep(result, step: target, time: now)
        return (now, true)
    }

    func diagnose(step: Int, time: Double) throws -> Bool {
        let summary = try solver.fieldSummary()
        records.add(summary, step: step, time: time)
        console.info("  field summary, step \(step), time \(Format.general(time, 8)): volume \(Format.sci(summary.volume, 10)), "
                     + "mass \(Format.sci(summary.mass, 10)), energy \(Format.sci(summary.internalEnergy, 10)), "
                     + "U \(String(format: "%.17g", summary.temperature))")
        return summary.temperature.isFinite && summary.internalEnergy.isFinite
    }

    /// The solver's line: the first and last steps of the run, then at most one a second unless --verbose.
    private func printStep(_ result: TealeafSolver.Result, step: Int, time: Double) {
        let elapsed = wallSeconds() - loopBegan
        let last = isLast(step: step, time: time)
        guard console.verbosity >= .verbose || last || firstStepOfRun || elapsed - lastPrinted >= 1 else { return }
        firstStepOfRun = false
        lastPrinted = elapsed
        console.info("step \(Format.padLeft(String(step), 6))  time \(Format.sci(time, 4))  "
                     + "\(configuration.solver.method.rawValue) \(Format.padLeft(String(result.iterations), 5)) its"
                     + (result.innerIterations > 0 ? " (+\(result.innerIterations) inner)" : "")
                     + "  residual \(Format.sci(result.residual, 2))"
                     + (result.converged ? "" : "  NOT CONVERGED in \(configuration.solver.maxIters) iterations"))
    }
}
