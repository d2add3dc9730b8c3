import Foundation
import Kernels
import ThreadPool

/// Measurements inside one process: memory bandwidth (STREAM copy and
/// triad, with and without streaming stores and software prefetch), the thread pool's fork-join
/// round, and the cost of the phase timers' clock.
enum NodeBenchmarks {
    struct Bandwidth: Sendable {
        let kernel: StreamKernel
        let threads: Int
        let streaming: Bool
        let prefetch: Bool
        /// GB/s as STREAM counts bytes (best of the repetitions, as STREAM reports).
        let gigabytesPerSecond: Double
    }

    /// STREAM copy and triad on arrays of `elements` doubles (several times
    /// the last-level cache), first touched by the threads that use them.
    static func stream(threadCounts: [Int], elements: Int, repeats: Int) throws -> [Bandwidth] {
        let a = try LargeArray.allocate(elements), b = try LargeArray.allocate(elements), c = try LargeArray.allocate(elements)
        defer { LargeArray.deallocate(a); LargeArray.deallocate(b); LargeArray.deallocate(c) }
        // An opaque zero for copy (see streamKernel).
        let zero = Double(ProcessInfo.processInfo.environment["MINIAPP_STREAM_ZERO"] ?? "0") ?? 0
        var results: [Bandwidth] = []
        for threads in threadCounts {
            let pool = ForkJoinPool(threads: threads, pinTo: pinning(threads))
            let parts = BlockPartition(count: elements, parts: threads)
            pool.run { t in
                for i in parts.range(of: t) { a[i] = 1; b[i] = 2; c[i] = 0.5 }
            }
            for kernel in StreamKernel.allCases {
                for streaming in [false, true] {
                    for prefetch in [false, true] {
                        let sample = measure(repeats: repeats) {
                            pool.run { t in
                                streamKernel(kernel, a: a, b: b, c: c, scalar: 3, zero: zero, range: parts.range(of: t),
                                             streaming: streaming, prefetch: prefetch)
                            }
                        }
                        let bytes = Double(kernel.bytesPerElement * elements)
                        results.append(Bandwidth(kernel: kernel, threads: threads, streaming: streaming, prefetch: prefetch,
                                                 gigabytesPerSecond: bytes / sample.minimum / 1e9))
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
