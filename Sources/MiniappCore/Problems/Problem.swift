/// A problem miniapp can run, as its validated input: the seam where a new
/// problem plugs in. A conforming configuration lives in Problems/<Name>/
/// with its run, and one line in `ProblemRegistry` makes it known to the
/// input, the command line and restarts. A problem with time steps runs them
/// in `TimeLoop` (see `TimeSteppingProblem`).
protocol Problem: Sendable {
    /// The value of the input's "problem" key.
    static var name: String { get }
    /// Reads and validates a JSON input (at the document's root).
    static func read(_ root: ObjectReader) throws(InputError) -> Self
    /// Reads an input in a format of the problem's own (a TeaLeaf deck), or
    /// returns nil when `text` is not in it.
    static func readNativeFormat(_ text: String, fileName: String) throws(InputError) -> Self?

    /// Every key with its value in effect: the results file records it, a
    /// checkpoint keeps it, and reading it back gives the same configuration.
    var effectiveJSON: JSONNode { get }
    /// The keys that decide the solution step by step: a restart must keep them.
    var trajectoryJSON: JSONNode { get }
    var outputPath: String { get }
    /// The global grid's points (or cells) along each axis.
    var gridSize: (nx: Int, ny: Int) { get }

    /// Applies the command line's overrides (--steps, --output, --dims,
    /// --checkpoint-every), or refuses those the problem has no use for.
    mutating func apply(_ options: RunOptions) throws
    /// Refuses a restart from `restart` when the run would have nothing left to do.
    func check(_ restart: RestartPlan) throws
    /// Runs the problem on every rank of `context` and returns its summary.
    func run(context: RunContext, threadSource: String, restart: RestartPlan?) throws -> RunSummary
}

extension Problem {
    static func readNativeFormat(_ text: String, fileName: String) throws(InputError) -> Self? { nil }
}
