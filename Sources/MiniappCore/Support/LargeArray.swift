import Foundation
import Platform

/// Allocation of large arrays of doubles: aligned to 2 MiB, with transparent
/// huge pages requested (madvise), before the first touch. Fewer TLB misses
/// for streaming kernels; no effect where the kernel does not offer them.
package enum LargeArray {
    package static let hugePage = 2 << 20

    /// Allocates `count` doubles, or throws when the system refuses (the
    /// run then stops on every rank with this rank's message, instead of
    /// crashing), or when MINIAPP_FAULT=alloc picks this rank.
    package static func allocate(_ count: Int) throws -> UnsafeMutablePointer<Double> {
        let bytes = max(1, count) * MemoryLayout<Double>.stride
        let large = bytes >= 4 * hugePage
        var raw: UnsafeMutableRawPointer? = nil
        let status = FaultInjection.fires(.alloc) ? ENOMEM : posix_memalign(&raw, large ? hugePage : 64, bytes)
        guard status == 0, let raw else {
            throw MiniappFailure(.unavailable, "cannot allocate \(Format.bytes(bytes)) for a field: "
                                 + String(cString: strerror(status)))
        }
        if large { SystemMemory.adviseHugePages(raw, bytes: bytes) }
        return raw.bindMemory(to: Double.self, capacity: max(1, count))
    }

    /// Frees what `allocate` returned.
    package static func deallocate(_ pointer: UnsafeMutablePointer<Double>) {
        free(pointer)
    }
}
