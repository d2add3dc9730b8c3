import MPI

/// Exit statuses (sysexits.h values, familiar to scripts and batch systems).
public enum ExitStatus: Int32, Sendable {
    case success = 0
    case usage = 64          // bad command line
    case dataError = 65      // bad input file contents, or a solution that became NaN/Inf
    case noInput = 66        // input or restart file missing or unreadable
    case unavailable = 69    // not enough memory for the requested grid
    case software = 70       // internal or library failure during the run
    case cannotCreate = 73   // output cannot be written
    case ioError = 74        // a write failed during the run (disk full, I/O error)
    case stopped = 75        // stopped by a signal after writing a checkpoint: restart to go on
    case peerLost = 76       // another rank stopped answering (a host down or cut off): the job was ended
    case wrongLauncher = 78  // started by the launcher of another MPI (or srun with another plugin)
}

/// An error that ends the run with a message and an exit status. When it is
/// thrown on every rank (after `agreeOnFailure`), rank 0 prints it once.
public struct MiniappFailure: Error, CustomStringConvertible, Sendable {
    public let status: ExitStatus
    public let message: String
    /// A run that ended early (stopped, diverged) still reports what it did (`--json`).
    var summary: RunSummary? = nil

    public init(_ status: ExitStatus, _ message: String) {
        self.status = status
        self.message = message
    }

    public var description: String { message }
}

extension Communicator {
    /// Runs `body` on every rank; if it fails on any rank, every rank throws
    /// the failure of the lowest failing rank (its message travels to all), so
    /// no rank is left waiting in a later collective call.
    ///
    /// `body` must not itself make collective calls that a failing rank could
    /// skip: the others would wait there while it waits in the agreement.
    public func collectively<T>(_ body: () throws -> T) throws -> T {
        var result: T? = nil
        var local: MiniappFailure? = nil
        do {
            result = try body()
        } catch let failure as MiniappFailure {
            local = failure
        } catch {
            local = MiniappFailure(.software, "\(error)")
        }
        let failing = try allreduce(Int64(local == nil ? size : rank), op: .min)
        if failing < Int64(size) {
            let root = Int(failing)
            let status = ExitStatus(rawValue: try broadcast(local?.status.rawValue ?? 0, root: root)) ?? .software
            let message = try broadcast(string: local?.message ?? "", root: root)
            // Named by its rank in MPI_COMM_WORLD, as mpirun and MINIAPP_FAULT name it.
            let worldRank = try broadcast(Int64(MPIRuntime.worldRank), root: root)
            throw MiniappFailure(status, worldRank == 0 ? message : "rank \(worldRank): \(message)")
        }
        return result!
    }
}
