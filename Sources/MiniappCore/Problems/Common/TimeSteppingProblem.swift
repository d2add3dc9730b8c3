import MPI

/// A problem that advances in time steps: what `TimeLoop` asks of it. The
/// problem owns its numerics and its records; the loop owns the run's events
/// (diagnostics, snapshots, checkpoints, stop signals, divergence), the same
/// for every problem.
protocol TimeSteppingProblem: AnyObject {
    /// The problem's name, as checkpoints record it ("heat").
    var name: String { get }
    /// The global grid, and this rank's block of it.
    var gridSize: (nx: Int, ny: Int) { get }
    var block: Decomposition.Block { get }
    /// The communicator of the process grid.
    var communicator: Communicator { get }
    /// The rank's phase timer; its phases include "io", "checkpoint" and "total".
    var timer: PhaseTimer { get set }

    /// Steps between diagnostics; 0: at the start and the last step only.
    var diagnosticsEvery: Int { get }
    /// Steps between snapshots; 0: the last step only; nil: no snapshots.
    var snapshotEvery: Int? { get }
    /// The fields a snapshot writes.
    var snapshotFields: [(name: String, field: Field)] { get }
    /// What a checkpoint holds: the state's fields, the scalars the next
    /// step needs besides them, and the records so far.
    var stateFields: [(name: String, field: Field)] { get }
    var stateScalars: [String: Double] { get }
    var series: [String: Checkpoint.Series] { get }

    /// Whether the run ends after `step`, at `time`.
    func isLast(step: Int, time: Double) -> Bool
    /// The furthest step that one `advance` may reach from `step`.
    func reach(from step: Int) -> Int
    /// Called once before the first step: a `fresh` run (not a restart)
    /// records its initial diagnostics here.
    func begin(at step: Int, fresh: Bool) throws
    /// Advances from `step` to `target` and returns the time reached, and
    /// whether the solution is still finite where the step found out (a
    /// reduced value: every rank returns the same); nil where it did not.
    func advance(from step: Int, to target: Int, time: Double) throws -> (time: Double, finite: Bool?)
    /// Computes, records and reports the diagnostics after `step`; false when
    /// they are not finite (reduced: every rank returns the same).
    func diagnose(step: Int, time: Double) throws -> Bool
}
