import Foundation
import MPI
import Platform
import Synchronization

/// Ends the job when the main thread of this rank has waited too long in
/// one MPI call during the time loop (docs/guide/several-hosts.md): a host
/// that vanished or was cut off gives MPI over TCP no error, only silence,
/// and every rank waiting for it would wait for ever.
///
/// A thread of its own looks at `BlockingCalls` a few times a second. When
/// one call has lasted `limit` seconds it prints which rank the wait was
/// for (point-to-point: the peers whose messages never came) and on which
/// host, removes the unfinished output and checkpoint files, and exits with
/// status 76; the launcher (mpirun, srun) then ends the other ranks. A rank
/// blocked in a collective, where any rank may be the missing one, waits a
/// little longer, so that the rank that can name the lost host speaks first.
///
/// Collective HDF5 operations are watched as a whole (their MPI calls are
/// the library's own), with time to move their bytes at a slow file
/// system's pace on top (`StagedFile.collective`).
///
/// Time is counted in the watchdog's own ticks, so a job that Slurm
/// suspends (every rank stopped) is not ended when it resumes. Not armed
/// during set-up, where rank 0 alone may read a restart file for a while.
enum PeerWatchdog {
    /// The exit status of a job ended this way.
    static let status = ExitStatus.peerLost

    private static let armed = Atomic<Bool>(false)
    private static let started = Atomic<Bool>(false)
    /// Set once before arming, read by the watchdog thread after it sees `armed`.
    nonisolated(unsafe) private static var limit = 0.0
    nonisolated(unsafe) private static var me = ""
    /// "rank W on HOST" for each rank of a communicator, by the address of its handle.
    private static let peerNames = Mutex<[UInt: [String]]>([:])

    /// Starts the watchdog thread (once per process) for waits of `limit`
    /// seconds; 0 leaves it off. `me` names this rank in its message.
    static func start(limit: Double, me: String) {
        guard limit > 0, !started.exchange(true, ordering: .acquiringAndReleasing) else { return }
        self.limit = limit
        self.me = me
        let interval = min(0.25, max(0.02, limit / 20))
        Thread.detachNewThread {
            StopSignalHandler.blockInThisThread()
            watch(interval: interval)
        }
    }

    /// Names the ranks of `communicator` in messages: `names[r]` for its rank r.
    static func register(_ communicator: Communicator, names: [String]) {
        peerNames.withLock { $0[communicator.identity] = names }
    }

    /// Watch the calls from now on: the time loop begins.
    static func arm() { armed.store(true, ordering: .releasing) }

    private static func watch(interval: Double) {
        var watched: UInt64 = 0
        var waited = 0.0
        var last = BlockingCalls.now()
        while true {
            usleep(UInt32(interval * 1e6))
            let now = BlockingCalls.now()
            // A tick much longer than asked for: the process was stopped, or
            // starved of CPU; that time is not a peer's silence.
            let tick = min(Double(now &- last) * 1e-9, 2 * interval)
            last = now
            guard armed.load(ordering: .acquiring), let wait = BlockingCalls.current() else {
                watched = 0
                continue
            }
            if wait.began != watched {
                watched = wait.began
                waited = 0
                continue
            }
            waited += tick
            let grace = wait.pendingPeers.isEmpty ? max(1.0, limit / 2) : 0
            if waited >= limit + grace + wait.allowance { end(wait, after: waited) }
        }
    }

    private static func end(_ wait: BlockingCalls.Wait, after seconds: Double) -> Never {
        let names = peerNames.withLock { $0[wait.communicator] }
        let waitedFor = wait.pendingPeers.map { peer in
            names.flatMap { peer < $0.count ? $0[peer] : nil } ?? "rank \(peer)"
        }
        let duration = Format.fixed(seconds, 1)
        let what = waitedFor.isEmpty
            ? "\(wait.call), which every rank must join, has waited \(duration) s"
                + (wait.allowance > 0 ? " (\(Format.fixed(wait.allowance, 1)) s of it allowed for its bytes)" : "")
                + ": a rank stopped answering"
            : "no message from \(waitedFor.joined(separator: ", ")) for \(duration) s (\(wait.call))"
        let message = "miniapp: error: \(me): \(what); its host is down, cut off from the network, "
            + "or the rank stopped. Ending the job (--peer-timeout \(Format.general(limit)))\n"
        StopSignalHandler.removeRegisteredFiles()
        Console.write(message, to: .error)
        _exit(status.rawValue)
    }
}
