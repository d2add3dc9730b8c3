import Foundation
import HDF5
import Kernels
import MPI
import ThreadPool

/// The state of a run at the end of one step: enough to continue it on any
/// number of ranks and threads and reach the same results, bit for bit, as a
/// run that never stopped (docs/guide/restart-and-faults.md).
///
/// In the file (parallel HDF5, staged like the results file):
///
///     /                  miniapp_checkpoint (format), problem, step, time, nx, ny,
///                        input_json (the effective input), output_path,
///                        state_fields, series_int64, series_double (names),
///                        miniapp_version, ranks, threads, written_at
///     /state/<field>     [ny, nx] doubles, with their exact sum and sum of
///                        squares as attributes (checked when read back);
///                        the group's attributes hold extra scalars
///     /<series>          the records so far, at their paths in the results file
///     /snapshots/step, /snapshots/time
///                        the snapshots the results file holds so far
struct Checkpoint {
    static let formatVersion = 1

    enum Series: Equatable {
        case ints([Int64]), doubles([Double])
        var count: Int {
            switch self {
            case .ints(let v): v.count
            case .doubles(let v): v.count
            }
        }
    }

    var problem: String
    var step: Int
    var time: Double
    var nx: Int, ny: Int
    var inputJSON: String
    var outputPath: String
    /// Names of the grid-sized state arrays, in /state.
    var stateFields: [String]
    /// Records so far (per-step diagnostics, summaries), by their path in the results file.
    var series: [String: Series] = [:]
    var snapshotSteps: [Int64] = []
    var snapshotTimes: [Double] = []
    /// Extra state that is not grid-sized (e.g. eigenvalue estimates).
    var scalars: [String: Double] = [:]
    /// "miniapp 0.1.0, 4 ranks x 2 threads, 2026-11-21T10:00:00Z" (when read back).
    var writtenBy = ""
}

/// Exact checksums of a distributed field: the sum of its values and of their
/// squares, each rounded once, so they do not depend on the decomposition.
/// A non-finite sum means the field holds a NaN or an infinity.
struct FieldChecksum: Equatable {
    let sum: Double
    let sumOfSquares: Double

    var isFinite: Bool { sum.isFinite && sumOfSquares.isFinite }

    /// Collective over `communicator`; the threads of `pool` share the rows.
    static func compute(_ field: Field, block: Decomposition.Block, pool: ForkJoinPool,
                        communicator: Communicator) throws -> FieldChecksum {
        let rows = BlockPartition(count: block.ny, parts: pool.threadCount)
        let partials = PerThread(count: pool.threadCount, initial: (ExactSum(), ExactSum()))
        let (origin, stride, nx) = (UnsafePointer(field.origin), field.stride, block.nx)
        pool.run { t in
            let slot = partials.pointer(t)
            for j in rows.range(of: t) {
                slot.pointee.0.add(origin + j * stride, count: nx)
                slot.pointee.1.addProducts(origin + j * stride, origin + j * stride, count: nx)
            }
        }
        var sum = ExactSum(), squares = ExactSum()
        for t in 0..<pool.threadCount {
            sum.add(partials[t].0)
            squares.add(partials[t].1)
        }
        let reduced = try ExactReduction(communicator).reduce(sums: [sum, squares]).sums
        return FieldChecksum(sum: reduced[0], sumOfSquares: reduced[1])
    }
}

/// A checkpoint being written.
final class CheckpointFile: StagedFile {
    /// The state's fields are not finite: nothing was written.
    struct NonFiniteState: Error {
        let field: String
    }

    /// Writes `checkpoint` with this rank's `block` of each of `fields`
    /// (collective), staged: the previous checkpoint at `path` is replaced
    /// only once this one is complete. Throws `NonFiniteState`, before
    /// creating anything, if a field holds a NaN or an infinity.
    static func write(_ checkpoint: Checkpoint, fields: [(name: String, field: Field)], block: Decomposition.Block,
                      path: String, context: RunContext, communicator: Communicator) throws {
        var checksums: [FieldChecksum] = []
        for (name, field) in fields {
            let checksum = try FieldChecksum.compute(field, block: block, pool: context.pool, communicator: communicator)
            guard checksum.isFinite else { throw NonFiniteState(field: name) }
            checksums.append(checksum)
        }
        // Collective HDF5 calls from here on, watched as one (PeerWatchdog):
        // the fields' bytes are written, then synced.
        let bytes = 2 * Double(fields.count) * Double(checkpoint.nx) * Double(checkpoint.ny) * 8
        try StagedFile.collective("writing a checkpoint (collective HDF5)", bytes: bytes) {
            let groups = Set(checkpoint.series.keys.compactMap { $0.split(separator: "/").dropLast().first.map(String.init) })
            let file = try CheckpointFile(path: path, role: "checkpoint", communicator: communicator,
                                          nx: checkpoint.nx, ny: checkpoint.ny, groups: ["state", "snapshots"] + groups.sorted())
            // A failure here may hit one rank only, inside collective calls: the
            // caller ends the job (JobAbort.abort), which removes the unfinished file.
            for ((name, field), checksum) in zip(fields, checksums) {
                let dataset = try file.writeStaticField("state/\(name)", field, block: block, chunked: false)
                try dataset.setAttribute("sum", checksum.sum)
                try dataset.setAttribute("sum_of_squares", checksum.sumOfSquares)
            }
            for name in checkpoint.series.keys.sorted() {
                switch checkpoint.series[name]! {
                case .ints(let values): try file.appendSeries(name, values: values, at: 0)
                case .doubles(let values): try file.appendSeries(name, values: values, at: 0)
                }
            }
            try file.appendSeries("snapshots/step", values: checkpoint.snapshotSteps, at: 0)
            try file.appendSeries("snapshots/time", values: checkpoint.snapshotTimes, at: 0)
            try file.setAttributes(checkpoint.scalars.mapValues { .double($0) }, on: "state")
            let names = { (ints: Bool) in
                checkpoint.series.keys.sorted().filter { if case .ints = checkpoint.series[$0]! { ints } else { !ints } }
                    .joined(separator: ",")
            }
            try file.setAttributes([
                "miniapp_checkpoint": .int(Checkpoint.formatVersion), "problem": .string(checkpoint.problem),
                "step": .int(checkpoint.step), "time": .double(checkpoint.time),
                "nx": .int(checkpoint.nx), "ny": .int(checkpoint.ny),
                "input_json": .string(checkpoint.inputJSON), "output_path": .string(checkpoint.outputPath),
                "state_fields": .string(checkpoint.stateFields.joined(separator: ",")),
                "state_scalars": .string(checkpoint.scalars.keys.sorted().joined(separator: ",")),
                "series_int64": .string(names(true)), "series_double": .string(names(false)),
                "miniapp_version": .string(miniappVersion), "ranks": .int(communicator.size),
                "threads": .int(context.threads), "written_at": .string(ISO8601DateFormatter().string(from: Date())),
            ])
            try file.commit()
        }
    }
}

// MARK: Reading

extension Checkpoint {
    /// On one rank: checks that `path` is a checkpoint this version can
    /// read, with every dataset it names of the right shape, and returns it
    /// without its fields. Every problem is a `MiniappFailure` with a message
    /// that says what is wrong.
    static func inspect(_ path: String) throws -> Checkpoint {
        var info = stat()
        if stat(path, &info) != 0 {
            throw MiniappFailure(.noInput, "cannot read restart file '\(path)': \(String(cString: strerror(errno)))")
        }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            throw MiniappFailure(.noInput, "restart file '\(path)' is a directory")
        }
        let unusable = { (why: String) in MiniappFailure(.dataError, "restart file '\(path)' \(why)") }
        guard File.isHDF5(path) else { throw unusable("is not an HDF5 file (not a miniapp checkpoint)") }
        let file: File
        do { file = try File.openSerial(path) } catch {
            throw unusable("cannot be read, it may be truncated or damaged: \(error)")
        }
        guard file.hasAttribute("miniapp_checkpoint") else {
            throw unusable("is an HDF5 file but not a miniapp checkpoint (no 'miniapp_checkpoint' attribute; "
                           + "a results file is not a checkpoint)")
        }
        do {
            return try read(from: file, path: path)
        } catch let failure as MiniappFailure {
            throw failure
        } catch {
            throw unusable("is damaged: \(error)")
        }
    }

    /// Reads everything but the fields, checking shapes (any rank, any file handle).
    private static func read(from file: File, path: String) throws -> Checkpoint {
        let unusable = { (why: String) in MiniappFailure(.dataError, "restart file '\(path)' \(why)") }
        let version = Int(try file.attribute("miniapp_checkpoint", as: Int64.self)[0])
        guard version == formatVersion else {
            throw unusable("has checkpoint format \(version); this miniapp \(miniappVersion) reads format \(formatVersion)")
        }
        let int = { (name: String) throws -> Int in Int(try file.attribute(name, as: Int64.self)[0]) }
        let list = { (name: String) throws -> [String] in
            try file.stringAttribute(name).split(separator: ",").map(String.init)
        }
        var checkpoint = Checkpoint(
            problem: try file.stringAttribute("problem"), step: try int("step"),
            time: try file.attribute("time", as: Double.self)[0], nx: try int("nx"), ny: try int("ny"),
            inputJSON: try file.stringAttribute("input_json"), outputPath: try file.stringAttribute("output_path"),
            stateFields: try list("state_fields"))
        guard checkpoint.step >= 0, checkpoint.nx > 0, checkpoint.ny > 0, !checkpoint.stateFields.isEmpty else {
            throw unusable("has an impossible header (step \(checkpoint.step), grid \(checkpoint.nx) x \(checkpoint.ny))")
        }
        for name in checkpoint.stateFields {
            guard file.contains("state/\(name)") else { throw unusable("has no state field '\(name)'") }
            let dims = try Dataset.open(in: file, name: "state/\(name)").dims
            guard dims == [checkpoint.ny, checkpoint.nx] else {
                throw unusable("has state field '\(name)' of shape \(dims), not [\(checkpoint.ny), \(checkpoint.nx)]")
            }
        }
        for name in try list("series_int64") {
            checkpoint.series[name] = .ints(try Dataset.open(in: file, name: name).read(Int64.self))
        }
        for name in try list("series_double") {
            checkpoint.series[name] = .doubles(try Dataset.open(in: file, name: name).read(Double.self))
        }
        checkpoint.snapshotSteps = try Dataset.open(in: file, name: "snapshots/step").read(Int64.self)
        checkpoint.snapshotTimes = try Dataset.open(in: file, name: "snapshots/time").read(Double.self)
        guard checkpoint.snapshotSteps.count == checkpoint.snapshotTimes.count else {
            throw unusable("has \(checkpoint.snapshotSteps.count) snapshot steps but \(checkpoint.snapshotTimes.count) times")
        }
        checkpoint.writtenBy = "miniapp \(try file.stringAttribute("miniapp_version")), \(try int("ranks")) ranks x "
            + "\(try int("threads")) threads, \(try file.stringAttribute("written_at"))"
        let state = try file.openGroup("state")
        for name in try list("state_scalars") {
            checkpoint.scalars[name] = try state.attribute(name, as: Double.self)[0]
        }
        return checkpoint
    }

    /// Reads the checkpoint at `path` on every rank, and this rank's `block`
    /// of each state field into `fields` (collective). The fields are checked
    /// against their checksums: a damaged file is refused, on every rank.
    static func load(_ path: String, into fields: [(name: String, field: Field)], block: Decomposition.Block,
                     context: RunContext, communicator: Communicator) throws -> Checkpoint {
        // Independent metadata and data reads: a rank that meets a damaged
        // part of the file stops reading without leaving others in a collective.
        var stored: [FieldChecksum] = []
        let checkpoint = try communicator.collectively { () throws -> Checkpoint in
            do {
                let file = try File.open(path, communicator: communicator, collectiveMetadata: false)
                defer { try? file.close() }
                let checkpoint = try read(from: file, path: path)
                for (name, field) in fields {
                    let dataset = try Dataset.open(in: file, name: "state/\(name)")
                    stored.append(FieldChecksum(sum: try dataset.attribute("sum", as: Double.self)[0],
                                                sumOfSquares: try dataset.attribute("sum_of_squares", as: Double.self)[0]))
                    let (fileSpace, memory) = try StagedFile.selections(dataset, leading: [], field, block: block)
                    try dataset.read(into: UnsafeMutableRawPointer(field.storedRow(-field.halo)), type: Double.hdf5Type,
                                     memory: memory, file: fileSpace, transfer: nil)
                }
                return checkpoint
            } catch let failure as MiniappFailure {
                throw failure
            } catch {
                throw MiniappFailure(.dataError, "restart file '\(path)' cannot be read: \(error)")
            }
        }
        for ((name, field), expected) in zip(fields, stored) {
            let found = try FieldChecksum.compute(field, block: block, pool: context.pool, communicator: communicator)
            if found != expected {
                throw MiniappFailure(.dataError, "restart file '\(path)' is damaged: field '\(name)' read back does not match "
                                     + "its checksum (sum \(found.sum) instead of \(expected.sum))")
            }
        }
        return checkpoint
    }
}
