import Foundation
import MPI
import ThreadPool

/// What every problem records and prints the same way: the per-rank timing
/// and decomposition tables, the common root attributes, the binding
/// warning, and the closing table of phases.
enum RunReport {
    /// Writes /timings and /decomposition (each rank its own row) and the
    /// root attributes shared by all problems, plus `extra` (collective).
    static func writeCommon(_ output: ResultFile, context: RunContext, setup: GridSetup, phases: PhaseTimer,
                            threadSeconds: [Double], problem: String, effectiveInput: JSONNode,
                            extra: [String: AttributeValue]) throws {
        let comm = setup.communicator
        try output.writeStrings("timings/phase_names", values: phases.names)
        try output.writeRankRows("timings/phases", row: phases.seconds, attributes: ["units": "seconds"])
        try output.writeRankRows("timings/threads", row: threadSeconds, attributes: ["units": "seconds"])

        try output.writeRankRows("decomposition/coords", row: setup.topology.coords.map(Int64.init))
        try output.writeRankRows("decomposition/offsets", row: setup.block.offset.map(Int64.init))
        try output.writeRankRows("decomposition/sizes", row: setup.block.size.map(Int64.init))
        try output.writeRankStrings("decomposition/hostnames", value: context.hostname)
        try output.writeRankStrings("decomposition/machines", value: context.machine)
        try output.writeRankStrings("decomposition/affinity", value: Affinity.describe(context.allowedCPUs))
        try output.writeRankRows("decomposition/thread_cpus", row: context.threadCPUs.map(Int64.init))

        let created = try comm.broadcast(string: ISO8601DateFormatter().string(from: Date()))
        let collective = try comm.allreduce(Int64(output.fieldWritesCollective ? 1 : 0), op: .min)
        var attributes: [String: AttributeValue] = [
            "input_json": .string(effectiveInput.serialized()),
            "problem": .string(problem),
            "mpi_thread_level": .string(context.threadLevel.description),
            "ranks": .int(comm.size),
            "threads": .int(context.threads),
            "dims": .ints(setup.topology.dims),
            "periods": .ints(setup.topology.periods.map { $0 ? 1 : 0 }),
            "created": .string(created),
            "nx": .int(setup.decomposition.nx), "ny": .int(setup.decomposition.ny),
            "collective_field_writes": .int(Int(collective)),
            "oversubscribed": .int(context.anyMachineOversubscribed ? 1 : 0),
        ]
        // version, git commit, libraries, hosts, launch: the run's metadata.
        attributes.merge(context.metadata.attributes) { _, new in new }
        if !context.options.overrides.isEmpty {
            attributes["input_overrides"] = .string(context.options.overrides.map { "--set " + $0.text }.joined(separator: " "))
        }
        attributes.merge(extra) { _, new in new }
        try output.setAttributes(attributes)
    }

    /// Warnings about where the ranks run, from rank 0, once each.
    static func warnAboutPlacement(_ context: RunContext) {
        warnAboutAffinity(context)
        warnAboutLauncher(context)
    }

    /// One warning, from rank 0, if mpirun runs the ranks on several hosts
    /// without keepalives on its own connections: a host that vanishes then
    /// leaves mpirun waiting for its daemon for many minutes (the kernel's
    /// TCP retransmissions), after miniapp's ranks have ended (PeerWatchdog).
    private static func warnAboutLauncher(_ context: RunContext) {
        let environment = ProcessInfo.processInfo.environment
        guard context.hostCount > 1, environment["OMPI_MCA_orte_hnp_uri"] != nil,   // started by mpirun
              Double(environment["OMPI_MCA_oob_tcp_keepalive_time"] ?? "300") ?? 300 > 60 else { return }
        context.console.warning(
            "mpirun runs these ranks on \(context.hostCount) hosts with Open MPI's default keepalive (5 minutes of "
            + "silence before a first probe): if a host vanishes, miniapp's ranks end after --peer-timeout, but mpirun "
            + "waits for the lost host for many minutes; `mpirun --mca oob_tcp_keepalive_time 1 --mca "
            + "oob_tcp_keepalive_intvl 1 --mca oob_tcp_keepalive_probes 3` ends the job within seconds")
    }

    /// One warning, from rank 0, if any rank's threads must share cores.
    private static func warnAboutAffinity(_ context: RunContext) {
        let fewest = (try? context.world.allreduce(Int64(context.allowedCPUs.count), op: .min)) ?? 0
        let t = context.threads
        if context.anyMachineOversubscribed && fewest >= Int64(t) {
            context.console.warning(
                "\(context.ranksOnMachine) ranks x \(t) thread\(t == 1 ? "" : "s") on \(context.whereabouts) share "
                + "\(context.cpusOnMachine) CPU\(context.cpusOnMachine == 1 ? "" : "s"): threads will wait for cores, so "
                + "timings will not reflect the machine (fine for testing; use fewer ranks or threads to measure)")
        } else if t > 1 && fewest < Int64(t) {
            let launcher = MPIImplementation.family == .openMPI
                ? "`mpirun --map-by slot:PE=\(t) --bind-to core` (Open MPI binds each rank to one core when np <= 2)"
                : "`mpiexec -bind-to core:\(t)`"
            context.console.warning(
                "a rank has \(t) threads but may run on only \(fewest) CPU\(fewest == 1 ? "" : "s"), so its threads share "
                + "cores; give each rank \(t) cores: `miniapp launch --threads \(t)` does, as does \(launcher) or "
                + "`srun --cpus-per-task=\(t)`")
        }
    }

}
