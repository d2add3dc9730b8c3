import CMPI
#if canImport(Glibc)
import Glibc
#endif

/// Outstanding non-blocking operations, completed together. The buffers
/// given to `receive`/`send` must stay valid until `waitAll` or a `testAll`
/// that returns true.
public final class RequestSet: @unchecked Sendable {
    private let requests: UnsafeMutablePointer<cmpi_request>
    /// The rank each request talks to, and the communicator of the last one
    /// posted: while `waitAll` blocks, `BlockingCalls` shows whom it still waits for.
    private let peers: UnsafeMutablePointer<Int32>
    private var communicator: UInt = 0
    private let completedIndices: UnsafeMutablePointer<Int32>
    private let capacity: Int
    public private(set) var count = 0

    public init(capacity: Int) {
        self.capacity = capacity
        requests = .allocate(capacity: capacity)
        requests.initialize(repeating: cmpi_request_null(), count: capacity)
        peers = .allocate(capacity: capacity)
        peers.initialize(repeating: -1, count: capacity)
        completedIndices = .allocate(capacity: capacity)
        completedIndices.initialize(repeating: 0, count: capacity)
    }

    deinit {
        // Never free buffers under a live request: finish what is still pending.
        if count > 0 && !MPIRuntime.isFinalized { try? waitAll() }
        requests.deallocate()
        peers.deallocate()
        completedIndices.deallocate()
    }

    /// MPI_Irecv of `count` items of `type` (one item of a derived type describes a whole strip).
    public func receive(into buffer: UnsafeMutableRawPointer, count: Int, type: Datatype,
                        from source: Int, tag: Int, on comm: Communicator) throws {
        precondition(self.count < capacity, "RequestSet capacity exceeded")
        try check(cmpi_irecv(buffer, mpiCount(count, "MPI_Irecv"), type.handle, Int32(source), Int32(tag), comm.handle,
                             requests + self.count), "MPI_Irecv")
        record(peer: source, on: comm)
    }

    /// MPI_Isend of `count` items of `type`.
    public func send(from buffer: UnsafeRawPointer, count: Int, type: Datatype,
                     to destination: Int, tag: Int, on comm: Communicator) throws {
        precondition(self.count < capacity, "RequestSet capacity exceeded")
        try check(cmpi_isend(buffer, mpiCount(count, "MPI_Isend"), type.handle, Int32(destination), Int32(tag),
                             comm.handle, requests + self.count), "MPI_Isend")
        record(peer: destination, on: comm)
    }

    private func record(peer: Int, on comm: Communicator) {
        peers[count] = Int32(peer)
        communicator = comm.identity
        count += 1
    }

    /// MPI_Testall: drives progress (Open MPI has no progress thread here) and
    /// returns true once every request has completed.
    @discardableResult
    public func testAll() throws -> Bool {
        guard count > 0 else { return true }
        var flag: Int32 = 0
        try check(cmpi_testall(Int32(count), requests, &flag), "MPI_Testall")
        if flag != 0 { count = 0 }
        return flag != 0
    }

    /// Waits for every request: MPI_Waitsome until none is left, so that a
    /// watchdog sees which peers have not answered yet (`BlockingCalls`).
    public func waitAll() throws {
        guard count > 0 else { return }
        let n = count
        count = 0
        BlockingCalls.enter("MPI_Waitall", peers: peers, count: n, communicator: communicator)
        defer { BlockingCalls.leave() }
        var left = n
        let yielding = MPIRuntime.yieldsWhileWaiting
        while left > 0 {
            var done: Int32 = 0
            if yielding {
                try check(cmpi_testsome(Int32(n), requests, &done, completedIndices), "MPI_Waitall")
                if done == 0 { sched_yield(); continue }
            } else {
                try check(cmpi_waitsome(Int32(n), requests, &done, completedIndices), "MPI_Waitall")
            }
            if done == cmpi_undefined() { break }    // every request already inactive
            for k in 0..<Int(done) { BlockingCalls.completed(Int(completedIndices[k])) }
            left -= Int(done)
        }
    }
}
