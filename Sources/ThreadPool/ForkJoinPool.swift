import CMiniappLinux
#if canImport(Glibc)
import Glibc
#endif

/// A persistent fork-join pool: `threadCount - 1` worker threads created once,
/// plus the calling (main) thread as thread 0. `run` hands the same body to
/// every thread and returns when all have finished it.
///
/// Waiting threads spin briefly (with a pause hint) and then sleep on a futex,
/// so a round costs about a microsecond when threads are busy, and an idle or
/// oversubscribed pool does not burn cores. MPI and HDF5 stay on thread 0,
/// the thread that calls `run`.
public final class ForkJoinPool: @unchecked Sendable {
    public let threadCount: Int
    /// The CPU each thread is bound to (nil: not bound).
    public let pinnedCPUs: [Int?]
    private let core: Core
    private var workers: [pthread_t] = []

    /// - Parameters:
    ///   - threads: total threads, the caller included.
    ///   - spinMicroseconds: how long a waiting thread spins before sleeping;
    ///     nil picks 50 us, or 0 when the threads have fewer CPUs than threads
    ///     (spinning would then steal the core from a working thread): the
    ///     distinct CPUs of `cpus` when given, else those the caller may use.
    ///   - cpus: optional CPU per thread; worker t binds itself to `cpus[t]`.
    ///     Thread 0, the caller, is left as it is.
    public init(threads: Int, spinMicroseconds: Int? = nil, pinTo cpus: [Int]? = nil) {
        precondition(threads >= 1, "a pool needs at least one thread")
        threadCount = threads
        pinnedCPUs = (0..<threads).map { t in cpus.flatMap { t < $0.count ? $0[t] : nil } }
        // Not the caller's mask when the threads are pinned: a rank's main
        // thread is already bound to the first of its CPUs when it makes the pool.
        let cpuCount = cpus.map { Set($0.prefix(threads)).count } ?? Affinity.allowedCPUs().count
        let oversubscribed = cpuCount < threads
        core = Core(spinNanoseconds: UInt64(spinMicroseconds ?? (oversubscribed ? 0 : 50)) * 1000)
        for index in 1..<threads {
            let context = Unmanaged.passRetained(WorkerContext(core: core, index: index, cpu: pinnedCPUs[index]))
            var thread = pthread_t()
            let rc = pthread_create(&thread, nil, { raw in
                let context = Unmanaged<WorkerContext>.fromOpaque(raw!).takeRetainedValue()
                // Stop signals go to the main thread, which polls for them.
                miniapp_block_stop_signals_in_thread()
                if let cpu = context.cpu { _ = miniapp_pin_thread_to_cpu(Int32(cpu)) }
                context.core.workerLoop(index: context.index)
                return nil
            }, context.toOpaque())
            precondition(rc == 0, "pthread_create failed with error \(rc)")
            workers.append(thread)
        }
    }

    deinit {
        core.stop()
        for thread in workers { pthread_join(thread, nil) }
    }

    /// Runs `body(t)` on every thread t in 0..<threadCount and waits for all.
    /// Not reentrant: `body` must not call `run`.
    public func run(_ body: (Int) -> Void) {
        if threadCount == 1 { body(0); return }
        withoutActuallyEscaping(body) { body in
            core.fork(body, workers: UInt32(threadCount - 1))
            body(0)
            core.join()
        }
    }

    /// How long waiting threads spin before they sleep.
    public var spinNanoseconds: UInt64 { core.spinNanoseconds }
}

/// The state shared with the worker threads (which hold it, not the pool,
/// so that the pool's deinit can stop them).
private final class Core: @unchecked Sendable {
    let spinNanoseconds: UInt64
    // Shared words, each on its own cache line (futex words are 32-bit).
    private let lines: UnsafeMutableRawPointer
    private var generation: UnsafeMutablePointer<UInt32> { line(0) }
    private var remaining: UnsafeMutablePointer<UInt32> { line(1) }
    private var sleepingWorkers: UnsafeMutablePointer<UInt32> { line(2) }
    private var mainSleeping: UnsafeMutablePointer<UInt32> { line(3) }
    // Written by the main thread before the generation is bumped, read by
    // workers after they see it: the sequentially consistent bump orders them.
    private var job: ((Int) -> Void)?
    private var stopping = false

    init(spinNanoseconds: UInt64) {
        self.spinNanoseconds = spinNanoseconds
        lines = .allocate(byteCount: 4 * 128, alignment: 128)
        lines.initializeMemory(as: UInt8.self, repeating: 0, count: 4 * 128)
    }

    deinit { lines.deallocate() }

    private func line(_ k: Int) -> UnsafeMutablePointer<UInt32> {
        (lines + k * 128).assumingMemoryBound(to: UInt32.self)
    }

    func fork(_ body: @escaping (Int) -> Void, workers: UInt32) {
        job = body
        miniapp_atomic_store(remaining, workers)
        miniapp_atomic_fetch_add(generation, 1)
        // A worker registers as sleeping before re-checking the generation,
        // so either it sees the new generation or we see it and wake it.
        if miniapp_atomic_load(sleepingWorkers) != 0 {
            miniapp_futex_wake(generation, Int32.max)
        }
    }

    func join() {
        var spin = SpinWait(nanoseconds: spinNanoseconds)
        while true {
            let left = miniapp_atomic_load(remaining)
            if left == 0 { break }
            if spin.keepSpinning() { continue }
            // The last worker wakes us if it sees this flag; if it finished
            // before we set it, the re-check below sees remaining == 0.
            miniapp_atomic_store(mainSleeping, 1)
            let now = miniapp_atomic_load(remaining)
            if now != 0 { miniapp_futex_wait(remaining, now) }
            miniapp_atomic_store(mainSleeping, 0)
        }
        job = nil
    }

    func stop() {
        stopping = true
        miniapp_atomic_fetch_add(generation, 1)
        miniapp_futex_wake(generation, Int32.max)
    }

    func workerLoop(index: Int) {
        var seen: UInt32 = 0
        while true {
            seen = waitForRound(after: seen)
            if stopping { return }
            job!(index)
            if miniapp_atomic_fetch_sub(remaining, 1) == 1, miniapp_atomic_load(mainSleeping) != 0 {
                miniapp_futex_wake(remaining, 1)
            }
        }
    }

    /// Spins, then sleeps, until the generation moves past `seen`; returns the new one.
    private func waitForRound(after seen: UInt32) -> UInt32 {
        var spin = SpinWait(nanoseconds: spinNanoseconds)
        while true {
            let current = miniapp_atomic_load(generation)
            if current != seen { return current }
            if spin.keepSpinning() { continue }
            miniapp_atomic_fetch_add(sleepingWorkers, 1)
            if miniapp_atomic_load(generation) == seen { miniapp_futex_wait(generation, seen) }
            miniapp_atomic_fetch_sub(sleepingWorkers, 1)
        }
    }
}

private final class WorkerContext {
    let core: Core
    let index: Int
    let cpu: Int?
    init(core: Core, index: Int, cpu: Int?) { self.core = core; self.index = index; self.cpu = cpu }
}

/// A bounded busy-wait: pause hints until a deadline (the clock is read every
/// 64 spins), then tells the caller to sleep.
private struct SpinWait {
    private let deadline: UInt64
    private let enabled: Bool
    private var spins = 0

    init(nanoseconds: UInt64) {
        enabled = nanoseconds > 0
        deadline = enabled ? monotonicNanoseconds() &+ nanoseconds : 0
    }

    mutating func keepSpinning() -> Bool {
        guard enabled else { return false }
        spins &+= 1
        if spins & 63 == 0 && monotonicNanoseconds() >= deadline { return false }
        miniapp_cpu_relax()
        return true
    }
}

@inline(__always)
func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}
