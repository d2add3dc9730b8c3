import CHDF5
import Foundation
import HDF5
import MPI

/// The results of one run in one HDF5 file, written with parallel HDF5 by
/// every rank (see README, "Output"). The layout does not depend on the rank
/// count: each rank writes its own block of a field, and its own row of the
/// per-rank tables, by hyperslab, in collective calls; nothing is gathered.
///
/// The file is written as `<path>.incomplete` and renamed to `<path>` by
/// `finish()`, so a file under the final name is always complete.
public final class ResultFile {
    public let path: String
    public let temporaryPath: String
    private let communicator: Communicator
    private var file: File?
    private let transfer: PropertyList
    private var snapshotCount = 0
    private var snapshotSteps: [Int] = []
    private var snapshotTimes: [Double] = []
    private let grid: (nx: Int, ny: Int)
    /// Whether every field write went through collective MPI-IO (as HDF5 reports it).
    public private(set) var fieldWritesCollective = true

    public static func temporaryPath(for path: String) -> String { path + ".incomplete" }

    /// Creates the file (collective), with extendible `/fields/<name>`
    /// `[snapshots, ny, nx]` for each of `snapshotFields`. Any file at the
    /// temporary path is replaced.
    public init(path: String, communicator: Communicator, nx: Int, ny: Int, snapshotFields: [String],
                groups: [String] = []) throws {
        self.path = path
        temporaryPath = Self.temporaryPath(for: path)
        self.communicator = communicator
        grid = (nx, ny)
        file = try File.create(temporaryPath, communicator: communicator)
        transfer = try PropertyList.collectiveTransfer()
        for name in ["fields", "diagnostics", "timings", "decomposition", "results"] + groups where !file!.contains(name) {
            _ = try file!.createGroup(name)
        }
        // Chunks of about 1 MiB that depend only on the grid, not on the ranks.
        for name in snapshotFields {
            _ = try Dataset.create(in: try open(), name: "fields/\(name)", of: Double.self, dims: [0, ny, nx],
                                   maxDims: [nil, ny, nx], chunk: [1, min(ny, 128), min(nx, 1024)])
        }
        _ = try Dataset.create(in: try open(), name: "fields/step", of: Int64.self, dims: [0], maxDims: [nil], chunk: [256])
        _ = try Dataset.create(in: try open(), name: "fields/time", of: Double.self, dims: [0], maxDims: [nil], chunk: [256])
    }

    private func open() throws -> File {
        guard let file else { throw HDF5Error(operation: "writing '\(path)'", detail: "the file is closed") }
        return file
    }

    // MARK: Fields

    /// Appends a snapshot (collective): each of `fields` (name and its
    /// rank-local block) to `/fields/<name>`, and the step and time. A block
    /// is addressed by its point (0, 0) inside a `stride` x `storedRows` array
    /// with a halo of `halo`; only the owned block is written, without copying.
    public func writeSnapshot(fields: [(name: String, origin: UnsafePointer<Double>)], halo: Int, stride: Int,
                              storedRows: Int, offset: [Int], size: [Int], step: Int, time: Double) throws {
        for field in fields {
            let dataset = try Dataset.open(in: try open(), name: "fields/\(field.name)")
            try dataset.extend(to: [snapshotCount + 1, grid.ny, grid.nx])
            try writeBlock(dataset, leading: [snapshotCount], origin: field.origin, halo: halo, stride: stride,
                           storedRows: storedRows, offset: offset, size: size)
        }
        snapshotSteps.append(step)
        snapshotTimes.append(time)
        snapshotCount += 1
        try appendSeries("fields/step", values: [Int64(step)], at: snapshotCount - 1)
        try appendSeries("fields/time", values: [time], at: snapshotCount - 1)
    }

    /// Writes a field that does not change, as `/fields/<name>` `[ny, nx]` (collective).
    public func writeStaticField(_ name: String, origin: UnsafePointer<Double>, halo: Int, stride: Int, storedRows: Int,
                                 offset: [Int], size: [Int]) throws {
        let dataset = try Dataset.create(in: try open(), name: "fields/\(name)", of: Double.self, dims: [grid.ny, grid.nx],
                                         chunk: [min(grid.ny, 128), min(grid.nx, 1024)])
        try writeBlock(dataset, leading: [], origin: origin, halo: halo, stride: stride, storedRows: storedRows,
                       offset: offset, size: size)
    }

    private func writeBlock(_ dataset: Dataset, leading: [Int], origin: UnsafePointer<Double>, halo: Int, stride: Int,
                            storedRows: Int, offset: [Int], size: [Int]) throws {
        let fileSpace = try dataset.space()
        try fileSpace.select(start: leading + [offset[1], offset[0]], count: leading.map { _ in 1 } + [size[1], size[0]])
        let memory = try Dataspace(dims: [storedRows, stride])
        try memory.select(start: [halo, halo], count: [size[1], size[0]])
        let base = UnsafeRawPointer(origin - halo * stride - halo)
        try dataset.write(base, type: Double.hdf5Type, memory: memory, file: fileSpace, transfer: transfer)
        fieldWritesCollective = fieldWritesCollective && transfer.wasCollective
    }

    /// Steps and times of the snapshots written so far.
    public var snapshots: [(step: Int, time: Double)] { Array(zip(snapshotSteps, snapshotTimes)) }

    // MARK: Series and tables

    /// Writes `values` at `start` of an extendible 1D dataset, growing it
    /// (collective; every rank passes the same values, rank 0 writes them).
    public func appendSeries<T: HDF5Scalar>(_ name: String, values: [T], at start: Int) throws {
        let file = try open()
        let dataset = file.contains(name) ? try Dataset.open(in: file, name: name)
            : try Dataset.create(in: file, name: name, of: T.self, dims: [0], maxDims: [nil], chunk: [256])
        try dataset.extend(to: [start + values.count])
        try dataset.write(communicator.isRoot ? values : nil, start: [start], count: [values.count], transfer: transfer)
    }

    /// A [ranks, columns] table; each rank writes its own row (collective).
    public func writeRankRows<T: HDF5Scalar>(_ name: String, row: [T], attributes: [String: String] = [:]) throws {
        let dataset = try Dataset.create(in: try open(), name: name, of: T.self, dims: [communicator.size, row.count])
        try dataset.write(row, start: [communicator.rank, 0], count: [1, row.count], transfer: transfer)
        for (key, value) in attributes { try dataset.setAttribute(key, value) }
    }

    /// A [ranks] table of strings; each rank writes its own (collective).
    public func writeRankStrings(_ name: String, value: String) throws {
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

    /// Closes the file (collective) and, on rank 0, renames it to its final
    /// name and writes the XDMF sidecar. Returns the sidecar's path.
    @discardableResult
    public func finish(xdmf: XDMFDescription?) throws -> String? {
        try open().close()
        file = nil
        var failure: String? = nil
        var sidecar: String? = nil
        if communicator.isRoot {
            do {
                if rename(temporaryPath, path) != 0 {
                    throw POSIXFailure("cannot rename '\(temporaryPath)' to '\(path)'")
                }
                if let xdmf {
                    sidecar = XDMFDescription.sidecarPath(for: path)
                    try xdmf.document(snapshots: snapshots).write(toFile: sidecar!, atomically: true, encoding: .utf8)
                }
            } catch {
                failure = "\(error)"
            }
        }
        if let agreed = try communicator.agree(onFailure: failure) { throw POSIXFailure(agreed.message) }
        return sidecar
    }

    /// Closes and deletes the incomplete file (after an error): no
    /// half-written output is left behind. Collective if the file is open.
    public func abandon() {
        if let file { try? file.close() }
        file = nil
        if communicator.isRoot { unlink(temporaryPath) }
    }
}

/// Values of root attributes.
public enum AttributeValue: Sendable {
    case string(String), int(Int), ints([Int]), double(Double), doubles([Double])
}

struct POSIXFailure: Error, CustomStringConvertible {
    let message: String
    init(_ message: String) {
        let code = errno
        self.message = code != 0 ? "\(message): \(String(cString: strerror(code)))" : message
    }
    var description: String { message }
}
