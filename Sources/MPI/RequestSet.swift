import CMPI

/// Outstanding non-blocking operations, completed together. The buffers
/// given to `receive`/`send` must stay valid until `waitAll` or a `testAll`
/// that returns true.
public final class RequestSet: @unchecked Sendable {
    private let requests: UnsafeMutablePointer<MPI_Request?>
    /// The rank each request talks to, and the communicator of the last one
    /// posted: while `waitAll` blocks, `BlockingCalls` shows whom it still waits for.
    private let peers: UnsafeMutablePointer<Int32>
    private var communicator: MPI_Comm?
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
    public func receive(into buffer: UnsafeMutableRawPointer, count: Int, type: MPI_Datatype,
                        from source: Int, tag: Int, on comm: Communicator) throws {
        precondition(self.count < capacity, "RequestSet capacity exceeded")
        try check(MPI_Irecv(buffer, mpiCount(count, "MPI_Irecv"), type, Int32(source), Int32(tag), comm.handle,
                            requests + self.count), "MPI_Irecv")
        record(peer: source, on: comm)
    }

    /// MPI_Isend of `count` items of `type`.
    public func send(from buffer: UnsafeRawPointer, count: Int, type: MPI_Datatype,
                     to destination: Int, tag: Int, on comm: Communicator) throws {
        precondition(self.count < capacity, "RequestSet capacity exceeded")
        try check(MPI_Isend(buffer, mpiCount(count, "MPI_Isend"), type, Int32(destination), Int32(tag), comm.handle,
                            requests + self.count), "MPI_Isend")
        record(peer: destination, on: comm)
    }

    private func record(peer: Int, on comm: Communicator) {
        peers[count] = Int32(peer)
        communicator = comm.handle
        count += 1
    }

    /// MPI_Testall: drives progress (Open MPI has no progress thread here) and
    /// returns true once every request has completed.
    @discardableResult
    public func testAll() throws -> Bool {
        guard count > 0 else { return true }
        var flag: Int32 = 0
        try check(MPI_Testall(Int32(count), requests, &flag, cmpi_statuses_ignore()), "MPI_Testall")
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
        while left > 0 {
            var done: Int32 = 0
            try check(MPI_Waitsome(Int32(n), requests, &done, completedIndices, cmpi_statuses_ignore()), "MPI_Waitall")
            if done == cmpi_undefined() { break }    // every request already inactive
            for k in 0..<Int(done) { BlockingCalls.completed(Int(completedIndices[k])) }
            left -= Int(done)
        }
    }
}
