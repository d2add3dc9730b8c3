import MPI

/// How a job of this build's MPI is started: Open MPI's mpirun, the MPICH
/// family's Hydra mpiexec, or Slurm's srun with the PMI plugin that MPI
/// speaks. The one place that knows their options: the project's scripts,
/// jobs, tests and `miniapp bench` all start miniapp through it
/// (`miniapp launch`).
public struct Launcher: Equatable, Sendable {
    public enum Kind: String, Sendable {
        case openMPI = "mpirun"
        case hydra = "mpiexec"
        case srun
    }

    public let kind: Kind
    /// The launcher's path (or a name to find on PATH).
    public let executable: String
    /// srun's --mpi plugin.
    public let mpiPlugin: String?

    public init(kind: Kind, executable: String, mpiPlugin: String? = nil) {
        self.kind = kind
        self.executable = executable
        self.mpiPlugin = mpiPlugin
    }

    /// A command to execute, with the variables it adds to the environment.
    public struct Command: Equatable, Sendable {
        public var executable: String
        public var arguments: [String]
        public var environment: [String: String]

        /// The command as one line of shell, variables first.
        public var shellLine: String {
            (environment.sorted { $0.key < $1.key }.map { "\($0.key)=\(shellQuoted($0.value))" }
                + ([executable] + arguments).map(shellQuoted)).joined(separator: " ")
        }
    }

    /// The command that starts `request`: `cores` is what this machine (or
    /// this allocation) gives the job, `asRoot` whether it runs as root.
    public func command(for request: LaunchRequest, cores: Int, asRoot: Bool) -> Command {
        let ranks = request.ranks ?? (kind == .srun ? nil : 1)
        let threads = max(1, request.threads)
        // Each rank on cores of its own, or placed by the kernel.
        let bound = switch request.binding {
        case .cores: true
        case .none: false
        case .automatic: kind == .srun || (request.hosts.isEmpty && (ranks ?? 1) * threads <= cores)
        }
        let hostList = request.hosts.map { host in host.slots.map { "\(host.name):\($0)" } ?? host.name }
            .joined(separator: ",")
        var arguments: [String] = []
        var environment = request.environment
        let forwarded = environment.keys.sorted()
        switch kind {
        case .openMPI:
            if let ranks { arguments += ["-n", "\(ranks)"] }
            if !hostList.isEmpty { arguments += ["--host", hostList] }
            let mapping = request.roundRobin ? "node" : "slot"
            if bound {
                arguments += ["--map-by", "\(mapping):PE=\(threads)", "--bind-to", "core"]
            } else {
                if request.roundRobin { arguments += ["--map-by", mapping] }
                arguments += ["--oversubscribe", "--bind-to", "none"]
                // Waiting ranks give their core away instead of polling it:
                // with more ranks x threads than cores polling starves threads.
                if request.hosts.isEmpty { environment["OMPI_MCA_mpi_yield_when_idle"] = "1" }
            }
            for name in forwarded { arguments += ["-x", name] }
            if asRoot {
                environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
                environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
            }
        case .hydra:
            if let ranks { arguments += ["-n", "\(ranks)"] }
            if !hostList.isEmpty { arguments += ["-hosts", hostList] }
            if request.roundRobin { arguments += ["-ppn", "1"] }
            arguments += ["-bind-to", bound ? "core:\(threads)" : "none"]
            for name in forwarded { arguments += ["-genv", name, environment[name]!] }
        case .srun:
            if let plugin = mpiPlugin { arguments.append("--mpi=\(plugin)") }
            if let ranks { arguments.append("--ntasks=\(ranks)") }
            if let nodes = request.nodes { arguments.append("--nodes=\(nodes)") }
            // srun passes its whole environment on; since Slurm 22.05 it no
            // longer takes --cpus-per-task from sbatch: each rank would get one CPU.
            arguments += ["--cpus-per-task=\(threads)", "--cpu-bind=\(bound ? "cores" : "none")"]
        }
        return Command(executable: executable, arguments: arguments + [request.program] + request.arguments,
                       environment: environment)
    }
}

extension Launcher {
    /// An error choosing or running a launcher, with the message for the user.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// The launcher for this build's MPI: srun inside a Slurm allocation
    /// (unless hosts are named or `mpiexec` is asked for); else
    /// MINIAPP_MPIEXEC, the launcher scripts/configure found beside the
    /// compiler wrapper, or mpirun / mpiexec on PATH. MINIAPP_SRUN_MPI
    /// overrides srun's plugin (Open MPI: pmix; the MPICH family: pmi2).
    public static func forThisBuild(environment: [String: String], withHosts: Bool = false,
                                    preferMPIExec: Bool = false) throws -> Launcher {
        let family = MPIImplementation.family
        let path = environment["PATH"] ?? "/usr/bin:/bin"
        if !withHosts && !preferMPIExec && environment["SLURM_JOB_ID"] != nil, let srun = findExecutable("srun", path: path) {
            let plugin = environment["MINIAPP_SRUN_MPI"] ?? (family == .openMPI ? "pmix" : "pmi2")
            return Launcher(kind: .srun, executable: srun, mpiPlugin: plugin)
        }
        let kind: Kind = family == .openMPI ? .openMPI : .hydra
        if let chosen = environment["MINIAPP_MPIEXEC"], !chosen.isEmpty {
            guard let found = findExecutable(chosen, path: path) else {
                throw Failure(description: "MINIAPP_MPIEXEC names '\(chosen)', which is not an executable here")
            }
            return Launcher(kind: kind, executable: found)
        }
        if let configured = MPIImplementation.configuredLauncher, isExecutable(configured) {
            return Launcher(kind: kind, executable: configured)
        }
        let names = family == .openMPI ? ["mpirun", "mpiexec"] : ["mpiexec", "mpirun"]
        if let found = names.lazy.compactMap({ findExecutable($0, path: path) }).first {
            return Launcher(kind: kind, executable: found)
        }
        throw Failure(description: "no launcher for \(MPIImplementation.name): scripts/configure found none beside "
                      + "\(MPIImplementation.configuredWrapper), and there is no \(names.joined(separator: " or ")) on PATH; "
                      + "name one with MINIAPP_MPIEXEC=/path/to/mpiexec")
    }
}

/// `word` as the shell reads it back: bare when it is safe, else in single quotes.
func shellQuoted(_ word: String) -> String {
    let safe = word.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "@%+=:,./_-".contains($0)) }
    if safe && !word.isEmpty { return word }
    return "'" + word.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
}
