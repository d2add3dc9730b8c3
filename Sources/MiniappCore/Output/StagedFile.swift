import Foundation
import HDF5
import MPI

/// An HDF5 file written in parallel by every rank under a temporary name
/// (`<path>.incomplete`) and renamed to `path` only once it is complete and
/// on disk, so that a file under its final name is always whole: a crash, a
/// full disk or a second signal leaves the previous file of that name intact.
///
/// Grid-sized arrays are written by hyperslab, each rank its own block, in
/// collective calls; nothing is gathered. The results file (`ResultFile`) and
/// the checkpoint (`CheckpointFile`) are both staged files.
public class StagedFile {
    public let path: String
    public let temporaryPath: String
    /// "output" or "checkpoint", for messages and MINIAPP_FAULT's `file=`.
    let role: String
    let communicator: Communicator
    private(set) var file: File?
    let transfer: PropertyList
    let grid: (nx: Int, ny: Int)
    /// Whether every field write went through collective MPI-IO (as HDF5 reports it).
    public private(set) var fieldWritesCollective = true
    /// Registration with the stop-signal handler, which removes the file if
    /// a second signal ends the process while it is being written.
    private var cleanupToken: Int32 = -1

    public static func temporaryPath(for path: String) -> String { path + ".incomplete" }

    /// Creates the file (collective) with `groups`; any file at the temporary
    /// path is replaced.
    init(path: String, role: String, communicator: Communicator, nx: Int, ny: Int, groups: [String]) throws {
        self.path = path
        temporaryPath = Self.temporaryPath(for: path)
        self.role = role
        self.communicator = communicator
        grid = (nx, ny)
        transfer = try PropertyList.collectiveTransfer()
        cleanupToken = StopSignals.registerUnfinished(temporaryPath)
        Self.unfinished.insert(temporaryPath)
        try Self.collective("creating a file (collective HDF5)") {
            file = try File.create(temporaryPath, communicator: communicator)
            for name in groups where !file!.contains(name) { _ = try file!.createGroup(name) }
            // Every rank has the file open before any can fail a write and remove
            // it: a slower rank's create must not bring the removed file back.
            try communicator.barrier()
        }
    }

    /// A collective HDF5 operation, watched by `PeerWatchdog` as one
    /// blocking call: HDF5 makes its MPI calls itself. Moving `bytes` may
    /// take its time on top of any wait for other ranks, at the pace of a
    /// slow parallel file system (`slowFileSystem`).
    static func collective<T>(_ what: StaticString, bytes: Double = 0, _ body: () throws -> T) rethrows -> T {
        try BlockingCalls.during(what, allowance: bytes / slowFileSystem, body)
    }

    /// Bytes per second that a file system is not expected to fall below,
    /// for a whole collective write (all ranks together): 10 MB/s.
    static let slowFileSystem = 10e6

    /// A staged file still open here was left by an error: closing it is
    /// collective, and other ranks may be elsewhere, so it is not closed, and
    /// it stays registered for removal (the job is being aborted).
    deinit {
        if let file {
            file.abandonWithoutClosing()
        } else {
            StopSignals.unregister(cleanupToken)
        }
    }

    func open() throws -> File {
        guard let file else { throw HDF5Error(operation: "writing '\(path)'", detail: "the file is closed") }
        return file
    }

    // MARK: Grid-sized arrays

    /// Writes a field as `name` `[ny, nx]` (collective), chunked or contiguous.
    @discardableResult
    public func writeStaticField(_ name: String, _ field: Field, block: Decomposition.Block,
                                 chunked: Bool = true) throws -> Dataset {
        let dataset = try Dataset.create(in: try open(), name: name, of: Double.self, dims: [grid.ny, grid.nx],
                                         chunk: chunked ? Self.fieldChunk(nx: grid.nx, ny: grid.ny) : nil)
        try writeBlock(dataset, leading: [], field, block: block)
        return dataset
    }

    /// Chunks of about 1 MiB that depend only on the grid, not on the ranks.
    static func fieldChunk(nx: Int, ny: Int) -> [Int] { [min(ny, 128), min(nx, 1024)] }

    /// Writes this rank's `block` of the grid, held in `field`, into
    /// `dataset` at index `leading` of its leading dimensions: the owned
    /// points only, straight from the field's memory (a hyperslab of it).
    func writeBlock(_ dataset: Dataset, leading: [Int], _ field: Field, block: Decomposition.Block) throws {
        if FaultInjection.fires(.write, file: role) {
            throw HDF5Error(operation: "writing dataset '\(dataset.name)' of '\(temporaryPath)'",
                            detail: "injected fault (\(FaultInjection.variable))")
        }
        let (fileSpace, memory) = try Self.selections(dataset, leading: leading, field, block: block)
        try Self.collective("writing a field (collective HDF5)", bytes: Double(grid.nx) * Double(grid.ny) * 8) {
            try dataset.write(UnsafeRawPointer(field.storedRow(-field.halo)), type: Double.hdf5Type, memory: memory,
                              file: fileSpace, transfer: transfer)
        }
        fieldWritesCollective = fieldWritesCollective && transfer.wasCollective
    }

    /// The block's hyperslab in the file, and the owned points in the field's memory.
    static func selections(_ dataset: Dataset, leading: [Int], _ field: Field,
                           block: Decomposition.Block) throws -> (file: Dataspace, memory: Dataspace) {
        let fileSpace = try dataset.space()
        try fileSpace.select(start: leading + [block.offset[1], block.offset[0]],
                             count: leading.map { _ in 1 } + [block.ny, block.nx])
        let memory = try Dataspace(dims: [field.rows, field.stride])
        try memory.select(start: [field.halo, field.halo], count: [block.ny, block.nx])
        return (fileSpace, memory)
    }

    // MARK: Series and tables

    /// Writes `values` at `start` of an extendible 1D dataset, growing it
    /// (collective; every rank passes the same values, rank 0 writes them).
    public func appendSeries<T: HDF5Scalar>(_ name: String, values: [T], at start: Int) throws {
        let file = try open()
        try Self.collective("writing a series (collective HDF5)") {
            let dataset = file.contains(name) ? try Dataset.open(in: file, name: name)
                : try Dataset.create(in: file, name: name, of: T.self, dims: [0], maxDims: [nil], chunk: [256])
            try dataset.extend(to: [start + values.count])
            try dataset.write(communicator.isRoot ? values : nil, start: [start], count: [values.count], transfer: transfer)
        }
    }

    /// A [ranks, columns] table; each rank writes its own row (collective).
    public func writeRankRows<T: HDF5Scalar>(_ name: String, row: [T], attributes: [String: String] = [:]) throws {
        try Self.collective("writing a table (collective HDF5)") {
            let dataset = try Dataset.create(in: try open(), name: name, of: T.self, dims: [communicator.size, row.count])
            try dataset.write(row, start: [communicator.rank, 0], count: [1, row.count], transfer: transfer)
            for (key, value) in attributes { try dataset.setAttribute(key, value) }
        }
    }

    /// A [ranks] table of strings; each rank writes its own (collective).
    public func writeRankStrings(_ name: String, value: String) throws {
        try Self.collective("writing a table (collective HDF5)") { try writeRankStringsNow(name, value: value) }
    }

    private func writeRankStringsNow(_ name: String, value: String) throws {
        let length = Int(try communicator.allreduce(Int64(max(1, value.utf8.count)), op: .max))
        let type = try StringType(length: length)
        let dataset = try Dataset.create(in: try open(), name: name, type: type.id, dims: [communicator.size])
        let space = try dataset.space()
        try space.select(start: [communicator.rank], count: [1])
        let memory = try Dataspace(dims: [1])
        try type.pack([value]).withUnsafeBytes {
            try dataset.write($0.baseAddress, type: type.id, memory: memory, file: space, transfer: transfer)
        }
    }

    /// A 1D dataset of strings, the same on every rank (rank 0 writes it).
    public func writeStrings(_ name: String, values: [String]) throws {
        try Self.collective("writing a table (collective HDF5)") { try writeStringsNow(name, values: values) }
    }

    private func writeStringsNow(_ name: String, values: [String]) throws {
        let length = values.map(\.utf8.count).max() ?? 1
        let type = try StringType(length: length)
        let dataset = try Dataset.create(in: try open(), name: name, type: type.id, dims: [values.count])
        let space = try dataset.space()
        let memory = try Dataspace(dims: [max(1, values.count)])
        if !communicator.isRoot { try space.selectNone(); try memory.selectNone() }
        try type.pack(values).withUnsafeBytes {
            try dataset.write($0.baseAddress, type: type.id, memory: memory, file: space, transfer: transfer)
        }
    }

    // MARK: Attributes

    /// Attributes on the root group or a group path (collective; the same values on every rank).
    public func setAttributes(_ values: [String: AttributeValue], on groupPath: String = "/") throws {
        try Self.collective("writing attributes (collective HDF5)") { try setAttributesNow(values, on: groupPath) }
    }

    private func setAttributesNow(_ values: [String: AttributeValue], on groupPath: String) throws {
        let file = try open()
        let target: any Location = groupPath == "/" ? file : try file.openGroup(groupPath)
        for key in values.keys.sorted() {
            switch values[key]! {
            case .string(let s): try target.setAttribute(key, s)
            case .int(let n): try target.setAttribute(key, Int64(n))
            case .ints(let ns): try target.setAttribute(key, ns.map(Int64.init))
            case .double(let x): try target.setAttribute(key, x)
            case .doubles(let xs): try target.setAttribute(key, xs)
            }
        }
    }

    // MARK: Completion

    /// Flushes the file to disk, closes it (collective) and renames it to its
    /// final name (rank 0), replacing the previous file of that name only now.
    /// Every rank learns whether that worked.
    func commit() throws {
        let file = try open()
        var size = stat()
        let bytes = stat(temporaryPath, &size) == 0 ? Double(size.st_size) : 0
        try Self.collective("closing and syncing a file (collective HDF5)", bytes: bytes) {
            try file.flush()   // MPI_File_sync: the data is on disk before the rename
            try file.close()
        }
        self.file = nil
        var failure: String? = nil
        if communicator.isRoot {
            if rename(temporaryPath, path) != 0 {
                failure = POSIXFailure("cannot rename '\(temporaryPath)' to '\(path)'").message
            } else {
                syncDirectory(of: path)
            }
        }
        StopSignals.unregister(cleanupToken)
        cleanupToken = -1
        Self.unfinished.remove(temporaryPath)
        if let agreed = try communicator.agree(onFailure: failure) { throw POSIXFailure(agreed.message) }
    }

    /// Closes and deletes the incomplete file (after an error): no
    /// half-written file is left behind. Collective if the file is open.
    public func abandon() {
        if let file { try? file.close() }
        file = nil
        if communicator.isRoot { unlink(temporaryPath) }
        StopSignals.unregister(cleanupToken)
        cleanupToken = -1
        Self.unfinished.remove(temporaryPath)
    }

    // MARK: Diagnosis

    /// Files being written (main thread only).
    nonisolated(unsafe) private static var unfinished: Set<String> = []

    /// After a failed write: a note on the file systems of the files being
    /// written that are (nearly) full, since HDF5's message does not say so.
    static func fullFileSystemNote() -> String? {
        var notes: [String] = []
        for path in unfinished.sorted() {
            let directory = (path as NSString).deletingLastPathComponent
            var info = statvfs()
            guard statvfs(directory.isEmpty ? "." : directory, &info) == 0 else { continue }
            let free = Int(info.f_bavail) * Int(info.f_frsize)
            let size = Int(info.f_blocks) * Int(info.f_frsize)
            if free < 16 << 20 || free < size / 100 {
                let name = path.hasSuffix(".incomplete") ? String(path.dropLast(".incomplete".count)) : path
                notes.append("the file system holding '\(name)' is full: \(Format.bytes(free)) left")
            }
        }
        return notes.isEmpty ? nil : notes.joined(separator: "; ")
    }
}

/// Makes a rename durable: the directory entry is on disk too.
private func syncDirectory(of path: String) {
    let directory = (path as NSString).deletingLastPathComponent
    let fd = Foundation.open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY)
    guard fd >= 0 else { return }
    fsync(fd)
    close(fd)
}

struct POSIXFailure: Error, CustomStringConvertible {
    let message: String
    init(_ message: String) {
        let code = errno
        self.message = code != 0 ? "\(message): \(String(cString: strerror(code)))" : message
    }
    var description: String { message }
}
