import CMPI

/// An MPI communicator. One created here (a duplicate or a Cartesian
/// communicator) is freed when the last reference goes; MPI_COMM_WORLD is only
/// borrowed. Collective calls must be made by every rank, from the rank's main
/// thread (the library is initialised with MPI_THREAD_FUNNELED).
public final class Communicator: @unchecked Sendable {
    public let handle: cmpi_comm
    public let rank: Int
    public let size: Int
    private let owned: Bool

    init(handle: cmpi_comm, owned: Bool) throws {
        self.handle = handle
        self.owned = owned
        var r: Int32 = 0, s: Int32 = 0
        try check(MPI_Comm_rank(handle, &r), "MPI_Comm_rank")
        try check(MPI_Comm_size(handle, &s), "MPI_Comm_size")
        rank = Int(r)
        size = Int(s)
        if owned { MPI_Comm_set_errhandler(handle, cmpi_errors_return()) }
    }

    /// MPI_COMM_WORLD (borrowed, never freed).
    public static func world() throws -> Communicator {
        try Communicator(handle: cmpi_comm_world(), owned: false)
    }

    deinit {
        guard owned, !MPIRuntime.isFinalized else { return }
        var comm = handle
        cmpi_comm_free(&comm)
    }

    public var isRoot: Bool { rank == 0 }

    /// A number that tells communicators apart (`BlockingCalls.Wait`).
    public var identity: UInt { UInt(bitPattern: ObjectIdentifier(self)) }

    public func barrier() throws {
        try collective("MPI_Barrier", blocking: { MPI_Barrier(handle) }, start: { cmpi_ibarrier(handle, $0) })
    }

    /// Runs a blocking collective, visible to a watchdog while it waits: the
    /// blocking call itself, or, where waits give the core away
    /// (`MPIRuntime.yieldsWhileWaiting`), its non-blocking twin tested until done.
    private func collective(_ name: StaticString, blocking: () -> Int32,
                            start: (UnsafeMutablePointer<cmpi_request>) -> Int32) throws {
        try BlockingCalls.during(name) {
            guard MPIRuntime.yieldsWhileWaiting else { return try check(blocking(), "\(name)") }
            var request = cmpi_request_null()
            try check(start(&request), "\(name)")
            try MPIRuntime.yieldUntil("\(name)") { flag in cmpi_test(&request, flag) }
        }
    }

    // MARK: Broadcast

    public func broadcast<T: MPIScalar>(_ values: inout [T], root: Int = 0) throws {
        let count = try mpiCount(values.count, "MPI_Bcast")
        try values.withUnsafeMutableBytes { buffer in
            try collective("MPI_Bcast", blocking: { MPI_Bcast(buffer.baseAddress, count, T.mpiDatatype, Int32(root), handle) },
                           start: { cmpi_ibcast(buffer.baseAddress, count, T.mpiDatatype, Int32(root), handle, $0) })
        }
    }

    public func broadcast<T: MPIScalar>(_ value: T, root: Int = 0) throws -> T {
        var values = [value]
        try broadcast(&values, root: root)
        return values[0]
    }

    /// Broadcasts a byte string of any length from `root` (the length first).
    public func broadcast(bytes: [UInt8], root: Int = 0) throws -> [UInt8] {
        let count = try broadcast(Int64(bytes.count), root: root)
        var buffer = rank == root ? bytes : [UInt8](repeating: 0, count: Int(count))
        if count > 0 { try broadcast(&buffer, root: root) }
        return buffer
    }

    public func broadcast(string: String, root: Int = 0) throws -> String {
        String(decoding: try broadcast(bytes: Array(string.utf8), root: root), as: UTF8.self)
    }

    // MARK: Reductions

    /// Element-wise reduction of `values` over all ranks, in place.
    public func allreduce<T: MPIScalar>(_ values: inout [T], op: ReductionOp) throws {
        let count = try mpiCount(values.count, "MPI_Allreduce")
        try values.withUnsafeMutableBytes { buffer in
            try allreduce(buffer.baseAddress, count: count, T.mpiDatatype, op: op.handle)
        }
    }

    public func allreduce<T: MPIScalar>(_ value: T, op: ReductionOp) throws -> T {
        var values = [value]
        try allreduce(&values, op: op)
        return values[0]
    }

    /// Reduction over a raw buffer, in place (for accumulators that live outside arrays).
    public func allreduce<T: MPIScalar>(_ buffer: UnsafeMutableBufferPointer<T>, op: ReductionOp) throws {
        try allreduce(UnsafeMutableRawPointer(buffer.baseAddress), count: mpiCount(buffer.count, "MPI_Allreduce"),
                      T.mpiDatatype, op: op.handle)
    }

    /// Reduction of `count` items of `datatype` with an operation of our own, in place.
    public func allreduce(_ buffer: UnsafeMutableRawPointer, count: Int, datatype: Datatype, op: UserReduction) throws {
        try allreduce(buffer, count: mpiCount(count, "MPI_Allreduce"), datatype.handle, op: op.handle)
    }

    private func allreduce(_ buffer: UnsafeMutableRawPointer?, count: Int32, _ type: cmpi_datatype, op: cmpi_op) throws {
        try collective("MPI_Allreduce",
                       blocking: { MPI_Allreduce(cmpi_in_place(), buffer, count, type, op, handle) },
                       start: { cmpi_iallreduce(buffer, count, type, op, handle, $0) })
    }

    // MARK: Gathers

    /// Every rank's `values` (the same count on each), concatenated in rank order, on every rank.
    public func allgather<T: MPIScalar>(_ values: [T]) throws -> [T] {
        let count = try mpiCount(values.count, "MPI_Allgather")
        guard let first = values.first else { return [] }
        var result = [T](repeating: first, count: values.count * size)
        try values.withUnsafeBytes { send in
            try result.withUnsafeMutableBytes { receive in
                try collective("MPI_Allgather",
                               blocking: { MPI_Allgather(send.baseAddress, count, T.mpiDatatype, receive.baseAddress, count,
                                                         T.mpiDatatype, handle) },
                               start: { cmpi_iallgather(send.baseAddress, count, T.mpiDatatype, receive.baseAddress,
                                                        handle, $0) })
            }
        }
        return result
    }

    /// Every rank's string, in rank order, on every rank.
    public func allgather(string: String) throws -> [String] {
        let bytes = Array(string.utf8)
        let width = try allreduce(Int64(bytes.count), op: .max)
        var padded = bytes + [UInt8](repeating: 0, count: Int(width) - bytes.count)
        if width == 0 { padded = [0] }
        let all = try allgather(padded)
        let stride = max(1, Int(width))
        return (0..<size).map { r in
            let row = all[(r * stride)..<((r + 1) * stride)]
            return String(decoding: row.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    // MARK: Agreement

    /// Collective error agreement: every rank passes its own failure (or nil);
    /// all ranks return the failure of the lowest failing rank, message included,
    /// or nil when no rank failed. Keeps ranks in step so that none is left
    /// waiting in a later collective when another gives up.
    public func agree(onFailure local: String?) throws -> (rank: Int, message: String)? {
        let failing = try allreduce(Int64(local == nil ? size : rank), op: .min)
        guard failing < Int64(size) else { return nil }
        let message = try broadcast(string: local ?? "", root: Int(failing))
        return (Int(failing), message)
    }
}
