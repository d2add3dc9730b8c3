import Foundation
import Kernels
import MiniappCore
import ThreadPool

/// STREAM arrays kept for the whole kernel section of `miniapp bench`: the
/// bandwidth table is measured on them first, and the copy bandwidth again
/// just before and after each kernel measurement. The machine is shared,
/// its bandwidth moves by 10-20% within a minute, so a kernel's fraction
/// of the roofline is judged against the bandwidth of its own moment.
final class BandwidthProbe {
    let elements: Int
    private let a: UnsafeMutablePointer<Double>, b: UnsafeMutablePointer<Double>, c: UnsafeMutablePointer<Double>
    /// An opaque zero for copy (see `streamKernel`).
    private let zero = Double(ProcessInfo.processInfo.environment["MINIAPP_STREAM_ZERO"] ?? "0") ?? 0
    private var pool: ForkJoinPool?
    private var parts = BlockPartition(count: 0, parts: 1)

    /// Three arrays of `elements` doubles (several times the last-level cache).
    init(elements: Int) throws {
        self.elements = elements
        a = try LargeArray.allocate(elements)
        do { b = try LargeArray.allocate(elements) } catch { LargeArray.deallocate(a); throw error }
        do { c = try LargeArray.allocate(elements) } catch { LargeArray.deallocate(a); LargeArray.deallocate(b); throw error }
    }

    deinit {
        LargeArray.deallocate(a); LargeArray.deallocate(b); LargeArray.deallocate(c)
    }

    /// GB/s as STREAM counts bytes, the best of `repeats` after a warm-up.
    func gigabytesPerSecond(_ kernel: StreamKernel, threads: Int, streaming: Bool, prefetch: Bool, repeats: Int) -> Double {
        samples(kernel, threads: threads, streaming: streaming, prefetch: prefetch, repeats: repeats).maximum
    }

    /// GB/s of each of `repeats` runs after a warm-up.
    func samples(_ kernel: StreamKernel, threads: Int, streaming: Bool, prefetch: Bool, repeats: Int) -> Sample {
        let pool = self.pool(threads)
        let (a, b, c, zero, parts) = (a, b, c, zero, parts)
        let times = measure(repeats: repeats) {
            pool.run { t in
                streamKernel(kernel, a: a, b: b, c: c, scalar: 3, zero: zero, range: parts.range(of: t),
                             streaming: streaming, prefetch: prefetch)
            }
        }
        return Sample(times.values.map { Double(kernel.bytesPerElement * elements) / $0 / 1e9 })
    }

    /// The copy bandwidth that bounds the stencil with this store kind, with
    /// or without software prefetch, whichever is better: its median run
    /// (`typical`) and its best run (`best`, STREAM's convention).
    func copyBound(threads: Int, streaming: Bool, repeats: Int) -> (typical: Double, best: Double) {
        let runs = [false, true].map { samples(.copy, threads: threads, streaming: streaming, prefetch: $0, repeats: repeats) }
        return (runs.map(\.median).max()!, runs.map(\.maximum).max()!)
    }

    /// A pool of `threads` (pinned one per CPU when the process may use
    /// enough of them); the arrays are first touched again by its threads
    /// when the count changes, so each thread streams pages placed for it.
    private func pool(_ threads: Int) -> ForkJoinPool {
        if let pool, pool.threadCount == threads { return pool }
        pool = nil
        let created = ForkJoinPool(threads: threads, pinTo: NodeBenchmarks.pinning(threads))
        parts = BlockPartition(count: elements, parts: threads)
        let (a, b, c, parts) = (a, b, c, parts)
        created.run { t in
            for i in parts.range(of: t) { a[i] = 1; b[i] = 2; c[i] = 0.5 }
        }
        pool = created
        return created
    }
}
