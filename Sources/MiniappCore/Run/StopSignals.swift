import Foundation
import MPI
import Platform

/// Graceful stops: SIGTERM, SIGINT and SIGUSR1 (what Slurm sends before a
/// time limit with `--signal=B:USR1@120`, through the job script) ask the run
/// to checkpoint and stop; a second signal ends the process at once.
///
/// The handler (in C) only records the signal. The time loop polls it with a
/// `StopPoll`, so that every rank stops at the same step even when the signal
/// reaches the ranks at different times, or only some of them.
public enum StopSignals {
    /// Installs the handlers (after MPI_Init, which installs its own for
    /// other signals).
    public static func install() {
        StopSignalHandler.install()
    }

    /// The first stop signal this process received, or 0.
    static var received: Int32 { StopSignalHandler.received }

    static func name(_ signal: Int32) -> String {
        switch signal {
        case SIGTERM: "SIGTERM"
        case SIGINT: "SIGINT"
        case SIGUSR1: "SIGUSR1"
        default: "signal \(signal)"
        }
    }

    /// What the user should know of where a signal came from: Open MPI's
    /// mpirun turns its own SIGINT (Ctrl-C) and SIGTERM into SIGTERM to the
    /// ranks, and kills them `odls_base_sigkill_timeout` seconds later (1 by
    /// default). Empty elsewhere.
    static func launcherNote(_ signal: Int32) -> String {
        guard signal == SIGTERM, let timeout = mpirunKillTimeout else { return "" }
        return " (Under mpirun, SIGTERM is what mpirun sends the ranks on Ctrl-C or its own SIGTERM; it kills them "
            + "\(timeout) s later, and exits with status 1.)"
    }

    /// Seconds from mpirun's SIGTERM to its SIGKILL, under Open MPI's mpirun; nil under other launchers.
    static var mpirunKillTimeout: String? {
        let environment = ProcessInfo.processInfo.environment
        guard environment["OMPI_MCA_orte_hnp_uri"] != nil else { return nil }
        return environment["OMPI_MCA_odls_base_sigkill_timeout"] ?? "1"
    }

    /// Registers a file that a second signal must remove (an unfinished
    /// output or checkpoint); returns a token for `unregister`.
    static func registerUnfinished(_ path: String) -> Int32 {
        StopSignalHandler.register(removing: path)
    }

    static func unregister(_ token: Int32) {
        StopSignalHandler.unregister(token)
    }

    /// Removes every registered unfinished file now.
    static func removeUnfinishedFiles() {
        StopSignalHandler.removeRegisteredFiles()
    }
}

/// Agreement on stop requests, at step boundaries. Every `interval` steps the
/// ranks combine their flags in one small allreduce; the interval adapts so
/// that checks come about every `spacing` seconds (one check per step would
/// cost a latency-bound collective on every step of a small grid). Each rank
/// proposes an interval and the smallest wins, so all ranks check, and stop,
/// at the same step.
struct StopPoll {
    private let spacing: Double
    private var interval = 1
    private var nextCheck: Int
    private var lastCheck: (step: Int, time: Double)

    init(startStep: Int, spacing: Double = 0.02) {
        self.spacing = spacing
        nextCheck = startStep + 1
        lastCheck = (startStep, wallSeconds())
    }

    /// Call after each step block. Returns the agreed stop signal (the
    /// largest signal number among the ranks that received one), or nil.
    mutating func check(step: Int, communicator: Communicator) throws -> Int32? {
        guard step >= nextCheck else { return nil }
        let now = wallSeconds()
        let perStep = (now - lastCheck.time) / Double(max(1, step - lastCheck.step))
        let proposal = perStep > 0 ? Int((spacing / perStep).rounded(.down)) : interval * 2
        // Grow gently (timings of the first steps are noisy), shrink at once.
        let proposed = max(1, min(proposal, interval * 4, 100_000))
        var words: [Int64] = [Int64(StopSignals.received), -Int64(proposed)]
        try communicator.allreduce(&words, op: .max)
        interval = Int(-words[1])
        nextCheck = step + interval
        lastCheck = (step, now)
        return words[0] > 0 ? Int32(words[0]) : nil
    }
}
