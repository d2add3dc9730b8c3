import Foundation

/// Refuses, before anything is allocated, a run whose grid arrays would not
/// fit in memory: the ranks that share a machine must fit in what it has
/// available, so a grid that is too large stops with needed against available
/// instead of being killed by the out-of-memory killer halfway through set-up.
enum MemoryCheck {
    /// - Parameters:
    ///   - arrays: grid-sized arrays of doubles each rank holds, with a halo
    ///     of `halo` points (rows padded as `Field` pads them); they dominate
    ///     a rank's memory.
    ///   - scratchBytes: what else a rank holds, given its largest block's row
    ///     length (the temporal-blocking rings of its threads).
    static func require(arrays: Int, halo: Int, setup: GridSetup, context: RunContext,
                        scratchBytes: (_ nx: Int) -> Int = { _ in 0 }) throws {
        let sizes = setup.decomposition.blockSizeRange
        let stride = Field.paddedStride(nx: sizes.x.upperBound, halo: halo)
        // In floating point: a grid of 2^31 x 2^31 on one rank overflows Int64 bytes.
        let points = Double(stride) * Double(sizes.y.upperBound + 2 * halo)
        let perArray = points * Double(MemoryLayout<Double>.stride)
        let scratch = Double(scratchBytes(sizes.x.upperBound))
        let perRank = Double(arrays) * perArray + scratch
        let onHost = perRank * Double(context.ranksOnMachine)
        try context.world.collectively {
            guard let available = Machine.availableMemory(), onHost > Double(available.bytes) else { return }
            let ranks = context.ranksOnMachine
            throw MiniappFailure(.unavailable, "not enough memory on \(context.whereabouts): "
                + (ranks > 1 ? "its \(ranks) ranks need \(format(onHost)) in all, " : "the rank needs \(format(onHost)), ")
                + "\(arrays) arrays of up to \(stride) x \(sizes.y.upperBound + 2 * halo) doubles "
                + "(\(format(perArray)) each)\(scratch > 0 ? " and \(format(scratch)) of scratch rows" : "") per rank, "
                + "but \(format(Double(available.bytes))) is available "
                + "(\(available.source)); use more nodes, fewer ranks per node or a smaller grid")
        }
    }

    private static func format(_ bytes: Double) -> String {
        bytes < 0x1p62 ? Format.bytes(Int(bytes)) : String(format: "%.3g TiB", bytes / 0x1p40)
    }
}
