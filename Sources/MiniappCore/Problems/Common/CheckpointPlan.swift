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

    /// "heat.chk.h5: every 40 steps and on a stop signal"
    var description: String {
        "\(path): " + (every > 0 ? "every \(every) steps and on a stop signal" : "on a stop signal (SIGTERM, SIGINT, SIGUSR1) only")
    }
}
