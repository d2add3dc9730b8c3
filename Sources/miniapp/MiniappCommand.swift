import ArgumentParser
import Foundation
import HDF5
import Launch
import MiniappCore
import MPI

/// `miniapp`: run an input under MPI (the default), or benchmark the machine.
struct MiniappCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "miniapp",
        abstract: "Hybrid MPI + threads 2D grid mini-app: heat equation, TeaLeaf, integration; halo exchange, exact reductions, HDF5 output.",
        usage: """
            miniapp [--threads N] [--output PATH] [--steps N] [--dims PXxPY] [--force] [--quiet|--verbose]
                    [--checkpoint-every N] [--json PATH] [--profile N] [--peer-timeout S] INPUT
              miniapp --restart CHECKPOINT [INPUT] [options]
              miniapp bench [--quick] [--json PATH] [--h5 PATH] [--hostfile PATH] [--network-only]
              miniapp plan --grid NXxNY --ranks LIST [--dims PXxPY]
            """,
        discussion: """
            Run under MPI, e.g.  mpirun -np 8 ./miniapp --threads 4 inputs/heat.json
            or with the launcher of the MPI it is built with:  miniapp launch -n 8 --threads 4 inputs/heat.json
            The options of a run: miniapp help run.
            Threads per rank: --threads, else SLURM_CPUS_PER_TASK, else OMP_NUM_THREADS, else 1.
            SIGTERM, SIGINT or SIGUSR1 stops a run after a checkpoint (exit status 75); --restart continues it.
            Every option, input key, exit status and output dataset: docs/reference.md.
            """,
        version: "miniapp \(miniappVersion) (\(MPIImplementation.name), HDF5 \(HDF5Library.version))",
        subcommands: [RunCommand.self, LaunchCommand.self, BenchCommand.self, BenchPartCommand.self, PlanCommand.self],
        defaultSubcommand: RunCommand.self)

    /// Errors in the command line are found before MPI starts. Under a
    /// launcher they are reported like input errors: every rank joins MPI,
    /// rank 0 alone prints, and all leave through MPI_Finalize together. A
    /// rank that simply exited would let mpirun kill rank 0 before its message
    /// got out (it did, now and then, on this 2-core machine).
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let code = exitCode(for: error)
            var message = fullMessage(for: error)
            // One format for every error, the command line's too: "miniapp: error: ...".
            if code != .success && message.hasPrefix("Error: ") { message = "miniapp: error: " + message.dropFirst(7) }
            if code == .success {
                // --help, --version: no MPI is started; under a launcher rank 0 alone prints.
                if !message.isEmpty && (launcherRank ?? 0) == 0 { Console.write(message + "\n", to: .output) }
            } else if let rank = launcherRank {
                Miniapp.reportUsageError(message, launcherRank: rank)
            } else if !message.isEmpty {
                Console.write(message + "\n", to: .error)
            }
            Foundation.exit(code.rawValue)
        }
    }

    /// This process's rank as set by a launcher (mpirun, mpiexec, srun),
    /// before MPI_Init; nil when started without one.
    static var launcherRank: Int? { LaunchEnvironment(ProcessInfo.processInfo.environment).rank }
}

/// `miniapp [run] [options] INPUT`.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run an input (JSON, or a TeaLeaf deck) on every rank: the default command.")

    @Option(name: .long, help: ArgumentHelp("Threads per MPI rank.", valueName: "N"))
    var threads: Int?

    @Option(name: .long, help: ArgumentHelp("HDF5 output file (overrides output.path).", valueName: "PATH"))
    var output: String?

    @Option(name: .long, help: ArgumentHelp("Number of time steps (overrides time.steps / end_step).", valueName: "N"))
    var steps: Int?

    @Option(name: .long, help: ArgumentHelp("Process grid, e.g. 4x2; 0 lets MPI choose an axis (overrides decomposition.dims).",
                                            valueName: "PXxPY"))
    var dims: String?

    @Option(name: .customLong("set"), help: ArgumentHelp("Set an input key, e.g. --set grid.nx=1024 --set boundary.x=periodic "
                                                         + "(repeatable; TeaLeaf decks take the keys of TeaLeaf's JSON form).",
                                                         valueName: "KEY.PATH=VALUE"))
    var settings: [String] = []

    @Flag(name: .long, help: "Replace an existing output file.")
    var force = false

    @Flag(name: .long, help: "Print nothing but warnings and errors.")
    var quiet = false

    @Flag(name: .long, help: "Print every diagnostics step and more set-up detail.")
    var verbose = false

    @Option(name: .long, help: ArgumentHelp("Write a checkpoint every N steps (overrides output.checkpoint_every).",
                                            valueName: "N"))
    var checkpointEvery: Int?

    @Option(name: .long, help: ArgumentHelp("Continue the run saved in this checkpoint, on any number of ranks and threads; "
                                            + "INPUT, if given, may change the steps, output, decomposition and scheme.",
                                            valueName: "CHECKPOINT"))
    var restart: String?

    @Option(name: .long, help: ArgumentHelp("Also write the run's summary (phases min/avg/max, MLUP/s) as JSON.", valueName: "PATH"))
    var json: String?

    @Option(name: .long, help: ArgumentHelp("Run N times after a warm-up run; report the median and spread of each phase (implies --force).",
                                            valueName: "N"))
    var profile: Int?

    @Option(name: .long, help: ArgumentHelp("End the job when an MPI call of the time loop has waited this long for other "
                                            + "ranks (a host down or cut off; exit status 76); 0: wait for ever "
                                            + "(default: \(Format.general(RunOptions.defaultPeerTimeout))).",
                                            valueName: "SECONDS"))
    var peerTimeout: Double?

    @Argument(help: ArgumentHelp("Input file (JSON or TeaLeaf deck); optional with --restart.", valueName: "INPUT"))
    var input: String?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
        if let steps, steps < 0 { throw ValidationError("--steps must be 0 or more, got \(steps)") }
        if let dims, RunOptions.parseDims(dims) == nil {
            throw ValidationError("--dims must look like 4x2 (0 lets MPI choose an axis), got '\(dims)'")
        }
        if quiet && verbose { throw ValidationError("--quiet and --verbose cannot be combined") }
        if let output, output.isEmpty { throw ValidationError("--output must not be empty") }
        if let profile, profile < 1 { throw ValidationError("--profile must be at least 1, got \(profile)") }
        if let checkpointEvery, checkpointEvery < 0 {
            throw ValidationError("--checkpoint-every must be 0 or more, got \(checkpointEvery)")
        }
        if let peerTimeout, !(peerTimeout >= 0 && peerTimeout.isFinite) {
            throw ValidationError("--peer-timeout must be 0 or more seconds, got \(peerTimeout)")
        }
        if input == nil && restart == nil { throw ValidationError("missing INPUT (or --restart CHECKPOINT)") }
        for setting in settings where InputOverride(setting) == nil {
            throw ValidationError("--set takes KEY.PATH=VALUE (e.g. grid.nx=1024, states[1].density=0.2), got '\(setting)'")
        }
        if restart != nil && profile != nil { throw ValidationError("--profile cannot be combined with --restart") }
    }

    func run() throws {
        var options = RunOptions(inputPath: input, restartPath: restart)
        options.checkpointEvery = checkpointEvery
        options.threads = threads
        options.outputPath = output
        options.steps = steps
        options.dims = dims.flatMap(RunOptions.parseDims)
        options.overrides = settings.compactMap(InputOverride.init)
        options.force = force
        options.verbosity = quiet ? .quiet : verbose ? .verbose : .normal
        options.jsonPath = json
        options.profileRepeats = profile ?? 0
        options.peerTimeout = peerTimeout ?? RunOptions.defaultPeerTimeout
        let status = Miniapp.run(options)
        if status != 0 { throw ExitCode(status) }
    }
}
