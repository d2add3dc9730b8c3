import CMiniappLinux

/// The process's handler of SIGTERM, SIGINT and SIGUSR1 (in C, async-signal
/// safe): the first signal is recorded; a second removes the registered
/// files and ends the process with status 128 + signal.
public enum StopSignalHandler {
    /// Installs the handler; false where the system refused.
    @discardableResult
    public static func install() -> Bool { miniapp_install_stop_handlers() == 0 }

    /// The first stop signal received, or 0.
    public static var received: Int32 { miniapp_stop_signal() }

    /// Blocks the stop signals in the calling thread (worker threads), so
    /// that they interrupt the main thread, which polls `received`.
    public static func blockInThisThread() { miniapp_block_stop_signals_in_thread() }

    /// Registers a file to remove if a second signal ends the process:
    /// a slot for `unregister`, or -1 when none is free.
    public static func register(removing path: String) -> Int32 { miniapp_register_cleanup(path) }

    public static func unregister(_ slot: Int32) { miniapp_unregister_cleanup(slot) }

    /// Removes every registered file now (before MPI_Abort after an error).
    public static func removeRegisteredFiles() { miniapp_remove_registered_files() }
}
