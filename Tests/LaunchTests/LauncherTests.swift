@testable import Launch
@testable import MPI
import Testing

/// The commands each launcher is given: the same requests, as Open MPI's
/// mpirun, Hydra's mpiexec and srun take them.
@Suite struct LauncherTests {
    let openMPI = Launcher(kind: .openMPI, executable: "/usr/bin/mpirun.openmpi")
    let hydra = Launcher(kind: .hydra, executable: "/usr/bin/mpiexec.mpich")
    let srun = Launcher(kind: .srun, executable: "/usr/bin/srun", mpiPlugin: "pmi2")

    func request(ranks: Int? = 4, threads: Int = 2) -> LaunchRequest {
        var request = LaunchRequest(program: "/x/miniapp", arguments: ["--threads", "\(threads)", "in.json"], ranks: ranks)
        request.threads = threads
        return request
    }

    @Test func ranksThatFitTheCoresAreBound() {
        let open = openMPI.command(for: request(), cores: 8, asRoot: false)
        #expect(open.arguments == ["-n", "4", "--map-by", "slot:PE=2", "--bind-to", "core",
                                   "/x/miniapp", "--threads", "2", "in.json"])
        #expect(open.environment.isEmpty)
        let mpich = hydra.command(for: request(), cores: 8, asRoot: false)
        #expect(mpich.arguments == ["-n", "4", "-bind-to", "core:2", "/x/miniapp", "--threads", "2", "in.json"])
    }

    @Test func moreThanTheCoresAreOversubscribedAndYield() {
        let open = openMPI.command(for: request(), cores: 2, asRoot: false)
        #expect(open.arguments.prefix(5) == ["-n", "4", "--oversubscribe", "--bind-to", "none"])
        #expect(open.environment == ["OMPI_MCA_mpi_yield_when_idle": "1"])
        let mpich = hydra.command(for: request(), cores: 2, asRoot: false)
        #expect(mpich.arguments.prefix(4) == ["-n", "4", "-bind-to", "none"])
    }

    @Test func rootAsksOpenMPIAloneForPermission() {
        let open = openMPI.command(for: request(), cores: 8, asRoot: true)
        #expect(open.environment["OMPI_ALLOW_RUN_AS_ROOT"] == "1" && open.environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] == "1")
        #expect(hydra.command(for: request(), cores: 8, asRoot: true).environment.isEmpty)
    }

    @Test func hostsInTurnWithVariablesForwarded() {
        var hosts = request(ranks: 3, threads: 1)
        hosts.hosts = [.init(name: "node1", slots: 2), .init(name: "node2")]
        hosts.roundRobin = true
        hosts.environment = ["UCX_TLS": "tcp,self"]
        let open = openMPI.command(for: hosts, cores: 2, asRoot: false)
        #expect(open.arguments.prefix(10) == ["-n", "3", "--host", "node1:2,node2", "--map-by", "node",
                                              "--oversubscribe", "--bind-to", "none", "-x"])
        #expect(open.environment == ["UCX_TLS": "tcp,self"])   // hosts: no yield setting of ours
        let mpich = hydra.command(for: hosts, cores: 2, asRoot: false)
        #expect(mpich.arguments.prefix(11) == ["-n", "3", "-hosts", "node1:2,node2", "-ppn", "1", "-bind-to", "none",
                                               "-genv", "UCX_TLS", "tcp,self"])
    }

    @Test func srunTakesTheAllocationAndThePlugin() {
        var whole = request(ranks: nil)
        whole.nodes = 2
        let command = srun.command(for: whole, cores: 1, asRoot: true)
        #expect(command.arguments == ["--mpi=pmi2", "--nodes=2", "--cpus-per-task=2", "--cpu-bind=cores",
                                      "/x/miniapp", "--threads", "2", "in.json"])
        var unbound = request(ranks: 3)
        unbound.binding = .none
        #expect(srun.command(for: unbound, cores: 1, asRoot: false).arguments.prefix(4)
                == ["--mpi=pmi2", "--ntasks=3", "--cpus-per-task=2", "--cpu-bind=none"])
    }

    @Test func hostfilesOfBothForms() {
        let hosts = LaunchRequest.Host.parse(hostfile: """
            # the test bed
            node1 slots=4
            node2:2   # Hydra's form
            node1 slots=8

            node3
            """)
        #expect(hosts == [.init(name: "node1", slots: 4), .init(name: "node2", slots: 2), .init(name: "node3")])
    }

    @Test func shellLineQuotesWhatTheShellWouldSplit() {
        let command = Launcher.Command(executable: "/usr/bin/mpirun", arguments: ["-n", "2", "a b.json", "it's"],
                                       environment: ["B": "2", "A": "x y"])
        #expect(command.shellLine == "A='x y' B=2 /usr/bin/mpirun -n 2 'a b.json' 'it'\\''s'")
    }
}

/// What a launcher tells the ranks, and the wrong-launcher check.
@Suite struct LaunchEnvironmentTests {
    @Test func eachLaunchersVariables() {
        let mpirun = LaunchEnvironment(["OMPI_COMM_WORLD_SIZE": "4", "OMPI_COMM_WORLD_RANK": "2"])
        #expect(mpirun.job?.size == 4 && mpirun.job?.launcher == "Open MPI's mpirun" && mpirun.rank == 2)
        let hydra = LaunchEnvironment(["PMI_SIZE": "3", "PMI_RANK": "0"])
        #expect(hydra.job?.size == 3 && hydra.job?.launcher == "an MPICH-family mpiexec (Hydra)" && hydra.rank == 0)
        let srun = LaunchEnvironment(["SLURM_STEP_NUM_TASKS": "6", "SLURM_PROCID": "5", "SLURM_MPI_TYPE": "pmix",
                                      "PMIX_RANK": "5"])
        #expect(srun.job?.size == 6 && srun.job?.launcher == "srun --mpi=pmix" && srun.rank == 5)
        // A batch script itself is no launched job.
        #expect(LaunchEnvironment(["SLURM_JOB_ID": "7", "SLURM_NTASKS": "4"]).job == nil)
        #expect(!LaunchEnvironment([:]).isLaunched)
    }

    @Test func aWorldSmallerThanTheJobIsTheWrongLauncher() {
        let hydra = LaunchEnvironment(["PMI_SIZE": "3", "PMI_RANK": "1"])
        #expect(hydra.mismatch(worldSize: 3) == nil)
        let message = hydra.mismatch(worldSize: 1)
        #expect(message?.contains("an MPICH-family mpiexec (Hydra) started it as 3 processes") == true)
        #expect(message?.contains("miniapp launch") == true)
        #expect(LaunchEnvironment([:]).mismatch(worldSize: 1) == nil)
    }
}

/// The library's name in a few words, from MPI_Get_library_version's text.
@Suite struct ImplementationNameTests {
    @Test func eachLibrarysVersionText() {
        #expect(MPIImplementation.shortName("Open MPI v4.1.4, package: Debian OpenMPI, ident: 4.1.4, repo rev: v4.1.4")
                == "Open MPI v4.1.4")
        #expect(MPIImplementation.shortName("MPICH Version:\t4.0.2\nMPICH Release date:\tThu Apr  7 12:34:45 CDT 2022")
                == "MPICH 4.0.2")
        #expect(MPIImplementation.shortName("Intel(R) MPI Library 2021.9 for Linux* OS\n") == "Intel(R) MPI Library 2021.9 for Linux* OS")
    }
}
