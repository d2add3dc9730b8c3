import Foundation
import HDF5
import Kernels
import MPI
import ThreadPool

/// Runs the heat problem: decomposition, set-up report, the simulation, the
/// output file, and the closing summary.
struct HeatRun {
    let configuration: HeatConfiguration
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
                                 checkpoint: c.output.checkpoint, nx: c.grid.nx, ny: c.grid.ny,
                                 dims: c.decomposition.dims, periods: [c.boundaryX == .periodic, c.boundaryY == .periodic])
        let plan = run.plan, setup = run.setup
        let topology = setup.topology, comm = setup.communicator
        try setup.requireBlocks(coveringHalo: HeatSimulation.haloPoints(steps: c.scheme.haloDepth), key: "scheme.halo_depth",
                                unit: "points", context: context)
        let fieldHalo = HeatSimulation.fieldHalo(c.scheme)
        try MemoryCheck.require(arrays: 2, halo: fieldHalo, setup: setup, context: context) { nx in
            context.threads * HeatSimulation.wavefrontBytes(c.scheme, nx: nx)
        }
        let model = HeatModel(c, block: setup.block)

        printSetup(model: model, setup: setup, checkpoints: plan)
        RunReport.warnAboutPlacement(context)

        // Memory first, then the restart, then the output: a failure in
        // either leaves no file behind.
        let simulation = try comm.collectively {
            try HeatSimulation(model: model, context: context, topology: topology)
        }
        simulation.initialize()
        let sweepTimes = try simulation.chooseSweep()
        let schemeTimes = try simulation.chooseScheme(stepsBetweenEvents: c.stepsBetweenEvents(checkpointEvery: plan.every))
        let tileTimes = try simulation.chooseTiles()
        var restored: Checkpoint? = nil
        if let restart {
            restored = try simulation.restore(from: restart.path)
            console.info("  restart     from '\(restart.path)': step \(restart.step), t = \(Format.sci(restored!.time)), "
                         + "written by \(restored!.writtenBy)")
        }
        let output = try run.createOutput(snapshotFields: c.output.fields ? ["u"] : [], restored: restored,
                                          scratch: [simulation.scratchField])
        setupTimer.stop()
        let depthUsed = simulation.stepsPerExchange
        var schemeLine = c.scheme.automatic ? "automatic: " : ""
        schemeLine += depthUsed == 1 && !simulation.temporalBlocking
            ? "one halo exchange per step, overlapped with the interior"
            : "halo \(depthUsed) deep, exchanged every \(depthUsed) steps"
                + (simulation.temporalBlocking ? ", \(depthUsed) steps per pass over memory (temporal blocking, "
                    + wavefrontDescription(simulation, model: model, timed: tileTimes) + ")" : "")
        if let schemeTimes {
            schemeLine += " (timed per step: temporal blocking \(Format.duration(schemeTimes.blocking)), "
                + "single sweep \(Format.duration(schemeTimes.singleSweep)))"
        } else if c.scheme.automatic {
            schemeLine += " (temporal blocking not tried: \(c.scheme.automaticDepth) steps deep pays only on fields "
                + "beyond half the cache, with that many steps between outputs)"
        }
        schemeLine += simulation.streaming ? "; streaming stores" : ""
        schemeLine += simulation.prefetch ? "; software prefetch" : ""
        schemeLine += simulation.rowBands ? "; rows in bands of four" : "; one row at a time"
        if let sweepTimes {
            // "timed per sweep: streaming, bands 12.0 ms; streaming, rows 14.1 ms; ..."
            schemeLine += " (timed per sweep: " + sweepTimes.map { way, seconds in
                (way.streaming ? "streaming" : "ordinary") + (way.bands ? ", bands " : ", rows ") + Format.duration(seconds)
            }.joined(separator: "; ") + ")"
        }
        console.info("  scheme      \(schemeLine)")

        let reporter = ProgressReporter(console: console, steps: c.steps, hasReference: model.reference != nil,
                                        startStep: restart?.step ?? 0)
        simulation.progress = { [unowned simulation] step, elapsed in
            reporter.report(step: step, elapsed: elapsed, diagnostics: simulation.diagnostics)
        }
        let outcome = run.loop(simulation, output: output)
        let ending = outcome.ending

        var phases = simulation.timer
        phases["setup"] = setupTimer.seconds[0]
        let stepsRun = (ending.lastStep ?? c.steps) - (restart?.step ?? 0)
        let rates = try LoopRates(phases: phases, steps: stepsRun, points: Double(c.grid.nx) * Double(c.grid.ny), comm: comm)
        let xdmf = c.output.fields
            ? XDMFDescription(h5Path: c.output.path, nx: c.grid.nx, ny: c.grid.ny, origin: model.origin,
                              spacing: (model.hx, model.hy))
            : nil
        let (sidecar, ioSeconds) = run.finish(output, xdmf: xdmf) { [phases] in
            try writeResults(output, simulation: simulation, phases: phases, setup: setup, model: model, ending: ending,
                             schemeTimes: schemeTimes, rates: rates)
        }
        phases["io"] += ioSeconds
        let summary = try RunSummary(problem: HeatConfiguration.name, phases: phases, comm: comm, threads: context.threads, metrics: [
            "steps": Double(stepsRun), "nx": Double(c.grid.nx), "ny": Double(c.grid.ny),
            "loop_seconds": rates.loopSeconds, "stepping_seconds": rates.steppingSeconds,
            "mlups": rates.mlups, "mlups_stepping": rates.mlupsStepping,
            "tile_columns": Double(simulation.tileColumns), "row_bands": simulation.rowBands ? 1 : 0,
            "halo_depth": Double(simulation.stepsPerExchange), "temporal_blocking": simulation.temporalBlocking ? 1 : 0,
        ])
        try run.end(outcome, summary: summary)
        printSummary(summary, simulation: simulation, sidecar: sidecar)
        return summary
    }

    // MARK: Output

    private func writeResults(_ output: ResultFile, simulation: HeatSimulation, phases: PhaseTimer,
                              setup: GridSetup, model: HeatModel, ending: RunEnding,
                              schemeTimes: HeatSimulation.SchemeTimes?, rates: LoopRates) throws {
        let c = configuration
        let d = simulation.diagnostics
        try output.appendSeries("diagnostics/step", values: d.step, at: 0)
        for (name, values) in d.doubleSeries { try output.appendSeries("diagnostics/\(name)", values: values, at: 0) }

        var extra = ending.attributes.merging(restart?.attributes ?? [:]) { _, new in new }
        extra["steps_this_run"] = .int(rates.steps)
        extra.merge(simulation.exactReduction.attributes) { _, new in new }
        try RunReport.writeCommon(output, context: context, setup: setup, phases: phases,
                                  threadSeconds: simulation.threadSeconds.values, problem: HeatConfiguration.name,
                                  effectiveInput: c.effectiveJSON, extra: extra.merging([
            "hx": .double(model.hx), "hy": .double(model.hy),
            "dt": .double(model.dt), "steps": .int(c.steps),
            "loop_seconds": .double(rates.loopSeconds), "mlups": .double(rates.mlups),
            "stepping_seconds": .double(rates.steppingSeconds), "mlups_stepping": .double(rates.mlupsStepping),
            "halo_depth": .int(simulation.stepsPerExchange), "temporal_blocking": .int(simulation.temporalBlocking ? 1 : 0),
            "scheme_automatic": .int(c.scheme.automatic ? 1 : 0),
            "scheme_timed_single_sweep_seconds": .double(schemeTimes?.singleSweep ?? .nan),
            "scheme_timed_blocking_seconds": .double(schemeTimes?.blocking ?? .nan),
            "streaming_stores": .int(simulation.streaming ? 1 : 0), "software_prefetch": .int(simulation.prefetch ? 1 : 0),
            "tile_columns": .int(simulation.tileColumns), "row_bands": .int(simulation.rowBands ? 1 : 0),
        ]) { _, new in new })
    }

    /// "column tiles of 1024: 770 KiB of rows kept in cache per thread; timed: ..."
    private func wavefrontDescription(_ simulation: HeatSimulation, model: HeatModel,
                                      timed: (whole: Double, tiled: Double)?) -> String {
        let m = simulation.stepsPerExchange, tile = simulation.tileColumns
        let columns = tile > 0 ? tile : model.block.nx
        var text = (tile > 0 ? "column tiles of \(columns): " : "")
            + "\(Format.bytes(WavefrontBuffers.bytes(nx: columns, halo: HeatSimulation.haloPoints(steps: m), maxSteps: m))) of rows kept in cache per thread"
        if let timed {
            text += "; timed: \(Format.duration(timed.tiled)) per pass over slabs with tiles, "
                + "\(Format.duration(timed.whole)) with whole rows"
        }
        return text
    }

    /// The loop's and the stepping's seconds on the slowest rank, and the
    /// rates of the updates they made: the figures of the results file and
    /// of the summary alike (collective).
    struct LoopRates {
        let steps: Int
        let loopSeconds: Double, steppingSeconds: Double
        let updates: Double

        init(phases: PhaseTimer, steps: Int, points: Double, comm: Communicator) throws {
            self.steps = steps
            loopSeconds = try comm.allreduce(phases["total"], op: .max)
            steppingSeconds = try comm.allreduce(HeatRun.steppingSeconds(phases), op: .max)
            updates = points * Double(steps)
        }

        var mlups: Double { loopSeconds > 0 ? updates / loopSeconds / 1e6 : 0 }
        var mlupsStepping: Double { steppingSeconds > 0 ? updates / steppingSeconds / 1e6 : 0 }
    }

    /// Time in the phases of a step proper (no reductions, no output).
    static func steppingSeconds(_ phases: PhaseTimer) -> Double {
        ["halo_post", "interior", "halo_wait", "boundary"].map { phases[$0] }.reduce(0, +)
    }

    // MARK: Console

    private func printSetup(model: HeatModel, setup: GridSetup, checkpoints: CheckpointPlan) {
        let c = configuration
        console.info("miniapp \(miniappVersion): heat equation, explicit FTCS, 5-point stencil")
        console.info("  grid        \(c.grid.nx) x \(c.grid.ny) = \(Format.grouped(c.grid.nx * c.grid.ny)) points on "
                     + "[0, \(Format.general(c.grid.lx))] x [0, \(Format.general(c.grid.ly))], "
                     + "h = \(Format.sci(model.hx)) x \(Format.sci(model.hy))")
        let boundary = [("x", c.boundaryX), ("y", c.boundaryY)].map { "\($0.0) \($0.1.rawValue)" }.joined(separator: ", ")
        let hasDirichlet = c.boundaryX == .dirichlet || c.boundaryY == .dirichlet
        console.info("  boundaries  \(boundary)\(hasDirichlet ? " (u = \(Format.general(c.boundaryValue)))" : "")")
        console.info("  processes   \(setup.processesLine(context: context, threadSource: threadSource))")
        let sizes = setup.decomposition.blockSizeRange
        let perRank = 2 * Field.bytes(nx: sizes.x.upperBound, ny: sizes.y.upperBound, halo: HeatSimulation.fieldHalo(c.scheme))
        console.info("  blocks      \(setup.blocksLine) points per rank, \(Format.bytes(perRank)) of fields per rank")
        let dtHow = c.requestedDt == nil ? "automatic: \(Format.general(c.safety)) x h_min^2 / (4 alpha)" : "given"
        console.info("  time        \(c.steps) steps of dt = \(Format.sci(model.dt)) (\(dtHow)), "
                     + "t_end = \(Format.sci(Double(c.steps) * model.dt)), alpha = \(Format.general(c.alpha))")
        console.info("  initial     \(describeInitial())"
                     + (model.reference.map { "; exact \($0.name) solution known" } ?? ""))
        let every = !c.output.fields ? "no field snapshots" : c.output.every > 0 ? "snapshots every \(c.output.every) steps" : "final snapshot"
        let diag = c.output.diagnosticsEvery > 0 ? "diagnostics every \(c.output.diagnosticsEvery) steps" : "diagnostics at start and end"
        console.info("  output      \(c.output.path): \(every), \(diag)")
        console.info("  checkpoint  \(checkpoints)")
    }

    private func describeInitial() -> String {
        switch configuration.initial {
        case .sine(let modes, let amplitude): "sine mode (\(modes[0]), \(modes[1])), amplitude \(Format.general(amplitude))"
        case .gaussian(let center, let width, let amplitude):
            "gaussian at (\(Format.general(center[0])), \(Format.general(center[1]))), width \(Format.general(width)), "
                + "amplitude \(Format.general(amplitude))"
        case .constant(let value): "constant \(Format.general(value))"
        }
    }

    private func printSummary(_ summary: RunSummary, simulation: HeatSimulation, sidecar: String?) {
        let c = configuration
        let m = summary.metrics
        let loop = m["loop_seconds"]!, stepping = m["stepping_seconds"]!
        console.info("")
        let steps = Int(m["steps"]!)
        console.info("Done: \(steps) steps in \(Format.duration(loop)) (\(Format.duration(loop / Double(max(1, steps)))) per step), "
                     + "\(Format.fixed(m["mlups"]!, 1)) MLUP/s (\(Format.fixed(m["mlups"]! / Double(summary.ranks * summary.threads), 1)) per thread)")
        console.info("  stepping alone (halo, interior, boundary): \(Format.duration(stepping)), "
                     + "\(Format.fixed(m["mlups_stepping"]!, 1)) MLUP/s")
        summary.printPhases(console)
        if let last = simulation.diagnostics.total.last {
            console.info("  final total heat \(Format.sci(last, 12))"
                         + (simulation.model.reference != nil ? ", L2 error \(Format.sci(simulation.diagnostics.l2Error.last!, 3))" : ""))
        }
        console.info("  output      \(c.output.path)" + (sidecar.map { " (ParaView: \($0))" } ?? ""))
    }
}

/// Progress lines on rank 0: a header, then one line per diagnostics step,
/// at most one a second unless --verbose (the first and last always).
final class ProgressReporter {
    private let console: Console
    private let steps: Int
    private let hasReference: Bool
    private var lastPrinted = -Double.infinity
    private let startStep: Int

    init(console: Console, steps: Int, hasReference: Bool, startStep: Int = 0) {
        self.console = console
        self.steps = steps
        self.hasReference = hasReference
        self.startStep = startStep
    }

    func report(step: Int, elapsed: Double, diagnostics d: HeatDiagnostics) {
        guard console.isRoot, console.verbosity >= .normal else { return }
        let verbose = console.verbosity >= .verbose
        let first = lastPrinted == -.infinity
        guard first || step == steps || verbose || elapsed - lastPrinted >= 1 else { return }
        if first {
            console.info("")
            console.info(["step", "time", "total heat", "min", "max", hasReference ? "L2 error" : "", "ETA"]
                .enumerated().map { Format.padLeft($0.element, [9, 12, 20, 12, 12, 11, 9][$0.offset]) }.joined())
        }
        lastPrinted = elapsed
        // A restarted run starts where its last record may lie behind.
        guard let k = d.step.lastIndex(of: Int64(step)) else { return }
        let eta = elapsed > 0 ? elapsed / Double(step - startStep) * Double(steps - step) : .nan
        let columns = [String(step), Format.sci(d.time[k], 4), Format.sci(d.total[k], 12), Format.sci(d.minimum[k], 4),
                       Format.sci(d.maximum[k], 4), hasReference ? Format.sci(d.l2Error[k], 2) : "",
                       first || step == steps || !eta.isFinite ? "" : Format.duration(eta)]
        console.info(columns.enumerated().map { Format.padLeft($0.element, [9, 12, 20, 12, 12, 11, 9][$0.offset]) }.joined())
    }
}
