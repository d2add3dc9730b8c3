import Foundation
import HDF5
import MPI

/// Runs the TeaLeaf problem: set-up, the time loop (one implicit solve per
/// step), field summaries, the published-value check, and the output.
struct TealeafRun {
    let configuration: TealeafConfiguration
    let context: RunContext
    let threadSource: String

    private var console: Console { context.console }

    /// Per-step solver record (/diagnostics) and field summaries (/summary).
    struct Records {
        var step: [Int64] = [], time: [Double] = [], iterations: [Int64] = [], innerIterations: [Int64] = []
        var residual: [Double] = [], trueResidual: [Double] = [], converged: [Int64] = [], solveSeconds: [Double] = []
        var summaryStep: [Int64] = [], summaryTime: [Double] = []
        var volume: [Double] = [], mass: [Double] = [], density: [Double] = [], energy: [Double] = [], temperature: [Double] = []

        mutating func add(_ s: TealeafSolver.Summary, step: Int, time: Double) {
            summaryStep.append(Int64(step)); summaryTime.append(time)
            volume.append(s.volume); mass.append(s.mass); density.append(s.density)
            energy.append(s.internalEnergy); temperature.append(s.temperature)
        }
    }

    func execute() throws -> RunSummary {
        var setupTimer = PhaseTimer(phases: ["setup"])
        setupTimer.start(0)
        let c = configuration
        let setup = try GridSetup(context: context, nx: c.grid.xCells, ny: c.grid.yCells,
                                  requestedDims: c.decomposition.dims, periods: [false, false], outputPath: c.output.path)
        let comm = setup.communicator
        let halo = c.solver.haloDepth
        try comm.collectively {
            let smallest = min(setup.decomposition.blockSizeRange.x.lowerBound, setup.decomposition.blockSizeRange.y.lowerBound)
            if smallest < halo {
                throw MiniappFailure(.dataError, "\(context.options.inputPath): halo_depth \(halo) needs at least \(halo) "
                                     + "cells per rank along each axis, but some blocks here are \(setup.blocksLine) cells")
            }
        }
        let model = TealeafModel(c, block: setup.block, halo: halo, coords: setup.topology.coords, dims: setup.topology.dims)
        printSetup(setup: setup, model: model)
        RunReport.warnAboutAffinity(context)

        let output = try comm.collectively {
            try ResultFile(path: c.output.path, communicator: comm, nx: c.grid.xCells, ny: c.grid.yCells,
                           snapshotFields: ["u"], groups: ["summary"])
        }
        var records = Records()
        let solver: TealeafSolver
        do {
            solver = try TealeafSolver(model: model, context: context, topology: setup.topology)
            solver.initialize()
            solver.prepareStep()   // u = energy * density: the state at step 0
            try output.writeStaticField("density", origin: solver.density.origin, halo: halo, stride: solver.u.stride,
                                        storedRows: solver.u.rows, offset: setup.block.offset, size: setup.block.size)
        } catch {
            Miniapp.abort(error, rank: comm.rank, removing: output.temporaryPath)
        }
        setupTimer.stop()

        var step = 0, time = 0.0
        var lastPrinted = -Double.infinity
        let began = wallSeconds()
        do {
            let initial = try solver.fieldSummary()
            records.add(initial, step: 0, time: 0)
            printSummary(initial, step: 0, time: 0)
            if c.output.every > 0 { try writeSnapshot(output, solver: solver, model: model, step: 0, time: 0) }
            while true {
                step += 1
                solver.prepareStep()
                let solveBegan = wallSeconds()
                let result = try solver.solve(firstStep: step == 1)
                let solveSeconds = wallSeconds() - solveBegan
                solver.finishStep()
                time += c.initialTimestep
                let trueNorm = try solver.trueResidualNorm()
                records.step.append(Int64(step)); records.time.append(time)
                records.iterations.append(Int64(result.iterations)); records.innerIterations.append(Int64(result.innerIterations))
                records.residual.append(result.residual)
                records.trueResidual.append(result.initialNorm > 0 ? trueNorm / result.initialNorm : 0)
                records.converged.append(result.converged ? 1 : 0)
                records.solveSeconds.append(solveSeconds)

                let last = time + 1e-16 > c.endTime || step >= (c.endStep ?? Int.max)
                let elapsed = wallSeconds() - began
                if console.verbosity >= .verbose || last || step == 1 || elapsed - lastPrinted >= 1 {
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
                }
                if last || (c.output.every > 0 && step % c.output.every == 0) {
                    try writeSnapshot(output, solver: solver, model: model, step: step, time: time)
                }
                if last { break }
            }
        } catch {
            Miniapp.abort(error, rank: comm.rank, removing: output.temporaryPath)
        }
        solver.timer.stop()
        var phases = solver.timer
        phases["total"] = wallSeconds() - began
        phases["setup"] += setupTimer.seconds[0]

        let unconverged = records.converged.filter { $0 == 0 }.count
        if unconverged > 0 {
            console.warning("\(unconverged) of \(step) solves did not reach tl_eps \(c.solver.eps) within \(c.solver.maxIters) iterations")
        }
        let check = referenceCheck(temperature: records.temperature.last!)
        let sidecar: String?
        do {
            let ioStart = wallSeconds()
            try writeResults(output, records: records, phases: phases, setup: setup, model: model, solver: solver, check: check)
            sidecar = try output.finish(xdmf: XDMFDescription(
                h5Path: c.output.path, nx: c.grid.xCells, ny: c.grid.yCells,
                origin: (c.grid.xmin + model.dx / 2, c.grid.ymin + model.dy / 2), spacing: (model.dx, model.dy),
                snapshotFields: ["u"], staticFields: ["density"]))
            phases["io"] += wallSeconds() - ioStart
        } catch {
            Miniapp.abort(error, rank: comm.rank, removing: output.temporaryPath)
        }

        let totalIterations = records.iterations.reduce(0, +)
        console.info("")
        console.info("Done: \(step) steps, \(totalIterations) iterations in \(Format.duration(phases["total"])) "
                     + "(\(Format.duration(phases["total"] / Double(max(1, Int(totalIterations))))) per iteration)")
        if let check { console.info("  " + check.line) }
        let summary = try RunSummary(problem: "tealeaf", phases: phases, comm: comm, threads: context.threads, metrics: [
            "steps": Double(step), "total_iterations": Double(totalIterations),
            "loop_seconds": try comm.allreduce(phases["total"], op: .max),
            "temperature": records.temperature.last!,
        ])
        summary.printPhases(console)
        console.info("  output      \(c.output.path)" + (sidecar.map { " (ParaView: \($0))" } ?? ""))
        return summary
    }

    private func writeSnapshot(_ output: ResultFile, solver: TealeafSolver, model: TealeafModel, step: Int, time: Double) throws {
        solver.timer.start(TealeafSolver.Phase.io.rawValue)
        try output.writeSnapshot(fields: [("u", UnsafePointer(solver.u.origin))], halo: model.halo, stride: solver.u.stride,
                                 storedRows: solver.u.rows, offset: model.block.offset, size: model.block.size,
                                 step: step, time: time)
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

    private func writeResults(_ output: ResultFile, records r: Records, phases: PhaseTimer, setup: GridSetup,
                              model: TealeafModel, solver: TealeafSolver, check: ReferenceCheck?) throws {
        try output.appendSeries("diagnostics/step", values: r.step, at: 0)
        try output.appendSeries("diagnostics/iterations", values: r.iterations, at: 0)
        try output.appendSeries("diagnostics/inner_iterations", values: r.innerIterations, at: 0)
        try output.appendSeries("diagnostics/converged", values: r.converged, at: 0)
        for (name, values) in [("time", r.time), ("residual", r.residual), ("true_residual", r.trueResidual),
                               ("solve_seconds", r.solveSeconds)] {
            try output.appendSeries("diagnostics/\(name)", values: values, at: 0)
        }
        try output.appendSeries("summary/step", values: r.summaryStep, at: 0)
        for (name, values) in [("time", r.summaryTime), ("volume", r.volume), ("mass", r.mass), ("density", r.density),
                               ("energy", r.energy), ("temperature", r.temperature)] {
            try output.appendSeries("summary/\(name)", values: values, at: 0)
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
        if let (lo, hi) = solver.eigenvalues { extra["eigenvalue_estimates"] = .doubles([lo, hi]) }
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

    private func printSetup(setup: GridSetup, model: TealeafModel) {
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
        console.info("")
    }

    private func printSummary(_ s: TealeafSolver.Summary, step: Int, time: Double) {
        console.info("  field summary, step \(step), time \(Format.general(time, 8)): volume \(Format.sci(s.volume, 10)), "
                     + "mass \(Format.sci(s.mass, 10)), energy \(Format.sci(s.internalEnergy, 10)), "
                     + "U \(String(format: "%.17g", s.temperature))")
    }
}
