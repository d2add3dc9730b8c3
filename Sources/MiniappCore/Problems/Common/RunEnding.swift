import Foundation

/// How the time loop of a run ended, and what the run then tells the user.
enum RunEnding: Equatable {
    case completed
    /// Every rank agreed to stop on `signal` after `step`; the checkpoint holds that state.
    case stopped(signal: Int32, step: Int)
    /// The solution was found not finite after `step`; it was finite after `lastFinite`.
    case diverged(step: Int, lastFinite: Int)

    /// Root attributes of the results file.
    /// The step where a run that ended early stopped; nil when it completed.
    var lastStep: Int? {
        switch self {
        case .completed: nil
        case .stopped(_, let step), .diverged(let step, _): step
        }
    }

    var attributes: [String: AttributeValue] {
        switch self {
        case .completed: ["ending": .string("completed")]
        case .stopped(let signal, let step):
            ["ending": .string("stopped"), "stopped_by": .string(StopSignals.name(signal)), "stopped_at_step": .int(step)]
        case .diverged(let step, let lastFinite):
            ["ending": .string("diverged"), "diverged_at_step": .int(step), "last_finite_step": .int(lastFinite)]
        }
    }

    /// The failure that ends the process after the results were written;
    /// nil for a completed run.
    func failure(checkpointPath: String, lastCheckpoint: Int?, outputPath: String) -> MiniappFailure? {
        switch self {
        case .completed:
            return nil
        case .stopped(let signal, let step):
            return MiniappFailure(.stopped, "stopped by \(StopSignals.name(signal)) after step \(step): the state is in "
                                  + "'\(checkpointPath)' and the results so far in '\(outputPath)'; continue with "
                                  + "`miniapp --restart \(checkpointPath)` (any number of ranks and threads)."
                                  + StopSignals.launcherNote(signal))
        case .diverged(let step, let lastFinite):
            let kept = lastCheckpoint.map { "; the last checkpoint, after step \($0), is kept in '\(checkpointPath)'" } ?? ""
            return MiniappFailure(.dataError, "the solution is not finite (NaN or infinity) after step \(step); it was "
                                  + "finite after step \(lastFinite). Results up to then are in '\(outputPath)'\(kept). "
                                  + "Check the time step and the initial and boundary values")
        }
    }
}
