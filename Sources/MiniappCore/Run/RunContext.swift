import Foundation
import MPI
import ThreadPool

/// What every problem needs to run on this rank: the communicator, the
/// thread pool, the console, and facts about the launch for the output.
public final class RunContext {
    public let world: Communicator
    public let console: Console
    public let options: RunOptions
    public let threads: Int
    public let pool: ForkJoinPool
    public let threadLevel: ThreadLevel
    public let mpiLibrary: String
    public let hostname: String
    /// CPUs this rank may run on (as the launcher bound it).
    public let allowedCPUs: [Int]
    /// The CPU each thread is pinned to, -1 where it is not pinned.
    public let threadCPUs: [Int]

    /// The machine this rank runs on: the kernel's boot id. Hosts that share
    /// a kernel (network namespaces of a test bed, containers) share its
    /// cores, memory and caches, whatever their host names.
    public let machine: String
    /// Ranks on this rank's machine, their hosts, and the CPUs they may use together.
    public let ranksOnMachine: Int
    public let hostsOnMachine: [String]
    public let cpusOnMachine: Int
    /// True when some machine runs more threads than it has CPUs for.
    public let anyMachineOversubscribed: Bool
    /// How many hosts the job's ranks run on.
    public let hostCount: Int
    /// The build, libraries, machine and launch, for the results file and `--json`.
    let metadata: RunMetadata

    /// Where this rank runs, for messages: "node2", or "node2 (a machine shared
    /// with node1, node3)" when hosts share a machine.
    public var whereabouts: String {
        hostsOnMachine.count > 1
            ? "\(hostname) (a machine shared with \(hostsOnMachine.filter { $0 != hostname }.joined(separator: ", ")))"
            : hostname
    }

    /// Collective: every rank of `world` creates its context together.
    init(world: Communicator, options: RunOptions, threads: Int, threadLevel: ThreadLevel) throws {
        self.world = world
        self.options = options
        self.threads = threads
        self.threadLevel = threadLevel
        console = Console(isRoot: world.isRoot, verbosity: options.verbosity)
        mpiLibrary = MPIImplementation.libraryVersion
        hostname = MPIRuntime.processorName
        allowedCPUs = Affinity.allowedCPUs()

        // Who shares this machine, and with how many CPUs between them.
        machine = Machine.bootID ?? hostname
        let machines = try world.allgather(string: machine)
        let hosts = try world.allgather(string: hostname)
        metadata = try RunMetadata(world: world, hostnames: hosts, mpiLibrary: mpiLibrary)
        let masks = try world.allgather(string: Affinity.describe(allowedCPUs))
        var union = Set<Int>()
        var sharing = Set<String>()
        for (rank, other) in machines.enumerated() where other == self.machine {
            union.formUnion(Affinity.parse(masks[rank]))
            sharing.insert(hosts[rank])
        }
        let machine = self.machine
        hostCount = Set(hosts).count
        ranksOnMachine = machines.filter { $0 == machine }.count
        hostsOnMachine = sharing.sorted()
        cpusOnMachine = max(1, union.count)
        let oversubscribed = ranksOnMachine * threads > cpusOnMachine
        anyMachineOversubscribed = try world.allreduce(Int64(oversubscribed ? 1 : 0), op: .max) == 1
        // More threads than cores here: a rank that polls while it waits keeps the one it waits for off the core.
        MPIRuntime.yieldsWhileWaiting = oversubscribed

        // Pin when the launcher gave the rank exactly one CPU per thread
        // (mpirun --map-by slot:PE=T, srun --cpus-per-task=T --cpu-bind=cores).
        // With more CPUs (--bind-to none) every rank would see the same set and
        // pin onto the same cores, so the scheduler places threads instead.
        let pin = allowedCPUs.count == threads && threads > 1 ? allowedCPUs : nil
        if let pin { Affinity.pinCurrentThread(to: pin[0]) }
        // Spinning threads would take the cores that working threads wait for.
        pool = ForkJoinPool(threads: threads, spinMicroseconds: oversubscribed ? 0 : nil, pinTo: pin)
        threadCPUs = (0..<threads).map { t in pin.map { $0[t] } ?? -1 }
        PeerWatchdog.start(limit: options.peerTimeout, me: "rank \(MPIRuntime.worldRank) on \(hostname)")
    }
}
