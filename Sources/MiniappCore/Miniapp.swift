import Foundation
import HDF5
import Launch
import MPI

/// The program between MPI_Init and MPI_Finalize.
public enum Miniapp {
    /// Runs the input named in `options` on every rank and returns the exit
    /// status. Errors found before the time loop are agreed on by all ranks and
    /// printed once by rank 0; every rank then finalises MPI and exits with
    /// the same status.
    public static func run(_ options: RunOptions) -> Int32 {
        run(options, problems: ProblemRegistry.problems)
    }

    /// `run`, with the problems an input may name (tests add their own).
    static func run(_ options: RunOptions, problems: [any Problem.Type]) -> Int32 {
        let provided: ThreadLevel
        do {
            provided = try MPIRuntime.initialize(required: .funneled)
        } catch {
            Console.write("miniapp: error: \(error)\n", to: .error)
            return ExitStatus.software.rawValue
        }
        defer { MPIRuntime.finalize() }
        HDF5Library.silenceErrorPrinting()

        let world: Communicator
        do { world = try Communicator.world() } catch {
            Console.write("miniapp: error: \(error)\n", to: .error)
            return ExitStatus.software.rawValue
        }
        let launch = LaunchEnvironment(ProcessInfo.processInfo.environment)
        if let mismatch = launch.mismatch(worldSize: world.size) {
            // Every process is rank 0 of a job of its own: the launcher's rank 0 alone says so.
            // The others wait a moment first: the launcher ends the job at the first non-zero
            // exit, which would otherwise cut off the message (as before MPI_Abort).
            if (launch.rank ?? 0) == 0 {
                Console.write("miniapp: error: \(mismatch)\n", to: .error)
            } else {
                usleep(500_000)
            }
            return ExitStatus.wrongLauncher.rawValue
        }
        let console = Console(isRoot: world.isRoot, verbosity: options.verbosity)
        guard provided >= .funneled else {
            // Every rank sees the same level: no agreement needed.
            console.error("the MPI library provides \(provided), but miniapp needs MPI_THREAD_FUNNELED "
                          + "(threads compute, the main thread alone calls MPI)")
            return ExitStatus.software.rawValue
        }
        StopSignals.install()
        do {
            try runInput(options, problems: problems, world: world, threadLevel: provided)
            return ExitStatus.success.rawValue
        } catch let failure as MiniappFailure where failure.status == .stopped {
            if world.isRoot { Console.write("miniapp: \(failure.message)\n", to: .error) }
            return failure.status.rawValue
        } catch let failure as MiniappFailure {
            console.error(failure.message)
            return failure.status.rawValue
        } catch {
            console.error("\(error)")
            return ExitStatus.software.rawValue
        }
    }

    /// Prints a command-line error once for a job started by a launcher: the
    /// ranks join MPI so that rank 0 has written the message before any rank
    /// exits. If MPI cannot start, the launcher's rank 0 prints it anyway.
    public static func reportUsageError(_ message: String, launcherRank: Int) {
        guard !message.isEmpty else { return }
        guard (try? MPIRuntime.initialize(required: .single)) != nil, let world = try? Communicator.world() else {
            if launcherRank == 0 { Console.write(message + "\n", to: .error) }
            return
        }
        if world.isRoot { Console.write(message + "\n", to: .error) }
        try? world.barrier()
        MPIRuntime.finalize()
    }

    private static func runInput(_ options: RunOptions, problems: [any Problem.Type], world: Communicator,
                                 threadLevel: ThreadLevel) throws {
        try world.collectively { try FaultInjection.configure(rank: world.rank) }
        let (threads, threadSource) = try world.collectively { try options.resolvedThreads() }
        var options = options
        var input: ProblemInput
        var restart: RestartPlan? = nil
        if let restartPath = options.restartPath {
            (input, restart) = try RestartPlan.read(restartPath, inputPath: options.inputPath, overrides: options.overrides,
                                                    problems: problems, world: world)
        } else {
            let path = options.inputPath ?? ""
            let text = try readInputText(path: path, world: world)
            input = try world.collectively { () throws -> ProblemInput in
                do throws(InputError) {
                    return try ProblemInput.parse(text, fileName: path, overrides: options.overrides, problems: problems)
                } catch {
                    throw MiniappFailure(.dataError, error.description)
                }
            }
        }
        input = try world.collectively { [input, options] in try input.applying(options) }
        if let restart {
            try world.collectively { [input] in try input.problem.check(restart) }
            // The restart continues the results file it came with: replacing it is the point.
            if input.problem.outputPath == restart.previousOutput { options.force = true }
        }
        if options.profileRepeats > 0 { options.force = true }   // every repetition rewrites the output
        let context = try RunContext(world: world, options: options, threads: threads, threadLevel: threadLevel)
        let execute = { [input, restart] () throws -> RunSummary in
            try input.problem.run(context: context, threadSource: threadSource, restart: restart)
        }
        let summary: RunSummary
        do {
            summary = options.profileRepeats > 0
                ? try Profile.run(repeats: options.profileRepeats, context: context, execute)
                : try execute()
        } catch let failure as MiniappFailure where failure.summary != nil {
            // A stopped or diverged run reports what it did, and still ends as it did.
            try writeJSON(failure.summary!, context: context)
            throw failure
        }
        try writeJSON(summary, context: context)
    }

    /// The `--json` summary (rank 0), with the run's metadata.
    private static func writeJSON(_ summary: RunSummary, context: RunContext) throws {
        guard let path = context.options.jsonPath, context.world.isRoot else { return }
        let document = summary.json.adding("oversubscribed", .int(context.anyMachineOversubscribed ? 1 : 0))
            .adding("metadata", context.metadata.json)
        do {
            try (document.serialized() + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw MiniappFailure(.cannotCreate, "cannot write '\(path)': \(error.localizedDescription)")
        }
    }
}
