import Foundation
import MPI

/// What a run reports beyond its file: per-phase seconds over ranks and the
/// headline figures, for `--json` and `--profile`.
public struct RunSummary: Sendable {
    public var problem: String
    public var ranks: Int
    public var threads: Int
    public var phaseNames: [String]
    public var phaseMin: [Double]
    public var phaseAvg: [Double]
    public var phaseMax: [Double]
    /// e.g. "mlups", "mlups_stepping", "loop_seconds", "steps".
    public var metrics: [String: Double]

    /// Reduces this rank's phases over `comm` (collective).
    init(problem: String, phases: PhaseTimer, comm: Communicator, threads: Int, metrics: [String: Double]) throws {
        var minimum = phases.seconds, maximum = phases.seconds, sum = phases.seconds
        try comm.allreduce(&minimum, op: .min)
        try comm.allreduce(&maximum, op: .max)
        try comm.allreduce(&sum, op: .sum)
        self.problem = problem
        ranks = comm.size
        self.threads = threads
        phaseNames = phases.names
        phaseMin = minimum
        phaseAvg = sum.map { $0 / Double(comm.size) }
        phaseMax = maximum
        self.metrics = metrics
    }

    /// Metrics that count things: integers in the JSON ("nx": 512, not 512.0).
    static let countingMetrics: Set<String> = ["steps", "nx", "ny", "tile_columns", "row_bands", "halo_depth",
                                               "temporal_blocking", "total_iterations", "profile_runs"]

    public var json: JSONNode {
        func metric(_ key: String) -> JSONNode {
            let x = metrics[key]!
            return Self.countingMetrics.contains(key) && x.rounded() == x && abs(x) < 1e15 ? .int(Int(x)) : .double(x)
        }
        return .object([
            ("problem", .string(problem)), ("ranks", .int(ranks)), ("threads", .int(threads)),
            ("metrics", .object(metrics.keys.sorted().map { ($0, metric($0)) })),
            ("phases", .object(phaseNames.indices.map { k in
                (phaseNames[k], .object([("min", .double(phaseMin[k])), ("avg", .double(phaseAvg[k])), ("max", .double(phaseMax[k]))]))
            })),
        ])
    }

    /// The min/avg/max table of phases (rank 0 prints).
    func printPhases(_ console: Console) {
        console.info("  " + Format.padRight("phase", 15) + ["min", "avg", "max"].map { Format.padLeft($0, 11) }.joined()
                     + "   seconds over \(ranks) rank\(ranks == 1 ? "" : "s")")
        for (k, name) in phaseNames.enumerated() {
            let row = [phaseMin[k], phaseAvg[k], phaseMax[k]].map { Format.padLeft(Format.fixed($0, 4), 11) }
            console.info("  " + Format.padRight(name, 15) + row.joined())
        }
    }
}
