import CMiniappLinux

/// What the kernel says about memory.
public enum SystemMemory {
    /// Bytes available to new allocations (MemAvailable), or 0 when unknown.
    public static var available: Int { Int(miniapp_available_memory()) }

    /// Asks for transparent huge pages on `bytes` bytes from `start` (madvise).
    public static func adviseHugePages(_ start: UnsafeMutableRawPointer, bytes: Int) {
        miniapp_advise_huge_pages(start, bytes)
    }
}
