import Foundation
import Kernels
import MiniappCore
import ThreadPool

/// Measurements inside one process: memory bandwidth (STREAM copy and
/// triad, with and without streaming stores and software prefetch, on a
/// `BandwidthProbe`), the thread pool's fork-join round, and the cost of
/// the phase timers' clock.
enum NodeBenchmarks {
    struct Bandwidth: Sendable {
        let kernel: StreamKernel
        let threads: Int
        let streaming: Bool
        let prefetch: Bool
        /// GB/s as STREAM counts bytes (best of the repetitions, as STREAM reports).
        let gigabytesPerSecond: Double
    }

    /// STREAM copy and triad for each thread count, store kind and prefetch.
    static func stream(_ probe: BandwidthProbe, threadCounts: [Int], repeats: Int) -> [Bandwidth] {
        var results: [Bandwidth] = []
        for threads in threadCounts {
            for kernel in StreamKernel.allCases {
                for streaming in [false, true] {
                    for prefetch in [false, true] {
                        let rate = probe.gigabytesPerSecond(kernel, threads: threads, streaming: streaming, prefetch: prefetch,
                                                            repeats: repeats)
                        results.append(Bandwidth(kernel: kernel, threads: threads, streaming: streaming, prefetch: prefetch,
                                                 gigabytesPerSecond: rate))
                    }
                }
            }
        }
        return results
    }

    /// Microseconds per fork-join round of an empty body (median of many).
    static func forkJoinRound(threads: Int, rounds: Int = 20_000) -> Sample {
        let pool = ForkJoinPool(threads: threads, pinTo: pinning(threads))
        var samples: [Double] = []
        for _ in 0..<20 {
            let t0 = wallSeconds()
            for _ in 0..<rounds / 20 { pool.run { _ in } }
            samples.append((wallSeconds() - t0) / Double(rounds / 20) * 1e6)
        }
        return Sample(samples)
    }

    /// Nanoseconds per clock read (the phase timers read it twice per phase).
    static func clockCost() -> Double {
        let n = 1_000_000
        var sink = 0.0
        let t0 = wallSeconds()
        for _ in 0..<n { sink += wallSeconds() }
        let elapsed = wallSeconds() - t0
        return sink == 0 ? 0 : elapsed / Double(n) * 1e9
    }

    /// One CPU per thread when the process may use enough of them.
    static func pinning(_ threads: Int) -> [Int]? {
        let cpus = Affinity.allowedCPUs()
        return cpus.count >= threads && threads > 1 ? Array(cpus.prefix(threads)) : nil
    }

}
