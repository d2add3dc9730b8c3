import Foundation
import MPI

/// The time loop every time-stepping problem runs in: from step 0, or a
/// checkpoint's step, to the last step. Steps go in blocks of up to the
/// problem's reach, cut short where diagnostics, a snapshot or a checkpoint
/// fall. Between blocks the ranks agree on stop signals; a stop writes a
/// checkpoint (unless one was just written).
struct TimeLoop {
    let output: ResultFile
    let checkpoints: CheckpointPlan
    let context: RunContext
    /// Set when the run continues from a checkpoint.
    let restart: RestartPlan?

    /// How the loop ended, and the step of the checkpoint now at the
    /// checkpoint path, where known.
    struct Outcome {
        let ending: RunEnding
        let lastCheckpoint: Int?
    }

    func run(_ problem: some TimeSteppingProblem) throws -> Outcome {
        var step = restart?.step ?? 0, time = restart?.time ?? 0
        var lastCheckpoint = restart?.path == checkpoints.path ? restart?.step : nil
        let began = wallSeconds()
        defer {
            problem.timer.stop()
            problem.timer["total"] = wallSeconds() - began
        }
        FaultInjection.currentStep = step
        try problem.begin(at: step, fresh: restart == nil)
        if restart == nil, let every = problem.snapshotEvery, every > 0 || problem.isLast(step: step, time: time) {
            try writeSnapshot(problem, step: step, time: time)
        }
        var lastFinite = step
        func diverged() -> Outcome {
            Outcome(ending: .diverged(step: step, lastFinite: lastFinite), lastCheckpoint: lastCheckpoint)
        }
        var poll = StopPoll(startStep: step)
        // The time loop begins: from here a wait without end means a rank is lost.
        PeerWatchdog.arm()
        while !problem.isLast(step: step, time: time) {
            var next = problem.reach(from: step)
            for period in [problem.diagnosticsEvery, problem.snapshotEvery ?? 0, checkpoints.every] where period > 0 {
                next = min(next, (step / period + 1) * period)
            }
            let advanced = try problem.advance(from: step, to: next, time: time)
            (step, time) = (next, advanced.time)
            FaultInjection.currentStep = step
            guard advanced.finite != false else { return diverged() }
            let last = problem.isLast(step: step, time: time)
            var finite = advanced.finite == true
            if last || (problem.diagnosticsEvery > 0 && step % problem.diagnosticsEvery == 0) {
                guard try problem.diagnose(step: step, time: time) else { return diverged() }
                finite = true
            }
            if finite { lastFinite = step }
            if let every = problem.snapshotEvery, last || (every > 0 && step % every == 0) {
                try writeSnapshot(problem, step: step, time: time)
            }
            let signal = last ? nil : try poll.check(step: step, communicator: problem.communicator)
            if let signal {
                context.console.notice(checkpoints.stopNotice(signal: signal, step: step, previous: lastCheckpoint))
            }
            if checkpoints.isDue(after: step) || signal != nil {
                do {
                    try writeCheckpoint(problem, step: step, time: time)
                } catch is CheckpointFile.NonFiniteState {
                    return diverged()
                }
                lastCheckpoint = step
            }
            if let signal { return Outcome(ending: .stopped(signal: signal, step: step), lastCheckpoint: lastCheckpoint) }
        }
        return Outcome(ending: .completed, lastCheckpoint: lastCheckpoint)
    }

    private func writeSnapshot(_ problem: some TimeSteppingProblem, step: Int, time: Double) throws {
        problem.timer.start(problem.timer.index(of: "io"))
        try output.writeSnapshot(fields: problem.snapshotFields, block: problem.block, step: step, time: time)
    }

    /// Writes the state after `step` (collective). Throws
    /// `CheckpointFile.NonFiniteState` if it is not finite (nothing written).
    private func writeCheckpoint(_ problem: some TimeSteppingProblem, step: Int, time: Double) throws {
        problem.timer.start(problem.timer.index(of: "checkpoint"))
        let (nx, ny) = problem.gridSize
        let fields = problem.stateFields
        var checkpoint = Checkpoint(problem: problem.name, step: step, time: time, nx: nx, ny: ny,
                                    inputJSON: checkpoints.input, outputPath: checkpoints.outputPath,
                                    stateFields: fields.map(\.name))
        checkpoint.series = problem.series
        checkpoint.snapshotSteps = output.snapshots.map { Int64($0.step) }
        checkpoint.snapshotTimes = output.snapshots.map(\.time)
        checkpoint.scalars = problem.stateScalars
        try CheckpointFile.write(checkpoint, fields: fields, block: problem.block, path: checkpoints.path,
                                 context: context, communicator: problem.communicator)
    }
}
