import Foundation

/// What the command line asks for.
public struct RunOptions: Sendable {
    /// The input file; optional with `restartPath` (the checkpoint holds the input).
    public var inputPath: String?
    /// --restart: continue from this checkpoint.
    public var restartPath: String?
    /// --checkpoint-every N (overrides output.checkpoint_every).
    public var checkpointEvery: Int?
    /// Threads per rank, if given with --threads.
    public var threads: Int?
    public var outputPath: String?
    public var steps: Int?
    public var dims: [Int]?
    /// --set KEY.PATH=VALUE, in order.
    public var overrides: [InputOverride] = []
    public var force = false
    public var verbosity = Console.Verbosity.normal
    /// Also write the run's summary (phases, figures) as JSON here (rank 0).
    public var jsonPath: String?
    /// --profile N: run N times after one warm-up run, report median and spread.
    public var profileRepeats = 0
    /// --peer-timeout S: end the job when one MPI call of the time loop has
    /// waited S seconds for other ranks (`PeerWatchdog`); 0: never.
    public var peerTimeout = RunOptions.defaultPeerTimeout
    public static let defaultPeerTimeout = 30.0

    public init(inputPath: String?, restartPath: String? = nil) {
        self.inputPath = inputPath
        self.restartPath = restartPath
    }

    /// The file that messages about the input name.
    public var inputName: String { inputPath ?? restartPath ?? "input" }

    /// Threads per rank: --threads, else SLURM_CPUS_PER_TASK, else
    /// OMP_NUM_THREADS, else 1. Returns the value and where it came from.
    public func resolvedThreads(environment: [String: String] = ProcessInfo.processInfo.environment)
        throws -> (count: Int, source: String) {
        if let threads { return (threads, "--threads") }
        for variable in ["SLURM_CPUS_PER_TASK", "OMP_NUM_THREADS"] {
            guard let text = environment[variable], !text.isEmpty else { continue }
            // OMP_NUM_THREADS may be a list ("4,2" for nested levels): the first counts.
            let first = text.split(separator: ",").first.map(String.init) ?? text
            guard let n = Int(first.trimmingCharacters(in: .whitespaces)), n >= 1 else {
                throw MiniappFailure(.usage, "\(variable)=\(text) is not a positive thread count")
            }
            return (n, variable)
        }
        return (1, "default")
    }

    /// Parses "PXxPY" (e.g. "4x2"; 0 leaves an axis to MPI_Dims_create).
    public static func parseDims(_ text: String) -> [Int]? {
        let parts = text.lowercased().split(separator: "x", omittingEmptySubsequences: false)
        guard parts.count == 2, let px = Int(parts[0]), let py = Int(parts[1]), px >= 0, py >= 0 else { return nil }
        return [px, py]
    }
}
