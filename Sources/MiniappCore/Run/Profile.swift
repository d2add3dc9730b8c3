/// `--profile N`: the same configuration run N + 1 times in one process;
/// the first run (page faults, caches, lazy MPI connections) is left out,
/// and each phase is reported as the median and spread of the others.
enum Profile {
    static func run(repeats: Int, context: RunContext, _ execute: () throws -> RunSummary) throws -> RunSummary {
        let console = context.console
        var runs: [RunSummary] = []
        for k in 0...repeats {
            console.info(k == 0 ? "profile: warm-up run (not counted)" : "profile: run \(k) of \(repeats)")
            runs.append(try execute())
        }
        let counted = Array(runs.dropFirst())
        var summary = counted.last!
        console.info("")
        console.info("Profile: \(repeats) runs after a warm-up; per phase, the median over runs of the average over ranks")
        console.info("  " + Format.padRight("phase", 15) + ["median", "min", "max", "spread"].map { Format.padLeft($0, 11) }.joined())
        for (k, name) in summary.phaseNames.enumerated() {
            let sample = Sample(counted.map { $0.phaseAvg[k] })
            console.info("  " + Format.padRight(name, 15)
                         + [sample.median, sample.minimum, sample.maximum].map { Format.padLeft(Format.fixed($0, 4), 11) }.joined()
                         + Format.padLeft(Format.fixed(100 * sample.spread, 1) + "%", 11))
            summary.phaseAvg[k] = sample.median
            summary.phaseMin[k] = Sample(counted.map { $0.phaseMin[k] }).median
            summary.phaseMax[k] = Sample(counted.map { $0.phaseMax[k] }).median
        }
        for key in summary.metrics.keys {
            summary.metrics[key] = Sample(counted.compactMap { $0.metrics[key] }).median
        }
        summary.metrics["profile_runs"] = Double(repeats)
        return summary
    }
}
