import CMPI
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What the rank's main thread is waiting for inside MPI, readable from
/// another thread. A watchdog there can tell a wait that never ends (a host
/// gone, its link cut: no error ever reaches MPI over TCP) from a slow
/// neighbour, and say whom the rank was waiting for.
///
/// Every blocking call of these wrappers is bracketed by `during`: two clock
/// reads and a few atomic stores, nothing next to the call itself. Calls
/// nest (a barrier inside a wrapper that is itself watched): the outermost
/// one is what the watchdog sees.
public enum BlockingCalls {
    /// A snapshot of the call in progress.
    public struct Wait: Equatable, Sendable {
        /// CLOCK_MONOTONIC nanoseconds when the call began.
        public let began: UInt64
        /// The MPI function, e.g. "MPI_Allreduce".
        public let call: String
        /// Point-to-point waits: the ranks (of `communicator`) whose messages
        /// have not completed yet. Empty for collectives, where any rank may
        /// be the one missing.
        public let pendingPeers: [Int]
        /// `Communicator.identity` of their communicator (0: none).
        public let communicator: UInt
        /// Seconds the call may take by its nature (a collective write of
        /// many bytes), beyond any wait for other ranks.
        public let allowance: Double
    }

    /// When the current outermost call began (0: none).
    private static let began = Atomic<UInt64>(0)
    /// Its name: the address of a StaticString's UTF-8 (null-terminated).
    private static let name = Atomic<UInt>(0)
    /// Point-to-point: which of `peers[0..<peerCount]` are still pending (bit i: request i).
    private static let pendingMask = Atomic<UInt64>(0)
    private static let peerCount = Atomic<Int>(0)
    private static let peerList = Atomic<UInt>(0)
    private static let communicatorBits = Atomic<UInt>(0)
    private static let allowanceNanoseconds = Atomic<UInt64>(0)
    /// Nesting depth; the main thread alone touches it.
    nonisolated(unsafe) private static var depth = 0

    /// CLOCK_MONOTONIC in nanoseconds (not MPI_Wtime: the watchdog thread reads it too).
    @inline(__always)
    public static func now() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
    }

    /// Runs a blocking collective `body`, visible to a watchdog while it
    /// waits; `allowance`: seconds it may take by its nature (I/O).
    @inline(__always)
    public static func during<T>(_ call: StaticString, allowance: Double = 0, _ body: () throws -> T) rethrows -> T {
        enter(call, peers: nil, count: 0, communicator: 0, allowance: allowance)
        defer { leave() }
        return try body()
    }

    /// Point-to-point: `peers[i]` is the rank that request i talks to.
    static func enter(_ call: StaticString, peers: UnsafePointer<Int32>?, count: Int, communicator: UInt,
                      allowance: Double = 0) {
        depth += 1
        guard depth == 1 else { return }
        allowanceNanoseconds.store(UInt64(max(0, min(allowance, 1e9)) * 1e9), ordering: .relaxed)
        name.store(UInt(bitPattern: call.utf8Start), ordering: .relaxed)
        peerList.store(UInt(bitPattern: peers), ordering: .relaxed)
        peerCount.store(min(count, 64), ordering: .relaxed)
        pendingMask.store(count >= 64 ? ~0 : (1 << UInt64(count)) - 1, ordering: .relaxed)
        communicatorBits.store(communicator, ordering: .relaxed)
        began.store(now(), ordering: .releasing)
    }

    /// Point-to-point: request `index` has completed.
    static func completed(_ index: Int) {
        guard depth == 1, index < 64 else { return }
        pendingMask.bitwiseAnd(~(UInt64(1) << UInt64(index)), ordering: .relaxed)
    }

    static func leave() {
        depth -= 1
        if depth == 0 { began.store(0, ordering: .releasing) }
    }

    /// The call the main thread is blocked in now, or nil. Safe from any
    /// thread: read twice around the details, which are discarded if the
    /// main thread moved on meanwhile.
    public static func current() -> Wait? {
        let first = began.load(ordering: .acquiring)
        guard first != 0 else { return nil }
        let text = name.load(ordering: .relaxed)
        let count = peerCount.load(ordering: .relaxed)
        let list = UnsafePointer<Int32>(bitPattern: peerList.load(ordering: .relaxed))
        let mask = pendingMask.load(ordering: .relaxed)
        let comm = communicatorBits.load(ordering: .relaxed)
        let allowance = Double(allowanceNanoseconds.load(ordering: .relaxed)) * 1e-9
        var pending: [Int] = []
        if let list {
            for i in 0..<count where mask & (UInt64(1) << UInt64(i)) != 0 { pending.append(Int(list[i])) }
        }
        guard began.load(ordering: .acquiring) == first, text != 0 else { return nil }
        let call = String(cString: UnsafePointer<CChar>(bitPattern: text)!)
        return Wait(began: first, call: call, pendingPeers: Array(Set(pending)).sorted(), communicator: comm,
                    allowance: allowance)
    }
}
