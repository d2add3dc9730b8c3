import Foundation
import HDF5
import MPI

extension ResultFile {
    /// For a restarted run: copies into this (new) file the snapshots that
    /// the results file of the interrupted run, `previous`, holds up to the
    /// checkpoint (`steps`, `times`), so that the series goes on as if the
    /// run had never stopped (collective). `scratch` holds one block per
    /// snapshot field while it travels.
    ///
    /// Returns a warning when they cannot all be taken over (the file is
    /// missing, damaged, or from another run): the new file then starts its
    /// snapshots later, and says so.
    func carryOverSnapshots(from previous: String, steps: [Int64], times: [Double], scratch: [Field],
                            block: Decomposition.Block) throws -> String? {
        guard !steps.isEmpty, !snapshotFields.isEmpty else { return nil }
        let missing = { (why: String, index: Int) in
            "the snapshots of steps \(steps[index])...\(steps.last!) could not be taken over from '\(previous)' "
                + "(\(why)); '\(self.path)' holds the snapshots after them only"
        }
        // Rank 0 checks the file first, on its own: most problems show here.
        var problem: String? = nil
        if communicator.isRoot { problem = Self.checkPrevious(previous, steps: steps, fields: snapshotFields, grid: grid) }
        if let agreed = try communicator.agree(onFailure: problem) { return missing(agreed.message, 0) }

        // Independent reads (a damaged part stops one rank, not all in a
        // collective), agreed on before each collective write.
        let file = try File.open(previous, communicator: communicator, collectiveMetadata: false)
        defer { try? file.close() }
        for index in steps.indices {
            var failure: String? = nil
            do {
                for (name, field) in zip(snapshotFields, scratch) {
                    let dataset = try Dataset.open(in: file, name: "fields/\(name)")
                    let (fileSpace, memory) = try Self.selections(dataset, leading: [index], field, block: block)
                    try dataset.read(into: UnsafeMutableRawPointer(field.storedRow(-field.halo)), type: Double.hdf5Type,
                                     memory: memory, file: fileSpace, transfer: nil)
                }
            } catch {
                failure = "\(error)"
            }
            if let agreed = try communicator.agree(onFailure: failure) { return missing(agreed.message, index) }
            try writeSnapshot(fields: Array(zip(snapshotFields, scratch)), block: block, step: Int(steps[index]),
                              time: times[index])
        }
        return nil
    }

    /// Why `path` cannot provide the snapshots `steps` of `fields`, or nil.
    private static func checkPrevious(_ path: String, steps: [Int64], fields: [String], grid: (nx: Int, ny: Int)) -> String? {
        guard FileManager.default.fileExists(atPath: path) else { return "there is no such file" }
        guard File.isHDF5(path) else { return "not an HDF5 file" }
        do {
            let file = try File.openSerial(path)
            guard file.contains("fields/step") else { return "no /fields/step" }
            let stored = try Dataset.open(in: file, name: "fields/step").read(Int64.self)
            guard stored.starts(with: steps) else { return "its snapshots are of other steps: another run's file" }
            for name in fields {
                guard file.contains("fields/\(name)") else { return "no /fields/\(name)" }
                let dims = try Dataset.open(in: file, name: "fields/\(name)").dims
                guard dims.count == 3, dims[0] >= steps.count, dims[1] == grid.ny, dims[2] == grid.nx else {
                    return "/fields/\(name) has shape \(dims)"
                }
            }
            return nil
        } catch {
            return "\(error)"
        }
    }
}
