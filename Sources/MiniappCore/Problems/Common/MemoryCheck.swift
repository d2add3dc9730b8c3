import Foundation

/// Refuses, before anything is allocated, a run whose grid arrays would not
/// fit in memory: the ranks that share a host must fit in what that host has
/// available, so a grid that is too large stops with needed against available
/// instead of being killed by the out-of-memory killer halfway through set-up.
enum MemoryCheck {
    /// - Parameter arrays: grid-sized arrays of doubles each rank holds, with
    ///   a halo of `halo` points; they dominate a rank's memory.
    static func require(arrays: Int, halo: Int, setup: GridSetup, context: RunContext) throws {
        let sizes = setup.decomposition.blockSizeRange
        // In floating point: a grid of 2^31 x 2^31 on one rank overflows Int64 bytes.
        let points = Double(sizes.x.upperBound + 2 * halo) * Double(sizes.y.upperBound + 2 * halo)
        let perArray = points * Double(MemoryLayout<Double>.stride)
        let perRank = Double(arrays) * perArray
        let onHost = perRank * Double(context.ranksOnHost)
        try context.world.collectively {
            guard let available = Machine.availableMemory(), onHost > Double(available.bytes) else { return }
            let ranks = context.ranksOnHost
            throw MiniappFailure(.unavailable, "not enough memory on \(context.hostname): "
                + (ranks > 1 ? "its \(ranks) ranks need \(format(onHost)) in all, " : "the rank needs \(format(onHost)), ")
                + "\(arrays) arrays of up to \(sizes.x.upperBound + 2 * halo) x \(sizes.y.upperBound + 2 * halo) doubles "
                + "(\(format(perArray)) each) per rank, but \(format(Double(available.bytes))) is available "
                + "(\(available.source)); use more nodes, fewer ranks per node or a smaller grid")
        }
    }

    private static func format(_ bytes: Double) -> String {
        bytes < 0x1p62 ? Format.bytes(Int(bytes)) : String(format: "%.3g TiB", bytes / 0x1p40)
    }
}
