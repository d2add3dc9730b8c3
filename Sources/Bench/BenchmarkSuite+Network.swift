import Foundation
import Kernels
import Launch
import MiniappCore

/// The bench's MPI sections: halo exchange against message size, its overlap
/// with computation, MPI_Allreduce (plain and exact) on this machine, and the
/// same across the hosts of a hostfile.
extension Suite {
    // MARK: MPI

    func mpi() throws {
        let jsonPath = "\(work)/mpi.json"
        try launch(ranks: 2, threads: 1, ["bench-part", "mpi", "--json", jsonPath, "--scratch", work])
        let result = try JSONParser.parse(try String(contentsOfFile: jsonPath, encoding: .utf8))
        say()
        say("4. Halo exchange between 2 ranks (both send and receive), median")
        describeExchange(result, where: "on one node MPI copies through shared memory with the CPU, inside MPI_Test")
        var rows: [JSONNode] = []
        if let a = result["allreduce_us"] {
            say()
            say("5. MPI_Allreduce, median:")
            say("   2 ranks: " + describeAllreduce(a))
            rows.append(.object([("ranks", .int(2)), ("hosts", .int(1)), ("allreduce_us", a)]))
        }
        // More ranks on this node, as many as it has cores for.
        for ranks in Self.reductionRankCounts(cores: cores) where ranks > 2 {
            let row = try allreduce(ranks: ranks)
            if let a = row["allreduce_us"] { say("   \(ranks) ranks: " + describeAllreduce(a)) }
            rows.append(row)
        }
        document.append(("allreduce", .array(rows)))
        if let h = result["hdf5_write"] {
            say()
            say("6. Writing \(Format.bytes(Int(number(h["bytes"])))): parallel HDF5, collective, 2 ranks "
                + "\(Format.fixed(number(h["parallel_hdf5_gb_per_s"]), 2)) GB/s; plain sequential write(2) "
                + "\(Format.fixed(number(h["plain_write_gb_per_s"]), 2)) GB/s (both into the page cache)")
        }
        document.append(("mpi", result))
    }

    /// Section 7: the MPI figures between ranks on two hosts of a hostfile,
    /// where messages cross the network (the performance model's network terms).
    func network(hostfile: String) throws {
        // The first two hosts only: mpirun starts a daemon on every host it
        // is given, and waits for ever for one that does not answer.
        let listed = LaunchRequest.Host.parse(hostfile: try String(contentsOfFile: hostfile, encoding: .utf8))
        guard listed.count >= 2 else {
            throw MiniappFailure(.usage, "the hostfile '\(hostfile)' names \(listed.count) host(s); the network "
                                 + "benchmark needs two")
        }
        let jsonPath = "\(work)/network.json"
        try launch(ranks: 2, threads: 1, hosts: listed.prefix(2).map { LaunchRequest.Host(name: $0.name, slots: 1) },
                   ["bench-part", "mpi", "--network", "--json", jsonPath, "--scratch", work])
        let result = try JSONParser.parse(try String(contentsOfFile: jsonPath, encoding: .utf8))
        var hosts: [String] = []
        if case .array(let names)? = result["hosts"]?.value {
            hosts = names.compactMap { if case .string(let s) = $0.value { s } else { nil } }
        }
        say()
        say("7. Between two hosts (\(hosts.joined(separator: " and "))), one rank on each: halo exchange, median")
        describeExchange(result, where: "across hosts the kernel's TCP moves the bytes while the core computes")
        if let a = result["allreduce_us"] { say("   MPI_Allreduce: " + describeAllreduce(a)) }
        var network = result
        if listed.count > 2 {
            let hosts = listed.prefix(16).map { LaunchRequest.Host(name: $0.name, slots: 1) }
            let row = try allreduce(ranks: hosts.count, hosts: hosts)
            if let a = row["allreduce_us"] { say("   MPI_Allreduce, one rank on each of \(hosts.count) hosts: " + describeAllreduce(a)) }
            network = network.adding("allreduce_hosts", row)
        }
        if let figures = Self.latencyAndBandwidth(result) {
            say("   for the performance model: latency \(Format.fixed(figures.latency * 1e6, 1)) us, bandwidth "
                + "\(Format.fixed(figures.bandwidth / 1e9, 2)) GB/s (tools/miniapp-report reads them from this file)")
        }
        document.append(("mpi_network", network))
    }

    /// Latency (small messages) and bandwidth (large ones) of a halo exchange
    /// table, as the performance model reads them.
    static func latencyAndBandwidth(_ result: JSONNode) -> (latency: Double, bandwidth: Double)? {
        guard case .array(let rows)? = result["halo_exchange"]?.value else { return nil }
        func value(_ node: JSONNode?) -> Double {
            if case .number(let text)? = node?.value { return Double(text) ?? .nan }
            return .nan
        }
        let small = rows.filter { value($0["bytes"]) <= 256 }.map { value($0["microseconds"]) * 1e-6 }
        guard !small.isEmpty else { return nil }
        let latency = Sample(small).median
        let large = rows.filter { value($0["bytes"]) >= 256 * 1024 && value($0["microseconds"]) * 1e-6 > latency }
            .map { value($0["bytes"]) / (value($0["microseconds"]) * 1e-6 - latency) }
        guard !large.isEmpty else { return nil }
        return (latency, Sample(large).median)
    }

    /// The halo exchange table and the overlap figures of a bench-part mpi result.
    func describeExchange(_ result: JSONNode, where note: String) {
        if case .array(let rows)? = result["halo_exchange"]?.value {
            for row in rows {
                let bytes = number(row["bytes"]), us = number(row["microseconds"]), gbs = number(row["gigabytes_per_second"])
                if Int(bytes).nonzeroBitCount == 1 && (Int(bytes).trailingZeroBitCount % 3 == 0 || bytes == 8) {
                    say("   " + Format.padLeft(Format.bytes(Int(bytes)), 10) + Format.padLeft(Format.fixed(us, 1) + " us", 12)
                        + Format.padLeft(Format.fixed(gbs, 2) + " GB/s", 13))
                }
            }
        }
        guard let o = result["overlap"] else { return }
        let ms = { (key: String) in Format.fixed(self.number(o[key]), 2) + " ms" }
        let percent = { (key: String) in Format.fixed(100 * self.number(o[key]), 0) + "%" }
        say("   overlap: exchanging \(Format.bytes(Int(number(o["message_bytes"])))) each way takes \(ms("exchange_ms")) "
            + "alone, the interior \(ms("compute_ms")); in turn in one run:")
        say("     blocking (exchange, then interior) \(ms("blocking_ms")); overlapped, calling MPI between chunks of the "
            + "interior, \(ms("overlapped_ms")) (\(Format.fixed(number(o["wait_after_interior_ms"]), 3)) ms left to wait: "
            + "\(percent("hidden_fraction")) of the exchange hidden, \(percent("time_saved_fraction")) of it saved)")
        say("     overlapped without those calls \(ms("unpolled_ms")) (\(percent("unpolled_hidden_fraction")) hidden, "
            + "\(percent("unpolled_time_saved_fraction")) saved); \(note)")
        if let s = result["overlap_small"] {
            let us = { (key: String) in Format.fixed(1000 * self.number(s[key]), 1) + " us" }
            say("   a small exchange (\(Format.bytes(Int(number(s["message_bytes"])))) each way, \(us("exchange_ms")) alone) "
                + "under a \(us("compute_ms")) interior: blocking \(us("blocking_ms")), overlapped \(us("overlapped_ms"))")
        }
    }

    /// 2, 4, 8, ... ranks up to the cores, and the cores.
    static func reductionRankCounts(cores: Int) -> [Int] {
        var counts: [Int] = []
        var n = 2
        while n < cores { counts.append(n); n *= 2 }
        return counts + [max(2, cores)]
    }

    /// `bench-part allreduce` on `ranks` ranks (one per host where hosts are given).
    func allreduce(ranks: Int, hosts: [LaunchRequest.Host] = []) throws -> JSONNode {
        let jsonPath = "\(work)/allreduce-\(ranks)-\(hosts.count).json"
        try launch(ranks: ranks, threads: 1, hosts: hosts, ["bench-part", "allreduce", "--json", jsonPath])
        return try JSONParser.parse(try String(contentsOfFile: jsonPath, encoding: .utf8))
    }

    func describeAllreduce(_ a: JSONNode) -> String {
        let double = number(a["one_double"])
        func cell(_ key: String) -> String {
            "\(Format.fixed(number(a[key]), 2)) us (\(Format.fixed(number(a[key]) / double, 2))x)"
        }
        return "1 double \(Format.fixed(double, 2)) us; exact: one sum \(cell("one_exact_sum")), one of terms from 1 to "
            + "2^-1000 \(cell("one_wide_exact_sum")), a diagnostic (3 sums, 4 maxima) \(cell("diagnostic")); "
            + "\(ExactSum.wordCount) Int64 with MPI_SUM \(cell("int64_sum_71"))"
    }

    func number(_ node: JSONNode?) -> Double {
        if case .number(let text)? = node?.value { return Double(text) ?? .nan }
        return .nan
    }
}
