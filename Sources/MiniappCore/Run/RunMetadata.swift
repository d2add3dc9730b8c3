import Kernels
import Foundation
import HDF5
import Launch
import MPI
import Platform

/// What performance engineers record with every run (the keys of LLNL's
/// Adiak, where it has one): the code and its build, the libraries, the
/// machine, the job and its launch. The results file has them as root
/// attributes, the `--json` summary as "metadata".
struct RunMetadata {
    let entries: [(key: String, value: String)]

    /// Collective: rank 0's values, in one broadcast. `hostnames`: every
    /// rank's, in rank order (as `RunContext` gathered them).
    init(world: Communicator, hostnames: [String], mpiLibrary: String) throws {
        let environment = ProcessInfo.processInfo.environment
        var distinct: [String] = []
        for host in hostnames where !distinct.contains(host) { distinct.append(host) }
        let jobID = ["SLURM_JOB_ID", "PBS_JOBID", "LSB_JOBID", "COBALT_JOBID", "JOB_ID"].lazy
            .compactMap { environment[$0] }.first ?? ""
        let local: [(String, String)] = [
            ("version", miniappVersion),
            ("git_commit", BuildInfo.gitCommit),
            ("compiler", BuildInfo.compiler),
            ("mpi_compiler_wrapper", BuildInfo.mpiCompilerWrapper),
            ("kernel_vectors", kernelVectorExtension),
            ("mpi_library", mpiLibrary),
            ("hdf5_version", HDF5Library.version),
            ("cpu_model", Machine.cpuModel),
            ("hostnames", distinct.joined(separator: ",")),
            ("num_hosts", String(distinct.count)),
            ("job_id", jobID),
            ("launcher", LaunchEnvironment(environment).job?.launcher ?? "none (a single process)"),
            ("command_line", CommandLine.arguments.map(Self.shellQuoted).joined(separator: " ")),
            ("working_directory", FileManager.default.currentDirectoryPath),
            ("user", Self.userName(environment)),
            ("launch_date", ISO8601DateFormatter().string(from: Date())),
        ]
        // No value holds a NUL: it separates them.
        let values = try world.broadcast(string: local.map(\.1).joined(separator: "\u{0}"))
            .split(separator: "\u{0}", omittingEmptySubsequences: false).map(String.init)
        entries = zip(local, values).map { ($0.0, $1) }
    }

    var attributes: [String: AttributeValue] {
        Dictionary(uniqueKeysWithValues: entries.map { ($0.key, .string($0.value)) })
    }

    var json: JSONNode {
        .object(entries.map { ($0.key, $0.key == "num_hosts" ? .int(Int($0.value) ?? 0) : .string($0.value)) })
    }

    private static func userName(_ environment: [String: String]) -> String {
        if let name = environment["USER"] ?? environment["LOGNAME"] { return name }
        guard let entry = getpwuid(getuid()), let name = entry.pointee.pw_name else { return String(getuid()) }
        return String(cString: name)
    }

    /// A word as a POSIX shell would need it to read it back.
    static func shellQuoted(_ word: String) -> String {
        let plain = word.allSatisfy { $0.isLetter || $0.isNumber || "-_./=:,+@%".contains($0) }
        return plain && !word.isEmpty ? word : "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
