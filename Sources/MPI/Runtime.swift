import CMPI
#if canImport(Glibc)
import Glibc
#endif

/// The thread support levels of MPI_Init_thread, in increasing order.
public enum ThreadLevel: Int32, CaseIterable, Comparable, Sendable, CustomStringConvertible {
    case single, funneled, serialized, multiple

    init(mpi value: Int32) {
        self = ThreadLevel.allCases.last { $0.mpiValue == value } ?? .single
    }

    var mpiValue: Int32 {
        switch self {
        case .single: cmpi_thread_single()
        case .funneled: cmpi_thread_funneled()
        case .serialized: cmpi_thread_serialized()
        case .multiple: cmpi_thread_multiple()
        }
    }

    public static func < (a: ThreadLevel, b: ThreadLevel) -> Bool { a.rawValue < b.rawValue }

    public var description: String {
        switch self {
        case .single: "MPI_THREAD_SINGLE"
        case .funneled: "MPI_THREAD_FUNNELED"
        case .serialized: "MPI_THREAD_SERIALIZED"
        case .multiple: "MPI_THREAD_MULTIPLE"
        }
    }
}

/// Process-wide MPI state: initialisation, finalisation and library queries.
public enum MPIRuntime {
    /// Initialises MPI asking for `required` thread support and returns what the
    /// library provides. Errors on MPI_COMM_WORLD are returned, not fatal.
    public static func initialize(required: ThreadLevel) throws -> ThreadLevel {
        // Open MPI 4.1's own MPI-IO (OMPIO, with its default fcoll/vulcan)
        // now and then loses part of a collective write made on a Cartesian
        // communicator (open-mpi/ompi#12718; seen here with 3 ranks: zeros in
        // a parallel HDF5 dataset in about one run in three). ROMIO, the
        // MPI-IO of MPICH that Open MPI also ships, writes it whole, and was
        // the faster here. A choice the user made is kept. The MPICH family
        // has ROMIO only.
        if MPIImplementation.family == .openMPI && getenv("OMPI_MCA_io") == nil && getenv("OMPI_MCA_fcoll") == nil {
            setenv("OMPI_MCA_io", "^ompio", 0)
        }
        var provided: Int32 = 0
        try check(MPI_Init_thread(nil, nil, required.mpiValue, &provided), "MPI_Init_thread")
        MPI_Comm_set_errhandler(cmpi_comm_world(), cmpi_errors_return())
        return ThreadLevel(mpi: provided)
    }

    public static func finalize() {
        if isInitialized && !isFinalized { MPI_Finalize() }
    }

    public static var isInitialized: Bool {
        var flag: Int32 = 0
        MPI_Initialized(&flag)
        return flag != 0
    }

    public static var isFinalized: Bool {
        var flag: Int32 = 0
        MPI_Finalized(&flag)
        return flag != 0
    }

    /// This process's rank in MPI_COMM_WORLD (the rank mpirun and srun name).
    public static var worldRank: Int {
        var rank: Int32 = 0
        MPI_Comm_rank(cmpi_comm_world(), &rank)
        return Int(rank)
    }

    /// Ends every process of the job; for errors that cannot be agreed on collectively.
    public static func abort(exitCode: Int32) -> Never {
        // A launcher forwards each rank's output through a pipe, and MPI_Abort
        // ends every rank at once: Hydra's proxies then dropped a message still
        // in flight (3 runs in 10 here). A moment first lets it reach the user.
        usleep(300_000)
        MPI_Abort(cmpi_comm_world(), exitCode)
        fatalError("MPI_Abort returned")
    }

    /// MPI_Get_processor_name: the host this process runs on.
    public static var processorName: String {
        var buffer = [CChar](repeating: 0, count: Int(cmpi_max_processor_name()) + 1)
        var length: Int32 = 0
        MPI_Get_processor_name(&buffer, &length)
        return trimmed(buffer, length)
    }

    /// Whether waits for other ranks give the core away between polls
    /// (sched_yield) instead of polling it: for machines that run more ranks x
    /// threads than they have cores, where a polling wait keeps the rank it
    /// waits for off the core (Open MPI's mpi_yield_when_idle does the same
    /// inside Open MPI; the MPICH family has no such setting). Main thread only.
    nonisolated(unsafe) public static var yieldsWhileWaiting = false

    /// Tests (`test` sets its flag) until done, yielding the core between tests.
    static func yieldUntil(_ function: @autoclosure () -> String, _ test: (UnsafeMutablePointer<Int32>) -> Int32) throws {
        var flag: Int32 = 0
        while true {
            try check(test(&flag), function())
            if flag != 0 { return }
            sched_yield()
        }
    }

    /// Wall-clock seconds; only differences are meaningful.
    @inline(__always)
    public static func wtime() -> Double { MPI_Wtime() }

    static func trimmed(_ buffer: [CChar], _ length: Int32) -> String {
        let bytes = buffer.prefix(Int(max(0, length))).map { UInt8(bitPattern: $0) }
        var text = String(decoding: bytes, as: UTF8.self)
        while let last = text.last, last.isWhitespace || last == "\0" { text.removeLast() }
        return text
    }
}
