import MPI

/// What a launcher tells the processes it starts, in their environment: read
/// by a rank before MPI_Init (to print a command-line error once) and after
/// (to notice that it was started by the launcher of another MPI).
public struct LaunchEnvironment: Sendable {
    public let variables: [String: String]

    public init(_ variables: [String: String]) {
        self.variables = variables
    }

    /// This process's rank as the launcher numbered it; nil without a launcher.
    public var rank: Int? {
        for name in ["OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "SLURM_PROCID"] {
            if let value = variables[name], let rank = Int(value) { return rank }
        }
        return nil
    }

    /// How many processes the launcher started, and which launcher it was;
    /// nil when no launcher started this one.
    public var job: (size: Int, launcher: String)? {
        let srun = variables["SLURM_MPI_TYPE"].map { "srun --mpi=\($0)" } ?? "srun"
        if let size = integer("OMPI_COMM_WORLD_SIZE") { return (size, "Open MPI's mpirun") }
        if let size = integer("PMI_SIZE") {
            return (size, variables["SLURM_MPI_TYPE"] != nil ? srun : "an MPICH-family mpiexec (Hydra)")
        }
        if let size = integer("SLURM_STEP_NUM_TASKS"), variables["SLURM_PROCID"] != nil { return (size, srun) }
        return nil
    }

    /// Whether a launcher started this process (`miniapp bench` must not be).
    public var isLaunched: Bool { job != nil }

    /// The message for a job whose MPI_COMM_WORLD has `worldSize` ranks
    /// although the launcher started more processes: the binary's MPI and
    /// the launcher's do not go together, and each process became a job of
    /// its own. nil when they agree.
    public func mismatch(worldSize: Int) -> String? {
        guard let job, job.size > worldSize else { return nil }
        let built = "\(MPIImplementation.name) (\(MPIImplementation.family.rawValue) family)"
        var remedy = "start it with the launcher of its MPI"
        if job.launcher.hasPrefix("srun") {
            remedy = "start it with srun --mpi=\(MPIImplementation.family == .openMPI ? "pmix" : "pmi2")"
        } else if let configured = MPIImplementation.configuredLauncher {
            remedy += ", \(configured)"
        }
        return "this miniapp is built with \(built), but \(job.launcher) started it as \(job.size) processes, "
            + "which cannot join one MPI job: each ran as a job of \(worldSize) rank. \(remedy.prefix(1).uppercased())"
            + "\(remedy.dropFirst()), or with `miniapp launch`, which knows it; or build miniapp for the launcher's MPI "
            + "(MPICC=<its mpicc> scripts/setup)"
    }

    private func integer(_ name: String) -> Int? { variables[name].flatMap { Int($0) } }
}
