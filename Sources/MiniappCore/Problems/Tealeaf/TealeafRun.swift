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
        let plan = CheckpointPlan(c.output.checkpoint, outputPath: c.output.path, input: c.effectiveJSON)
        let checkpointPath = plan.path
        let setup = try GridSetup(context: context, nx: c.grid.xCells, ny: c.grid.yCells,
                                  requestedDims: c.decomposition.dims, periods: [false, false], outputPath: c.output.path,
                                  checkpointPath: restart == nil && plan.every > 0 ? checkpointPath : nil)
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
        var records = TealeafRecords()
        var restored: Checkpoint? = nil
        if let restart {
            let checkpoint = try solver.restore(from: restart.path, communicator: comm)
            records = try comm.collectively { try TealeafRecords(series: checkpoint.series, path: restart.path) }
            console.info("restart from '\(restart.path)': step \(checkpoint.step), time \(Format.general(checkpoint.time, 8)), "
                         + "written by \(checkpoint.writtenBy)")
            restored = checkpoint
        }
        let output = try comm.collectively {
            try ResultFile(path: c.output.path, communicator: comm, nx: c.grid.xCells, ny: c.grid.yCells,
                           snapshotFields: ["u"], groups: ["summary"])
        }
        do {
            try output.writeStaticField("fields/density", solver.density, block: setup.block)
            if let restart, let restored,
               let warning = try output.carryOverSnapshots(from: restart.previousOutput, steps: restored.snapshotSteps,
                                                           times: restored.snapshotTimes, scratch: [solver.r], block: setup.block) {
                console.warning(warning)
            }
        } catch {
            JobAbort.abort(error)
        }
        setupTimer.stop()

        let ending: RunEnding
        var lastCheckpoint = restart?.path == checkpointPath ? restart?.step : nil
        let began = wallSeconds()
        do {
            ending = try timeLoop(solver: solver, output: output, model: model, communicator: comm, records: &records,
                                  plan: plan, lastCheckpoint: &lastCheckpoint)
        } catch {
            JobAbort.abort(error)
        }
        solver.timer.stop()
        var phases = solver.timer
        phases["total"] = wallSeconds() - began
        phases["setup"] += setupTimer.seconds[0]

        let restoredSteps = restored?.series["diagnostics/step"]?.count ?? 0
        let steps = records.step.count - restoredSteps
        let unconverged = records.converged.filter { $0 == 0 }.count
        if unconverged > 0 {
            console.warning("\(unconverged) of \(records.step.count) solves did not reach tl_eps \(c.solver.eps) within "
                            + "\(c.solver.maxIters) iterations")
        }
        let check = ending == .completed ? referenceCheck(temperature: records.temperature.last!) : nil
        let sidecar: String?
        do {
            let ioStart = wallSeconds()
            try writeResults(output, records: records, phases: phases, setup: setup, model: model, solver: solver,
                             check: check, ending: ending, restoredSteps: restoredSteps)
            sidecar = try output.finish(xdmf: XDMFDescription(
                h5Path: c.output.path, nx: c.grid.xCells, ny: c.grid.yCells,
                origin: (c.grid.xmin + model.dx / 2, c.grid.ymin + model.dy / 2), spacing: (model.dx, model.dy),
                snapshotFields: ["u"], staticFields: ["density"]))
            phases["io"] += wallSeconds() - ioStart
        } catch {
            JobAbort.abort(error)
        }
        let totalIterations = records.iterations.suffix(steps).reduce(0, +)
        let summary = try RunSummary(problem: "tealeaf", phases: phases, comm: comm, threads: context.threads, metrics: [
            "steps": Double(steps), "total_iterations": Double(totalIterations),
            "loop_seconds": try comm.allreduce(phases["total"], op: .max),
            "temperature": records.temperature.last ?? .nan,
        ])
        if var failure = ending.failure(checkpointPath: checkpointPath, lastCheckpoint: lastCheckpoint,
                                        outputPath: c.output.path) {
            failure.summary = summary
            throw failure
        }
        console.info("")
        console.info("Done: \(steps) steps, \(totalIterations) iterations in \(Format.duration(phases["total"])) "
                     + "(\(Format.duration(phases["total"] / Double(max(1, Int(totalIterations))))) per iteration)")
        if let check { console.info("  " + check.line) }
        summary.printPhases(console)
        console.info("  output      \(c.output.path)" + (sidecar.map { " (ParaView: \($0))" } ?? ""))
        return summary
    }

    /// The time loop, from step 0 or the restart's step: one implicit solve
    /// per step, records, summaries, snapshots and checkpoints at their
    /// steps; between steps, the ranks agree on stop signals.
    private func timeLoop(solver: TealeafSolver, output: ResultFile, model: TealeafModel, communicator: Communicator,
                          records: inout TealeafRecords, plan: CheckpointPlan, lastCheckpoint: inout Int?) throws -> RunEnding {
        let c = configuration
        var step = restart?.step ?? 0, time = restart?.time ?? 0
        var lastFinite = step
        var lastPrinted = -Double.infinity
        let began = wallSeconds()
        if restart == nil {
            solver.prepareStep()   // u = energy * density: the state at step 0
            let initial = try solver.fieldSummary()
            records.add(initial, step: 0, time: 0)
            printSummary(initial, step: 0, time: 0)
            if c.output.every > 0 { try writeSnapshot(output, solver: solver, model: model, step: 0, time: 0) }
        }
        var poll = StopPoll(startStep: step)
        // The time loop begins: from here a wait without end means a rank is lost.
        PeerWatchdog.arm()
        FaultInjection.currentStep = step
        while true {
            if FaultInjection.fires(.nan) { solver.energy.origin[0] = .nan }   // into the state the next solve starts from
            step += 1
            solver.prepareStep()
            let solveBegan = wallSeconds()
            let result = try solver.solve(firstStep: step == 1)
            let solveSeconds = wallSeconds() - solveBegan
            solver.finishStep()
            time += c.initialTimestep
            FaultInjection.currentStep = step
            records.add(result, step: step, time: time, trueResidual: try solver.trueResidualNorm(), seconds: solveSeconds)
            // The residual is reduced over all ranks: every rank sees the same NaN.
            guard result.residual.isFinite else { return .diverged(step: step, lastFinite: lastFinite) }

            let last = time + 1e-16 > c.endTime || step >= (c.endStep ?? Int.max)
            let elapsed = wallSeconds() - began
            if console.verbosity >= .verbose || last || step == (restart?.step ?? 0) + 1 || elapsed - lastPrinted >= 1 {
                lastPrinted = elapsed
                console.info("step \(Format.padLeft(String(step), 6))  time \(Format.sci(time, 4))  "
                             + "\(c.solver.method.rawValue) \(Format.padLeft(String(result.iterations), 5)) its"
                             + (result.innerIterations > 0 ? " (+\(result.innerIterations) inner)" : "")
                             + "  residual \(Format.sci(result.residual, 2))"
                             + (result.converged ? "" : "  NOT CONVERGED in \(c.solver.maxIters) iterations"))
            }
            if (c.output.summaryEvery > 0 && step % c.output.summaryEvery == 0) || last {
                let summary = try solver.fieldSummary()
                records.add(summary, step: step, time: time)
                printSummary(summary, step: step, time: time)
                guard summary.temperature.isFinite && summary.internalEnergy.isFinite else {
                    return .diverged(step: step, lastFinite: lastFinite)
                }
            }
            lastFinite = step
            if last || (c.output.every > 0 && step % c.output.every == 0) {
                try writeSnapshot(output, solver: solver, model: model, step: step, time: time)
            }
            let signal = last ? nil : try poll.check(step: step, communicator: communicator)
            if let signal { console.notice(plan.stopNotice(signal: signal, step: step, previous: lastCheckpoint)) }
            if plan.isDue(after: step) || signal != nil {
                solver.timer.start(TealeafSolver.Phase.checkpoint.rawValue)
                var checkpoint = Checkpoint(problem: "tealeaf", step: step, time: time, nx: c.grid.xCells, ny: c.grid.yCells,
                                            inputJSON: plan.input, outputPath: plan.outputPath,
                                            stateFields: solver.stateFields.map(\.name))
                checkpoint.series = records.series
                checkpoint.snapshotSteps = output.snapshots.map { Int64($0.step) }
                checkpoint.snapshotTimes = output.snapshots.map(\.time)
                checkpoint.scalars = solver.stateScalars
                do {
                    try CheckpointFile.write(checkpoint, fields: solver.stateFields, block: model.block, path: plan.path,
                                             context: context, communicator: communicator)
                } catch is CheckpointFile.NonFiniteState {
                    return .diverged(step: step, lastFinite: lastFinite)
                }
                lastCheckpoint = step
            }
            if last { return .completed }
            if let signal { return .stopped(signal: signal, step: step) }
        }
    }

    private func writeSnapshot(_ output: ResultFile, solver: TealeafSolver, model: TealeafModel, step: Int, time: Double) throws {
        solver.timer.start(TealeafSolver.Phase.io.rawValue)
        try output.writeSnapshot(fields: [("u", solver.u)], block: model.block, step: step, time: time)
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
                                  threadSeconds: solver.threadSeconds.values, problem: "tealeaf",
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

    private func printSummary(_ s: TealeafSolver.Summary, step: Int, time: Double) {
        console.info("  field summary, step \(step), time \(Format.general(time, 8)): volume \(Format.sci(s.volume, 10)), "
                     + "mass \(Format.sci(s.mass, 10)), energy \(Format.sci(s.internalEnergy, 10)), "
                     + "U \(String(format: "%.17g", s.temperature))")
    }
}
