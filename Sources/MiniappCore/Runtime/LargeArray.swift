import CMiniappLinux

/// Allocation of large arrays of doubles: aligned to 2 MiB, with transparent
/// huge pages requested (madvise), before the first touch. Fewer TLB misses
/// for streaming kernels; no effect where the kernel does not offer them.
enum LargeArray {
    static let hugePage = 2 << 20

    static func allocate(_ count: Int) -> UnsafeMutablePointer<Double> {
        let bytes = max(1, count) * MemoryLayout<Double>.stride
        let large = bytes >= 4 * hugePage
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: large ? hugePage : 64)
        if large { miniapp_advise_huge_pages(raw, bytes) }
        return raw.bindMemory(to: Double.self, capacity: max(1, count))
    }

    /// Frees what `allocate` returned (through the raw pointer it came from).
    static func deallocate(_ pointer: UnsafeMutablePointer<Double>) {
        UnsafeMutableRawPointer(pointer).deallocate()
    }
}
