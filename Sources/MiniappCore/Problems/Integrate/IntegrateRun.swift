import Foundation
import HDF5
import Kernels
import MPI
import ThreadPool

/// Runs the reduction benchmark: every integrand `repeat` times, timing the
/// local (threaded) computation apart from the reduction (merging the
/// threads' exact sums, then MPI_Allreduce).
struct IntegrateRun {
    let configuration: IntegrateConfiguration
    let context: RunContext
    let threadSource: String

    private var console: Console { context.console }

    struct Outcome {
        let integrand: Integrand
        let value: Double
        let computeSeconds: [Double]
        let reductionSeconds: [Double]
        var error: Double { abs(value - integrand.exact) }
    }

    func execute() throws -> RunSummary {
        var timer = PhaseTimer(phases: ["setup", "compute", "reduction", "io", "total"])
        timer.start(0)
        let c = configuration
        let setup = try GridSetup(context: context, nx: c.n, ny: c.n, requestedDims: c.decomposition.dims,
                                  periods: [false, false], outputPath: c.path)
        let comm = setup.communicator
        let h = Double.pi / Double(c.n)
        console.info("miniapp \(miniappVersion): midpoint-rule integration over [0, pi]^2, exact reductions")
        console.info("  grid        \(c.n) x \(c.n) = \(Format.grouped(c.n * c.n)) points, h = \(Format.sci(h))")
        console.info("  processes   \(setup.processesLine(context: context, threadSource: threadSource))")
        console.info("  blocks      \(setup.blocksLine) points per rank; \(c.repeats) integration\(c.repeats == 1 ? "" : "s") per integrand")
        console.info("")
        RunReport.warnAboutPlacement(context)
        let output = try comm.collectively { try ResultFile(path: c.path, communicator: comm, nx: c.n, ny: c.n, snapshotFields: []) }

        let block = setup.block
        let rows = block.offset[1] ..< block.offset[1] + block.ny
        let columns = block.offset[0] ..< block.offset[0] + block.nx
        let threadRows = BlockPartition(count: rows.count, parts: context.threads)
        let partials = PerThread(count: context.threads, initial: ExactSum())
        let exactReduction = try ExactReduction(comm)
        let threadSeconds = PerThread(count: context.threads, initial: 0.0)
        var outcomes: [Outcome] = []
        let began = wallSeconds()
        var poll = StopPoll(startStep: 0)
        // The time loop begins: from here a wait without end means a rank is lost.
        PeerWatchdog.arm()
        var integrations = 0
        var stopSignal: Int32? = nil
        do {
            integrands: for f in c.integrands {
                var value = 0.0, compute: [Double] = [], reduction: [Double] = []
                for _ in 0..<c.repeats {
                    timer.start(1)
                    let t0 = wallSeconds()
                    context.pool.run { t in
                        let start = wallSeconds()
                        let mine = threadRows.range(of: t)
                        var sum = ExactSum()
                        integrateMidpoints(f, rows: (rows.lowerBound + mine.lowerBound) ..< (rows.lowerBound + mine.upperBound),
                                           columns: columns, h: h, into: &sum)
                        partials[t] = sum
                        threadSeconds[t] += wallSeconds() - start
                    }
                    timer.start(2)
                    let t1 = wallSeconds()
                    var local = ExactSum()
                    for t in 0..<context.threads { local.add(partials[t]) }
                    value = try exactReduction.reduce(sums: [local]).sums[0] * (h * h)
                    let t2 = wallSeconds()
                    compute.append(t1 - t0)
                    reduction.append(t2 - t1)
                    integrations += 1
                    // No state worth a checkpoint: a stop signal just ends the run.
                    if let signal = try poll.check(step: integrations, communicator: comm) {
                        stopSignal = signal
                        break integrands
                    }
                }
                let outcome = Outcome(integrand: f, value: value, computeSeconds: compute, reductionSeconds: reduction)
                outcomes.append(outcome)
                console.info("  \(Format.padRight(f.rawValue, 14)) = \(String(format: "%.17g", value))  (exact \(Format.general(f.exact)), "
                             + "error \(Format.sci(outcome.error, 3)))  compute \(Format.duration(median(compute))), "
                             + "reduction \(Format.duration(median(reduction))) (medians over \(c.repeats))")
            }
        } catch {
            JobAbort.abort(error)
        }
        timer.stop()
        timer["total"] = wallSeconds() - began
        if let stopSignal {
            output.abandon()
            throw MiniappFailure(.stopped, "stopped by \(StopSignals.name(stopSignal)); the integration benchmark has "
                                 + "no checkpoint: nothing was written, run it again")
        }
        do {
            let ioStart = wallSeconds()
            try output.writeStrings("results/integrand", values: outcomes.map(\.integrand.rawValue))
            try output.appendSeries("results/value", values: outcomes.map(\.value), at: 0)
            try output.appendSeries("results/exact", values: outcomes.map(\.integrand.exact), at: 0)
            try output.appendSeries("results/error", values: outcomes.map(\.error), at: 0)
            try output.appendSeries("results/compute_seconds", values: outcomes.map { median($0.computeSeconds) }, at: 0)
            try output.appendSeries("results/reduction_seconds", values: outcomes.map { median($0.reductionSeconds) }, at: 0)
            try RunReport.writeCommon(output, context: context, setup: setup, phases: timer,
                                      threadSeconds: threadSeconds.values, problem: IntegrateConfiguration.name,
                                      effectiveInput: c.effectiveJSON, extra: ["h": .double(h), "repeat": .int(c.repeats)])
            try output.finish(xdmf: nil)
            timer["io"] += wallSeconds() - ioStart
        } catch {
            JobAbort.abort(error)
        }
        console.info("")
        var metrics: [String: Double] = ["loop_seconds": try comm.allreduce(timer["total"], op: .max)]
        for outcome in outcomes {
            metrics["value \(outcome.integrand.rawValue)"] = outcome.value
            metrics["compute_seconds \(outcome.integrand.rawValue)"] = median(outcome.computeSeconds)
            metrics["reduction_seconds \(outcome.integrand.rawValue)"] = median(outcome.reductionSeconds)
        }
        let summary = try RunSummary(problem: IntegrateConfiguration.name, phases: timer, comm: comm, threads: context.threads, metrics: metrics)
        summary.printPhases(console)
        console.info("  output      \(c.path)")
        return summary
    }

    private func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
    }
}
