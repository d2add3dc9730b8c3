import Foundation
import HDF5
import MPI

/// The results of one run in one HDF5 file (see docs/guide/output.md), written
/// with parallel HDF5 by every rank; its layout does not depend on the rank
/// count. Field snapshots go to extendible `/fields/<name>` `[snapshots, ny, nx]`
/// with their steps and times in `/fields/step` and `/fields/time`.
///
/// Staged: written as `<path>.incomplete`, renamed by `finish()`.
public final class ResultFile: StagedFile {
    private var snapshotSteps: [Int] = []
    private var snapshotTimes: [Double] = []
    let snapshotFields: [String]

    /// Creates the file (collective), with an empty series of snapshots for
    /// each of `snapshotFields`.
    public init(path: String, communicator: Communicator, nx: Int, ny: Int, snapshotFields: [String],
                groups: [String] = []) throws {
        self.snapshotFields = snapshotFields
        try super.init(path: path, role: "output", communicator: communicator, nx: nx, ny: ny,
                       groups: ["fields", "diagnostics", "timings", "decomposition", "results"] + groups)
        for name in snapshotFields {
            _ = try Dataset.create(in: try open(), name: "fields/\(name)", of: Double.self, dims: [0, ny, nx],
                                   maxDims: [nil, ny, nx], chunk: [1] + Self.fieldChunk(nx: nx, ny: ny))
        }
        _ = try Dataset.create(in: try open(), name: "fields/step", of: Int64.self, dims: [0], maxDims: [nil], chunk: [256])
        _ = try Dataset.create(in: try open(), name: "fields/time", of: Double.self, dims: [0], maxDims: [nil], chunk: [256])
    }

    /// Appends a snapshot (collective): this rank's `block` of each of
    /// `fields` to `/fields/<name>`, and the step and time.
    public func writeSnapshot(fields: [(name: String, field: Field)], block: Decomposition.Block, step: Int,
                              time: Double) throws {
        let index = snapshotSteps.count
        let bytes = Double(fields.count) * Double(grid.nx) * Double(grid.ny) * 8
        try Self.collective("writing a snapshot (collective HDF5)", bytes: bytes) {
            for field in fields {
                let dataset = try Dataset.open(in: try open(), name: "fields/\(field.name)")
                try dataset.extend(to: [index + 1, grid.ny, grid.nx])
                try writeBlock(dataset, leading: [index], field.field, block: block)
            }
            snapshotSteps.append(step)
            snapshotTimes.append(time)
            try appendSeries("fields/step", values: [Int64(step)], at: index)
            try appendSeries("fields/time", values: [time], at: index)
        }
    }

    /// Steps and times of the snapshots written so far.
    public var snapshots: [(step: Int, time: Double)] { Array(zip(snapshotSteps, snapshotTimes)) }

    /// Closes the file (collective) and, on rank 0, renames it to its final
    /// name and writes the XDMF sidecar. Returns the sidecar's path.
    @discardableResult
    public func finish(xdmf: XDMFDescription?) throws -> String? {
        try describeDatasets(xdmf)
        try commit()
        var failure: String? = nil
        var sidecar: String? = nil
        if communicator.isRoot, let xdmf {
            do {
                sidecar = XDMFDescription.sidecarPath(for: path)
                try xdmf.document(snapshots: snapshots).write(toFile: sidecar!, atomically: true, encoding: .utf8)
            } catch {
                failure = "\(error)"
            }
        }
        if let agreed = try communicator.agree(onFailure: failure) { throw POSIXFailure(agreed.message) }
        return sidecar
    }
}
