import HDF5
import MPI

/// Ending the whole job from one rank.
enum JobAbort {
    /// Aborts every rank after an error that not all ranks may have seen (an
    /// MPI or HDF5 failure inside the time loop): the failing rank prints its
    /// message and removes the unfinished output and checkpoint files, then
    /// MPI_Abort ends the job instead of leaving the other ranks waiting in a
    /// collective call. Complete files of the same names are not touched.
    static func abort(_ error: Error) -> Never {
        let note = error is HDF5Error || error is POSIXFailure ? StagedFile.fullFileSystemNote().map { " (\($0))" } ?? "" : ""
        Console.write("miniapp: error: rank \(MPIRuntime.worldRank): \(error)\(note)\n", to: .error)
        StopSignals.removeUnfinishedFiles()
        let status: ExitStatus = switch error {
        case let failure as MiniappFailure: failure.status
        case is HDF5Error, is POSIXFailure: .ioError
        default: .software
        }
        MPIRuntime.abort(exitCode: status.rawValue)
    }
}
