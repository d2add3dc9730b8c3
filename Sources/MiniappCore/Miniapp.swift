import Foundation
import HDF5
import MPI

public let miniappVersion = "0.1.0"

/// The program between MPI_Init and MPI_Finalize.
public enum Miniapp {
    /// Runs the input named in `options` on every rank and returns the exit
    /// status. Errors found before the time loop are agreed on by all ranks and
    /// printed once by rank 0; every rank then finalises MPI and exits with
    /// the same status.
    public static func run(_ options: RunOptions) -> Int32 {
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
        let console = Console(isRoot: world.isRoot, verbosity: options.verbosity)
        guard provided >= .funneled else {
            // Every rank sees the same level: no agreement needed.
            console.error("the MPI library provides \(provided), but miniapp needs MPI_THREAD_FUNNELED "
                          + "(threads compute, the main thread alone calls MPI)")
            return ExitStatus.software.rawValue
        }
        do {
            try runInput(options, world: world, threadLevel: provided)
            return ExitStatus.success.rawValue
        } catch let failure as MiniappFailure {
            console.error(failure.message)
            return failure.status.rawValue
        } catch {
            console.error("\(error)")
            return ExitStatus.software.rawValue
        }
    }

    private static func runInput(_ options: RunOptions, world: Communicator, threadLevel: ThreadLevel) throws {
        let (threads, threadSource) = try world.collectively { try options.resolvedThreads() }
        let text = try readInputText(path: options.inputPath, world: world)
        let input = try world.collectively { () throws -> ProblemInput in
            do throws(InputError) {
                return try ProblemInput.parse(text, fileName: options.inputPath)
            } catch {
                throw MiniappFailure(.dataError, error.description)
            }
        }
        var options = options
        if options.profileRepeats > 0 { options.force = true }   // every repetition rewrites the output
        let context = try RunContext(world: world, options: options, threads: threads, threadLevel: threadLevel)
        let execute = { () throws -> RunSummary in
            switch input {
            case .heat(var configuration):
                if let steps = options.steps { configuration.steps = steps }
                if let path = options.outputPath { configuration.output.path = path }
                if let dims = options.dims { configuration.decomposition.dims = dims }
                return try HeatRun(configuration: configuration, context: context, threadSource: threadSource).execute()
            case .tealeaf(var configuration):
                if let steps = options.steps { configuration.endStep = steps; configuration.endTime = .greatestFiniteMagnitude }
                if let path = options.outputPath { configuration.output.path = path }
                if let dims = options.dims { configuration.decomposition.dims = dims }
                return try TealeafRun(configuration: configuration, context: context, threadSource: threadSource).execute()
            case .integrate(var configuration):
                if let path = options.outputPath { configuration.path = path }
                if let dims = options.dims { configuration.decomposition.dims = dims }
                return try IntegrateRun(configuration: configuration, context: context, threadSource: threadSource).execute()
            }
        }
        let summary = options.profileRepeats > 0
            ? try Profile.run(repeats: options.profileRepeats, context: context, execute)
            : try execute()
        if let path = options.jsonPath, world.isRoot {
            do {
                try (summary.json.serialized() + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            } catch {
                throw MiniappFailure(.cannotCreate, "cannot write '\(path)': \(error.localizedDescription)")
            }
        }
    }

    /// Aborts every rank after an error that not all ranks may have seen (an
    /// MPI or HDF5 failure inside the time loop): the failing rank prints its
    /// message and removes its incomplete output, then MPI_Abort ends the job
    /// instead of leaving the other ranks waiting in a collective call.
    static func abort(_ error: Error, rank: Int, removing temporaryPath: String?) -> Never {
        Console.write("miniapp: error: rank \(rank): \(error)\n", to: .error)
        if let temporaryPath { unlink(temporaryPath) }
        MPIRuntime.abort(exitCode: ExitStatus.software.rawValue)
    }
}

/// Checks on rank 0 that the output can be written, before any work.
func checkOutputPath(_ path: String, force: Bool) throws {
    var info = stat()
    if stat(path, &info) == 0 {
        if (info.st_mode & S_IFMT) == S_IFDIR {
            throw MiniappFailure(.cannotCreate, "output path '\(path)' is a directory")
        }
        if !force {
            throw MiniappFailure(.cannotCreate, "output file '\(path)' already exists; pass --force to replace it "
                                 + "(it is kept until the new file is complete) or choose another with --output")
        }
    }
    let directory = (path as NSString).deletingLastPathComponent
    let dir = directory.isEmpty ? "." : directory
    if stat(dir, &info) != 0 || (info.st_mode & S_IFMT) != S_IFDIR {
        throw MiniappFailure(.cannotCreate, "cannot write output '\(path)': directory '\(dir)' does not exist")
    }
    // Try it for real: permissions, read-only file systems, quotas.
    let probe = ResultFile.temporaryPath(for: path)
    let fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    if fd < 0 {
        throw MiniappFailure(.cannotCreate, "cannot write output '\(path)': \(String(cString: strerror(errno)))")
    }
    close(fd)
    unlink(probe)
}
