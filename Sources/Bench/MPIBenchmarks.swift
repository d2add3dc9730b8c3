import Foundation
import HDF5
import Kernels
import MPI
import MiniappCore
import ThreadPool

/// Measurements that need MPI, run by `miniapp bench` under
/// `mpirun -np 2` (`miniapp bench-part mpi`): both ranks on one host, or,
/// with `network`, on two hosts (`miniapp bench --hostfile`), where the
/// messages cross the network. `miniapp bench-part allreduce` measures the
/// reductions alone, on any number of ranks. Rank 0 writes the JSON.
public enum MPIBenchmarks {
    public static func run(jsonPath: String, scratchDirectory: String, network: Bool = false) -> Int32 {
        withWorld(part: "mpi") { world in
            guard world.size == 2 else {
                Console.write("miniapp: error: bench-part mpi runs on exactly 2 ranks\n", to: .error)
                return ExitStatus.usage.rawValue
            }
            let hosts = try world.allgather(string: MPIRuntime.processorName)
            if network && hosts[0] == hosts[1] {
                if world.isRoot {
                    Console.write("miniapp: error: both ranks of the network benchmark run on \(hosts[0]); give a "
                                  + "hostfile of two hosts or more (mpirun places one rank on each of the first two)\n",
                                  to: .error)
                }
                return ExitStatus.usage.rawValue
            }
            var document: [(String, JSONNode)] = [("hosts", .array(hosts.map { .string($0) }))]
            document.append(("halo_exchange", try haloExchange(world)))
            document.append(("overlap", try overlap(world, nx: 1 << 20, ny: 6, repeats: 15)))
            // Its effect is tens of microseconds in a 0.5 ms repeat: many repeats.
            document.append(("overlap_small", try overlap(world, nx: 512, ny: 1024, repeats: 201)))
            document.append(("allreduce_us", try allreduceCosts(world)))
            if !network { document.append(("hdf5_write", try hdf5Write(world, directory: scratchDirectory))) }
            if world.isRoot {
                try (JSONNode.object(document).serialized() + "\n").write(toFile: jsonPath, atomically: true, encoding: .utf8)
            }
            return 0
        }
    }

    /// The reductions of `allreduceCosts` on every rank of the launch.
    public static func runAllreduce(jsonPath: String) -> Int32 {
        withWorld(part: "allreduce") { world in
            let hosts = try world.allgather(string: MPIRuntime.processorName)
            let document = JSONNode.object([("ranks", .int(world.size)), ("hosts", .int(Set(hosts).count)),
                                            ("allreduce_us", try allreduceCosts(world))])
            if world.isRoot {
                try (document.serialized() + "\n").write(toFile: jsonPath, atomically: true, encoding: .utf8)
            }
            return 0
        }
    }

    private static func withWorld(part: String, _ body: (Communicator) throws -> Int32) -> Int32 {
        do {
            _ = try MPIRuntime.initialize(required: .funneled)
            defer { MPIRuntime.finalize() }
            HDF5Library.silenceErrorPrinting()
            return try body(try Communicator.world())
        } catch {
            Console.write("miniapp: error: bench-part \(part): \(error)\n", to: .error)
            return ExitStatus.software.rawValue
        }
    }

    /// Both ranks send and receive n doubles (a halo exchange between two
    /// neighbours), for n from 1 to 512 Ki: median time and bandwidth.
    static func haloExchange(_ comm: Communicator) throws -> JSONNode {
        var rows: [JSONNode] = []
        let other = 1 - comm.rank
        let doubles = Datatype(Double.self)
        for power in stride(from: 0, through: 19, by: 1) {
            let n = 1 << power
            let send = UnsafeMutablePointer<Double>.allocate(capacity: n), receive = UnsafeMutablePointer<Double>.allocate(capacity: n)
            send.initialize(repeating: 1, count: n)
            receive.initialize(repeating: 0, count: n)
            defer { send.deallocate(); receive.deallocate() }
            let requests = RequestSet(capacity: 2)
            let repeats = max(10, min(2000, (1 << 24) / max(n, 1) / 8))
            try comm.barrier()
            let sample = try measure(repeats: repeats, warmup: 5, batch: max(1, min(8, repeats / 10))) {
                try requests.receive(into: receive, count: n, type: doubles, from: other, tag: 7, on: comm)
                try requests.send(from: send, count: n, type: doubles, to: other, tag: 7, on: comm)
                try requests.waitAll()
            }
            let bytes = n * 8
            rows.append(.object([("bytes", .int(bytes)), ("microseconds", .double(sample.median * 1e6)),
                                 ("gigabytes_per_second", .double(Double(bytes) / sample.median / 1e9))]))
        }
        return .array(rows)
    }

    /// How much of a halo exchange the interior computation hides: two ranks
    /// stacked in y exchange a row of `nx` doubles while they update their
    /// other `ny - 1` rows: rows of 1 Mi doubles (8 MiB) and 5 interior
    /// rows (several times the exchange time on one host, about as long
    /// across a 10 Gbit/s link), or a heat step's rows of 512 doubles (4 KiB)
    /// under 1023 interior rows, where what the exchange costs beyond the
    /// interior is the CPU time per message. In the same run, repeat by repeat
    /// in turn: the exchange done blocking and then the interior; the
    /// exchange overlapped with the interior, the main thread calling into
    /// MPI between chunks of its rows (what the sweeps do); and overlapped
    /// without those calls, the messages left to themselves. Reported: the
    /// wait left after the interior (the rank that finished it last) against
    /// the exchange alone (what overlap removes from the critical path), and
    /// the time overlap saves against blocking, with and without the calls
    /// (medians of `repeats`).
    /// On one host MPI copies through shared memory with the CPU, inside
    /// MPI_Test, so little is saved; across hosts the kernel's TCP moves
    /// the bytes while the core computes, once MPI has handed them over.
    static func overlap(_ comm: Communicator, nx: Int, ny: Int, repeats: Int) throws -> JSONNode {
        let topology = try CartesianTopology(parent: comm, dims: [1, 2], periods: [false, false], reorder: false)
        let u = try Field(nx: nx, ny: ny, halo: heatStencilReach), v = try Field(nx: nx, ny: ny, halo: heatStencilReach)
        u.allElements.initialize(repeating: 1)
        v.allElements.initialize(repeating: 0)
        let exchange = try HaloExchange(topology: topology, nx: nx, ny: ny, stride: u.stride, depth: heatStencilReach, corners: false)
        let pool = ForkJoinPool(threads: 1)
        let sweep = OverlappedSweep(nx: nx, ny: ny, receivingSides: exchange.receivingSides, threads: 1, reach: heatStencilReach)
        let seconds = PerThread<Double>(count: 1, initial: 0)
        var timer = PhaseTimer(phases: ["post", "interior", "wait", "boundary"])
        let phases = OverlappedSweep.Phases(post: 0, interior: 1, wait: 2, boundary: 3)
        let (source, target, stride) = (UnsafePointer(u.origin), v.origin, u.stride)
        let kernel = { (_: Int, rows: Range<Int>, columns: Range<Int>) in
            heatStencilSweep(from: source, to: target, stride: stride, rows: rows, columns: columns, rx: 0.2, ry: 0.2,
                             prefetch: true)
        }
        /// One overlapped sweep; returns its wait for the messages after the interior.
        func overlapped(polling: Bool) throws -> Double {
            let before = timer.seconds[2]
            try sweep.run(pool: pool, exchange: exchange, fields: [u.origin], timer: &timer, phases: phases,
                          threadSeconds: seconds, polling: polling, kernel: kernel)
            timer.stop()
            return timer.seconds[2] - before
        }
        /// Seconds of `body`, started together on both ranks.
        func timed(_ body: () throws -> Void) throws -> Double {
            try comm.barrier()
            let t0 = wallSeconds()
            try body()
            return wallSeconds() - t0
        }
        try exchange.exchange([u.origin])
        for polling in [true, false] { _ = try overlapped(polling: polling) }
        // Every way in turn, repeat by repeat, so that a change of the
        // machine's load moves all of them.
        var alone: [Double] = [], compute: [Double] = [], blocking: [Double] = [], together: [Double] = []
        var unpolled: [Double] = [], waits: [Double] = [], unpolledWaits: [Double] = []
        for _ in 0..<repeats {
            alone.append(try timed { try exchange.exchange([u.origin]) })
            compute.append(try timed { kernel(0, 0..<ny, 0..<nx) })
            blocking.append(try timed {
                try exchange.exchange([u.origin])
                kernel(0, 0..<ny, 0..<nx)
            })
            together.append(try timed { waits.append(try overlapped(polling: true)) })
            unpolled.append(try timed { unpolledWaits.append(try overlapped(polling: false)) })
        }
        // Of each repeat, the smaller of the two ranks' waits: the rank that
        // finished its interior first also waits for the other one to catch
        // up (load imbalance, a neighbour on a shared machine), which is not
        // exchange time. The rank that finished last waits only for what
        // the exchange did not get done during the interiors.
        try comm.allreduce(&waits, op: .min)
        try comm.allreduce(&unpolledWaits, op: .min)
        let wait = Sample(waits).median, unpolledWait = Sample(unpolledWaits).median
        let (exchanged, computed) = (Sample(alone).median, Sample(compute).median)
        let (blocked, overlappedTime, unpolledTime) = (Sample(blocking).median, Sample(together).median,
                                                        Sample(unpolled).median)
        func fraction(_ x: Double) -> Double { max(0, min(1, x)) }
        return .object([("message_bytes", .int(nx * 8)), ("exchange_ms", .double(exchanged * 1e3)),
                        ("compute_ms", .double(computed * 1e3)), ("blocking_ms", .double(blocked * 1e3)),
                        ("overlapped_ms", .double(overlappedTime * 1e3)),
                        ("wait_after_interior_ms", .double(wait * 1e3)),
                        ("hidden_fraction", .double(fraction(1 - wait / exchanged))),
                        ("time_saved_fraction", .double(fraction((blocked - overlappedTime) / exchanged))),
                        ("unpolled_ms", .double(unpolledTime * 1e3)),
                        ("unpolled_wait_after_interior_ms", .double(unpolledWait * 1e3)),
                        ("unpolled_hidden_fraction", .double(fraction(1 - unpolledWait / exchanged))),
                        ("unpolled_time_saved_fraction", .double(fraction((blocked - unpolledTime) / exchanged)))])
    }

    /// Microseconds of MPI_Allreduce (medians), each with the work of its
    /// rank before and after: one double against the exact reductions
    /// (`ExactReduction`) of one sum of terms near 1 (3 live digits), of
    /// one whose terms reach from 1 down to 2^-1000 (34 digits, as the dot
    /// products of a CG solve come to), and of a heat diagnostic (three sums
    /// and four maxima, one message); and a whole accumulator, 71 Int64 with
    /// MPI_SUM, as exact sums travelled before.
    static func allreduceCosts(_ comm: Communicator) throws -> JSONNode {
        // Each sum holds the same terms on every rank, as a diagnostic would.
        var narrow = ExactSum(), wide = ExactSum()
        for k in 0..<1000 { narrow.add(1 + Double(k) * 0x1p-20) }
        wide.add(1)
        wide.add(0x1p-1000)
        let repeats = comm.size <= 2 ? 2000 : 400
        var result: [(String, JSONNode)] = []
        func time(_ name: String, _ body: () throws -> Void) throws {
            try comm.barrier()
            let sample = try measure(repeats: repeats, warmup: 100, batch: 8, body)
            result.append((name, .double(sample.median * 1e6)))
        }
        var one = [1.0]
        try time("one_double") { try comm.allreduce(&one, op: .sum) }
        let compact = try ExactReduction(comm), wider = try ExactReduction(comm), diagnostic = try ExactReduction(comm)
        try time("one_exact_sum") { _ = try compact.reduce(sums: [narrow]) }
        try time("one_wide_exact_sum") { _ = try wider.reduce(sums: [wide]) }
        try time("diagnostic") { _ = try diagnostic.reduce(sums: [narrow, narrow, narrow], maxima: [1, 2, 3, 4]) }
        var words = [Int64](repeating: 1, count: ExactSum.wordCount)
        try time("int64_sum_71") { try comm.allreduce(&words, op: .sum) }
        return .object(result)
    }

    /// A 2 x 32 MiB field written collectively with parallel HDF5, against
    /// the same bytes written sequentially by one rank with write(2).
    static func hdf5Write(_ comm: Communicator, directory: String) throws -> JSONNode {
        let nx = 2048, nyLocal = 2048
        let field = try Field(nx: nx, ny: nyLocal, halo: 1)
        field.allElements.initialize(repeating: 1.5)
        // One name for every rank (a collective create of different names never returns).
        let tag = try comm.broadcast(Int64(getpid()))
        let path = "\(directory)/bench-hdf5-\(tag).h5"
        let plainPath = "\(directory)/bench-plain-\(tag).bin"
        let bytes = Double(2 * nx * nyLocal * 8)
        try comm.barrier()
        let parallel = try measure(repeats: 3, warmup: 1) {
            let file = try ResultFile(path: path, communicator: comm, nx: nx, ny: 2 * nyLocal, snapshotFields: ["u"])
            try file.writeSnapshot(fields: [("u", field)], block: Decomposition.Block(offset: [0, comm.rank * nyLocal], size: [nx, nyLocal]),
                                   step: 0, time: 0)
            try file.finish(xdmf: nil)
            try comm.barrier()
        }
        var plain = Sample([])
        if comm.isRoot {
            let buffer = UnsafeMutablePointer<Double>.allocate(capacity: 2 * nx * nyLocal)
            buffer.initialize(repeating: 1.5, count: 2 * nx * nyLocal)
            defer { buffer.deallocate() }
            plain = measure(repeats: 3, warmup: 1) {
                let fd = open(plainPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
                var written = 0
                let raw = UnsafeRawPointer(buffer)
                while written < Int(bytes) {
                    let n = write(fd, raw + written, Int(bytes) - written)
                    if n <= 0 { break }
                    written += n
                }
                close(fd)
            }
            unlink(path)
            unlink(plainPath)
        }
        try comm.barrier()
        return .object([("bytes", .double(bytes)), ("parallel_hdf5_gb_per_s", .double(bytes / parallel.median / 1e9)),
                        ("plain_write_gb_per_s", .double(comm.isRoot ? bytes / plain.median / 1e9 : 0))])
    }
}
