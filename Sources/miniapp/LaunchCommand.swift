import ArgumentParser
import Foundation
import Launch
import MiniappCore
import ThreadPool

/// `miniapp launch`: starts miniapp on N ranks with the launcher of the MPI
/// it is built with, whichever that is.
struct LaunchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "launch",
        abstract: "Start miniapp on N ranks with the launcher of the MPI it is built with: Open MPI's mpirun, "
            + "the MPICH family's mpiexec, or srun inside a Slurm allocation.",
        usage: """
            miniapp launch [-n N] [--threads T] [--hostfile FILE [--nodes K] [--round-robin]]
                           [--bind auto|cores|none] [--env NAME=VALUE]... [--launcher mpiexec|srun]
                           [--dry-run] [--] [run options] INPUT
            """,
        discussion: """
            Every argument that is not an option of launch goes to miniapp:
              miniapp launch -n 4 --threads 2 --force inputs/heat.json
            is, with Open MPI,
              mpirun -n 4 --map-by slot:PE=2 --bind-to core miniapp --threads 2 ...
            and with MPICH,
              mpiexec -n 4 -bind-to core:2 miniapp --threads 2 ...
            (--dry-run prints it). Binding (auto): each rank on cores of its own
            where ranks x threads fit the cores, else none (oversubscribed).
            MINIAPP_MPIEXEC names another mpirun or mpiexec, MINIAPP_SRUN_MPI
            another srun --mpi plugin.
            """)

    @Option(name: [.customShort("n"), .customLong("np")],
            help: ArgumentHelp("Ranks (default: the Slurm allocation's tasks, else 1).", valueName: "N"))
    var ranks: Int?

    @Option(name: .long, help: ArgumentHelp("Threads per rank, passed on to miniapp; each rank gets that many cores.",
                                            valueName: "T"))
    var threads: Int?

    @Option(name: .long, help: ArgumentHelp("Run on these hosts: lines 'host slots=N' (Open MPI's form) or 'host:N' "
                                            + "(Hydra's).", valueName: "FILE"))
    var hostfile: String?

    @Option(name: .long, help: ArgumentHelp("Only the first K hosts of the hostfile, or K nodes of the Slurm allocation.",
                                            valueName: "K"))
    var nodes: Int?

    @Flag(name: .long, help: "Deal the ranks out over the hosts in turn (rank k on host k mod K).")
    var roundRobin = false

    @Option(name: .long, help: ArgumentHelp("How ranks are bound to cores: auto, cores or none.", valueName: "HOW"))
    var bind: LaunchRequest.Binding = .automatic

    @Option(name: .customLong("env"), help: ArgumentHelp("A variable for every rank, on every host (repeatable).",
                                                          valueName: "NAME=VALUE"))
    var variables: [String] = []

    @Option(name: .long, help: ArgumentHelp("mpiexec (this MPI's own) or srun (default: srun inside a Slurm allocation, "
                                            + "else mpiexec).", valueName: "WHICH"))
    var launcher: String?

    @Flag(name: .long, help: "Print the command instead of running it.")
    var dryRun = false

    @Argument(parsing: .allUnrecognized, help: ArgumentHelp("miniapp's own options and input.", valueName: "ARGUMENTS"))
    var arguments: [String] = []

    func validate() throws {
        if let ranks, ranks < 1 { throw ValidationError("-n must be at least 1, got \(ranks)") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
        if let nodes, nodes < 1 { throw ValidationError("--nodes must be at least 1, got \(nodes)") }
        if let launcher, !["mpiexec", "srun"].contains(launcher) {
            throw ValidationError("--launcher must be mpiexec or srun, got '\(launcher)'")
        }
        for variable in variables where !Self.isAssignment(variable) {
            throw ValidationError("--env takes NAME=VALUE, got '\(variable)'")
        }
        if roundRobin && hostfile == nil { throw ValidationError("--round-robin needs --hostfile") }
    }

    func run() throws {
        let environment = ProcessInfo.processInfo.environment
        var passed = arguments
        if let end = passed.firstIndex(of: "--") { passed.remove(at: end) }   // the end of launch's own options
        var request = LaunchRequest(program: Self.executablePath(),
                                    arguments: (threads.map { ["--threads", "\($0)"] } ?? []) + passed, ranks: ranks)
        request.threads = threads ?? 1
        request.nodes = nodes
        request.roundRobin = roundRobin
        request.binding = bind
        for variable in variables {
            let parts = variable.split(separator: "=", maxSplits: 1)
            request.environment[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        if let hostfile {
            guard let text = try? String(contentsOfFile: hostfile, encoding: .utf8) else {
                throw ValidationError("cannot read the hostfile '\(hostfile)'")
            }
            request.hosts = LaunchRequest.Host.parse(hostfile: text)
            guard !request.hosts.isEmpty else { throw ValidationError("the hostfile '\(hostfile)' names no host") }
            if let nodes {
                guard nodes <= request.hosts.count else {
                    throw ValidationError("--nodes \(nodes): the hostfile '\(hostfile)' names \(request.hosts.count) host(s)")
                }
                request.hosts = Array(request.hosts.prefix(nodes))
            }
        }
        if launcher == "srun" && environment["SLURM_JOB_ID"] == nil {
            throw ValidationError("--launcher srun: not inside a Slurm allocation (no SLURM_JOB_ID)")
        }
        let chosen: Launcher
        do {
            chosen = try Launcher.forThisBuild(environment: environment, withHosts: hostfile != nil,
                                               preferMPIExec: launcher == "mpiexec")
        } catch {
            throw Self.failure("\(error)")
        }
        let command = chosen.command(for: request, cores: max(1, Affinity.allowedCPUs().count), asRoot: getuid() == 0)
        if dryRun {
            print(command.shellLine)
            return
        }
        throw Self.failure("\(command.exec(inheriting: environment))")
    }

    /// A launcher that cannot be found or started: its message, status 69 (unavailable).
    static func failure(_ message: String) -> ExitCode {
        Console.write("miniapp: error: \(message)\n", to: .error)
        return ExitCode(ExitStatus.unavailable.rawValue)
    }

    static func isAssignment(_ text: String) -> Bool {
        guard let equals = text.firstIndex(of: "="), equals != text.startIndex else { return false }
        return text[..<equals].allSatisfy { $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }
    }

    /// This executable, by its real path (what the launcher starts on every host).
    static func executablePath() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}

extension LaunchRequest.Binding: ExpressibleByArgument {}
