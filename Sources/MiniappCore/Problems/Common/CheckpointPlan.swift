import Foundation

/// Where a run's checkpoints go, how often, and what they record besides
/// the state (docs/guide/restart-and-faults.md).
struct CheckpointPlan: CustomStringConvertible {
    let path: String
    /// Steps between checkpoints; 0: only on a stop signal.
    let every: Int
    /// The effective input, as JSON text.
    let input: String
    /// The results file the checkpoints belong to.
    let outputPath: String

    init(_ spec: CheckpointSpec, outputPath: String, input: JSONNode) {
        path = spec.resolvedPath(output: outputPath)
        every = spec.every
        self.input = input.serialized()
        self.outputPath = outputPath
    }

    /// Whether the regular cadence writes a checkpoint after `step`.
    func isDue(after step: Int) -> Bool { every > 0 && step % every == 0 }

    /// What rank 0 says once the ranks have agreed to stop, before the
    /// checkpoint is written: a launcher may kill them during that write
    /// (mpirun soon after its SIGTERM, srun at once after a second Ctrl-C),
    /// so how to continue comes first. `previous`: the step of the
    /// checkpoint already at `path`, where known.
    func stopNotice(signal: Int32, step: Int, previous: Int?) -> String {
        let kept = if let previous { "the checkpoint of step \(previous) stays in '\(path)'" }
            else if FileManager.default.fileExists(atPath: path) { "the checkpoint already in '\(path)' stays" }
            else { "" }
        return "stopping on \(StopSignals.name(signal)) after step \(step): writing the checkpoint '\(path)'. "
            + "Should the ranks be killed before it is complete, "
            + (kept.isEmpty ? "there is no earlier checkpoint to continue from."
               : "\(kept): continue with `miniapp --restart \(path)`.") + StopSignals.launcherNote(signal)
    }

    /// "heat.chk.h5: every 40 steps and on a stop signal; ...": printed at set-up, so that how to go on
    /// after a stop, or a kill that leaves no message, is on the screen and in the job's log from the start.
    var description: String {
        "\(path): " + (every > 0 ? "every \(every) steps and on a stop signal" : "on a stop signal (SIGTERM, SIGINT, SIGUSR1) only")
            + "; continue from it with `miniapp --restart \(path)`"
    }
}
