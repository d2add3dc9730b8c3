import Foundation
import HDF5
import MPI

/// Runs the TeaLeaf problem: set-up, the time loop (one implicit solve per
/// step), field summaries, the published-value check, and the output.
struct TealeafRun {
    let configuration: TealeafConfiguration
    let context: RunContext
    let threadSource: String
    /// Set when the run continues from a checkpoint.
    var restart: RestartPlan? = nil

    private var console: Console { context.console }

    func execute() throws -> RunSummary {
        var setupTimer = PhaseTimer(phases: ["setup"])
        setupTimer.start(0)
        let c = configuration
        let run = try SteppedRun(context: context, restart: restart, input: c.effectiveJSON, outputPath: c.output.path,
                                 checkpoint: c.output.checkpoint, nx: c.grid.xCells, ny: c.grid.yCells,
                                 dims: c.decomposition.dims, periods: [false, false])
        let plan = run.plan, setup = run.setup
        let comm = setup.communicator
        let halo = c.solver.haloDepth
        try setup.requireBlocks(coveringHalo: halo, key: "solver.halo_depth", unit: "cells", context: context)
        try MemoryCheck.require(arrays: TealeafSolver.fieldCount(c.solver), halo: halo, setup: setup, context: context)
        let model = TealeafModel(c, block: setup.block, halo: halo, coords: setup.topology.coords, dims: setup.topology.dims)
        printSetup(setup: setup, model: model, checkpoints: plan)
        RunReport.warnAboutPlacement(context)

        // Memory first, then the restart, then the output: a failure in
        // either leaves no file behind.
        let solver = try comm.collectively { try TealeafSolver(model: model, context: context, topology: setup.topology) }
        solver.initialize()
        var restoredRecords = TealeafRecords()
        var restored: Checkpoint? = nil
        if let restart {
            let checkpoint = try solver.restore(from: restart.path, communicator: comm)
            restoredRecords = try comm.collectively { try TealeafRecords(series: checkpoint.series, path: restart.path) }
            console.info("restart from '\(restart.path)': step \(checkpoint.step), time \(Format.general(checkpoint.time, 8)), "
                         + "written by \(checkpoint.writtenBy)")
            restored = checkpoint
        }
        let output = try run.createOutput(snapshotFields: ["u"], groups: ["summary"], restored: restored,
                                          scratch: [solver.r]) { output in
            try output.writeStaticField("fields/density", solver.density, block: setup.block)
        }
        setupTimer.stop()

        let stepping = TealeafStepping(solver: solver, communicator: comm, console: console,
                                       records: restoredRecords)
        let outcome = run.loop(stepping, output: output)
        let ending = outcome.ending, records = stepping.records
        var phases = solver.timer
        phases["setup"] += setupTimer.seconds[0]

        let restoredSteps = restored?.series["diagnostics/step"]?.count ?? 0
        let steps = records.step.count - restoredSteps
        let unconverged = records.converged.filter { $0 == 0 }.count
        if unconverged > 0 {
            console.warning("\(unconverged) of \(records.step.count) solves did not reach tl_eps \(c.solver.eps) within "
                            + "\(c.solver.maxIters) iterations")
        }
        let check = ending == .completed ? referenceCheck(temperature: records.temperature.last!) : nil
        let xdmf = XDMFDescription(h5Path: c.output.path, nx: c.grid.xCells, ny: c.grid.yCells,
                                   origin: (c.grid.xmin + model.dx / 2, c.grid.ymin + model.dy / 2),
                                   spacing: (model.dx, model.dy), snapshotFields: ["u"], staticFields: ["density"])
        let (sidecar, ioSeconds) = run.finish(output, xdmf: xdmf) { [phases] in
            try writeResults(output, records: records, phases: phases, setup: setup, model: model, solver: solver,
                             check: check, ending: ending, restoredSteps: restoredSteps)
        }
        phases["io"] += ioSeconds
        let totalIterations = records.iterations.suffix(steps).reduce(0, +)
        let summary = try RunSummary(problem: TealeafConfiguration.name, phases: phases, comm: comm, threads: context.threads, metrics: [
            "steps": Double(steps), "total_iterations": Double(totalIterations),
            "loop_seconds": try comm.allreduce(phases["total"], op: .max),
            "temperature": records.temperature.last ?? .nan,
        ])
        try run.end(outcome, summary: summary)
        console.info("")
        console.info("Done: \(steps) steps, \(totalIterations) iterations in \(Format.duration(phases["total"])) "
                     + "(\(Format.duration(phases["total"] / Double(max(1, Int(totalIterations))))) per iteration)")
        if let check { console.info("  " + check.line) }
        summary.printPhases(console)
        console.info("  output      \(c.output.path)" + (sidecar.map { " (ParaView: \($0))" } ?? ""))
        return summary
    }

    // MARK: The published value

    struct ReferenceCheck {
        let problem: Int
        let published: Double
        let computed: Double
        var relativeDifference: Double { abs(computed - published) / abs(published) }
        /// TeaLeaf's own rule: within 0.001 %.
        var passesTeaLeafRule: Bool { relativeDifference < 1e-5 }
        var line: String {
            "test problem \(problem): U = \(String(format: "%.17g", computed)), published \(String(format: "%.17g", published)), "
                + "relative difference \(Format.sci(relativeDifference, 2)) "
                + (passesTeaLeafRule ? "(PASSED: TeaLeaf's rule is < 1e-5)" : "(NOT PASSED: TeaLeaf's rule is < 1e-5)")
        }
    }

    private func referenceCheck(temperature: Double) -> ReferenceCheck? {
        guard let n = configuration.testProblem, let published = TealeafConfiguration.publishedTemperature[n] else { return nil }
        return ReferenceCheck(problem: n, published: published, computed: temperature)
    }

    // MARK: Output

    private func writeResults(_ output: ResultFile, records r: TealeafRecords, phases: PhaseTimer, setup: GridSetup,
                              model: TealeafModel, solver: TealeafSolver, check: ReferenceCheck?, ending: RunEnding,
                              restoredSteps: Int) throws {
        for (name, series) in r.series.sorted(by: { $0.key < $1.key }) {
            switch series {
            case .ints(let values): try output.appendSeries(name, values: values, at: 0)
            case .doubles(let values): try output.appendSeries(name, values: values, at: 0)
            }
        }
        let c = configuration
        var extra: [String: AttributeValue] = [
            "dt": .double(c.initialTimestep), "steps": .int(r.step.count), "dx": .double(model.dx), "dy": .double(model.dy),
            "solver": .string(c.solver.method.rawValue), "preconditioner": .string(c.solver.preconditioner.rawValue),
            "halo_depth": .int(model.halo), "total_iterations": .int(Int(r.iterations.reduce(0, +))),
            "loop_seconds": .double(phases["total"]),
            "field_summary_volume": .double(r.volume.last!), "field_summary_mass": .double(r.mass.last!),
            "field_summary_density": .double(r.density.last!), "field_summary_energy": .double(r.energy.last!),
            "field_summary_temperature": .double(r.temperature.last!),
        ]
        extra.merge(solver.exactReduction.attributes) { _, new in new }
        if let (lo, hi) = solver.eigenvalues { extra["eigenvalue_estimates"] = .doubles([lo, hi]) }
        extra.merge(ending.attributes) { _, new in new }
        extra.merge(restart?.attributes ?? [:]) { _, new in new }
        // The series cover the whole run; timings and these, this run's steps.
        let stepsThisRun = r.step.count - restoredSteps
        extra["steps_this_run"] = .int(stepsThisRun)
        extra["iterations_this_run"] = .int(Int(r.iterations.suffix(stepsThisRun).reduce(0, +)))
        if let check {
            extra["test_problem"] = .int(check.problem)
            extra["published_temperature"] = .double(check.published)
            extra["temperature_relative_difference"] = .double(check.relativeDifference)
        }
        try RunReport.writeCommon(output, context: context, setup: setup, phases: phases,
                                  threadSeconds: solver.threadSeconds.values, problem: TealeafConfiguration.name,
                                  effectiveInput: c.effectiveJSON, extra: extra)
    }

    // MARK: Console

    private func printSetup(setup: GridSetup, model: TealeafModel, checkpoints: CheckpointPlan) {
        let c = configuration
        console.info("miniapp \(miniappVersion): TeaLeaf heat conduction, implicit (backward Euler), 5-point operator")
        console.info("  mesh        \(c.grid.xCells) x \(c.grid.yCells) = \(Format.grouped(c.grid.xCells * c.grid.yCells)) cells on "
                     + "[\(Format.general(c.grid.xmin)), \(Format.general(c.grid.xmax))] x "
                     + "[\(Format.general(c.grid.ymin)), \(Format.general(c.grid.ymax))], \(c.states.count) states")
        console.info("  processes   \(setup.processesLine(context: context, threadSource: threadSource))")
        console.info("  blocks      \(setup.blocksLine) cells per rank, halo depth \(model.halo)")
        let steps = c.endStep.map { "\($0) steps" } ?? "until t = \(Format.general(c.endTime))"
        console.info("  time        \(steps) of dt = \(Format.general(c.initialTimestep))")
        var solver = "\(c.solver.method.rawValue), preconditioner \(c.solver.preconditioner.rawValue), "
            + "eps \(Format.general(c.solver.eps)), at most \(c.solver.maxIters) iterations, coefficient \(c.solver.coefficient.rawValue)"
        if c.solver.method == .ppcg { solver += ", \(c.ppcgInnerSteps) inner steps" }
        console.info("  solver      \(solver)")
        console.info("  output      \(c.output.path): "
                     + (c.output.every > 0 ? "temperature every \(c.output.every) steps" : "final temperature")
                     + (c.output.summaryEvery > 0 ? ", field summary every \(c.output.summaryEvery) steps" : ""))
        console.info("  checkpoint  \(checkpoints)")
        console.info("")
    }

}
