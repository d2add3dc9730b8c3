import MPI

/// The process grid of a problem and this rank's block, chosen and checked
/// by every rank together, with the output path checked by rank 0; any
/// failure is agreed on first, so every rank stops the same way.
struct GridSetup {
    let topology: CartesianTopology
    let decomposition: Decomposition
    let block: Decomposition.Block

    var communicator: Communicator { topology.communicator }

    /// `checkpointPath`, when given, must not hold a checkpoint already
    /// (unless --force): a new run would replace it.
    init(context: RunContext, nx: Int, ny: Int, requestedDims: [Int], periods: [Bool], outputPath: String?,
         checkpointPath: String? = nil) throws {
        let world = context.world
        let dims = try world.collectively { () throws -> [Int] in
            do {
                return try GridPlan.chooseDims(nx: nx, ny: ny, ranks: world.size, requested: requestedDims)
            } catch let error as DecompositionError {
                throw MiniappFailure(.dataError, "\(context.options.inputName): \(error)")
            }
        }
        if let outputPath {
            try world.collectively {
                guard world.isRoot else { return }
                try checkOutputPath(outputPath, force: context.options.force)
                if let checkpointPath { try checkOutputPath(checkpointPath, force: context.options.force, kind: .checkpoint) }
            }
        }
        topology = try CartesianTopology(parent: world, dims: dims, periods: periods, reorder: true)
        if context.options.peerTimeout > 0 {
            // The watchdog names the neighbours a halo exchange waits for by world rank and host.
            let names = try topology.communicator.allgather(string: "rank \(MPIRuntime.worldRank) on \(context.hostname)")
            PeerWatchdog.register(topology.communicator, names: names)
        }
        decomposition = Decomposition(nx: nx, ny: ny, px: dims[0], py: dims[1])
        block = decomposition.block(coords: topology.coords)
    }

    /// "3 ranks on a 3 x 1 grid x 2 threads (--threads) = 6 in all"
    func processesLine(context: RunContext, threadSource: String) -> String {
        let ranks = communicator.size, threads = context.threads
        return "\(ranks) rank\(ranks == 1 ? "" : "s") on a \(decomposition.px) x \(decomposition.py) grid x \(threads) "
            + "thread\(threads == 1 ? "" : "s") (\(threadSource)) = \(ranks * threads) in all"
    }

    /// A halo `depth` points deep is filled from the neighbouring blocks only,
    /// so every block must be at least that wide along each axis. `key` names
    /// the input setting, `unit` what the grid counts ("points", "cells").
    func requireBlocks(coveringHalo depth: Int, key: String, unit: String, context: RunContext) throws {
        try communicator.collectively {
            let sizes = decomposition.blockSizeRange
            if min(sizes.x.lowerBound, sizes.y.lowerBound) < depth {
                throw MiniappFailure(.dataError, "\(context.options.inputName): \(key) \(depth) needs at least \(depth) "
                                     + "\(unit) per rank along each axis, but some blocks here are \(blocksLine) \(unit)")
            }
        }
    }

    /// "84-85 x 125 points per rank"
    var blocksLine: String {
        let sizes = decomposition.blockSizeRange
        let range = { (r: ClosedRange<Int>) in r.lowerBound == r.upperBound ? "\(r.lowerBound)" : "\(r.lowerBound)-\(r.upperBound)" }
        return "\(range(sizes.x)) x \(range(sizes.y))"
    }
}
