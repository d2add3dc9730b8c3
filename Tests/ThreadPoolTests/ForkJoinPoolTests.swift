import Testing
import ThreadPool

@Suite struct ForkJoinPoolTests {
    @Test(arguments: [1, 2, 3, 5])
    func everyThreadRunsOncePerRound(threads: Int) {
        let pool = ForkJoinPool(threads: threads)
        let hits = PerThread<Int>(count: threads, initial: 0)
        for _ in 0..<1000 {
            pool.run { t in hits[t] += 1 }
        }
        #expect(hits.values == [Int](repeating: 1000, count: threads))
    }

    @Test func reductionOverManyRounds() {
        let threads = 4
        let pool = ForkJoinPool(threads: threads)
        let n = 100_003
        let data = (0..<n).map { Double($0 % 97) }
        let partial = PerThread<Double>(count: threads, initial: 0)
        let rows = BlockPartition(count: n, parts: threads)
        var expected = 0.0
        for v in data { expected += v }
        for round in 0..<2000 {
            data.withUnsafeBufferPointer { buffer in
                pool.run { t in
                    var s = 0.0
                    for k in rows.range(of: t) { s += buffer[k] }
                    partial[t] = s
                }
            }
            // Integer-valued doubles: the total is exact in any order.
            #expect(partial.values.reduce(0, +) == expected, "round \(round)")
        }
    }

    @Test func sleepingWorkersWakeUp() async throws {
        // No spinning at all: every round goes through the futex path.
        let pool = ForkJoinPool(threads: 3, spinMicroseconds: 0)
        let counter = PerThread<Int>(count: 3, initial: 0)
        for round in 0..<300 {
            if round % 100 == 0 { try await Task.sleep(nanoseconds: 2_000_000) }
            pool.run { t in counter[t] += t + 1 }
        }
        #expect(counter.values == [300, 600, 900])
    }

    @Test func poolsAreCreatedAndDestroyed() {
        for _ in 0..<50 {
            let pool = ForkJoinPool(threads: 3)
            let slots = PerThread<Int>(count: 3, initial: -1)
            pool.run { t in slots[t] = t }
            #expect(slots.values == [0, 1, 2])
        }
    }

    @Test func slotsDoNotShareCacheLines() {
        let slots = PerThread<Double>(count: 4, initial: 0)
        let a = UInt(bitPattern: slots.pointer(0)), b = UInt(bitPattern: slots.pointer(1))
        #expect(b - a >= 128 && a % 128 == 0)
    }
}

@Suite struct BlockPartitionTests {
    @Test func unevenSplitsDifferByAtMostOne() {
        let p = BlockPartition(count: 10, parts: 3)
        #expect((0..<3).map(p.size) == [4, 3, 3])
        #expect((0..<3).map(p.start) == [0, 4, 7])
        #expect(p.range(of: 2) == 7..<10)
    }

    @Test func partsTileTheRangeAndLookupInverts() {
        for count in [1, 2, 7, 64, 101] {
            for parts in 1...min(count, 9) {
                let p = BlockPartition(count: count, parts: parts)
                var next = 0
                for k in 0..<parts {
                    #expect(p.start(of: k) == next)
                    #expect(p.size(of: k) >= count / parts && p.size(of: k) <= count / parts + 1)
                    for i in p.range(of: k) { #expect(p.part(containing: i) == k) }
                    next += p.size(of: k)
                }
                #expect(next == count)
            }
        }
    }

    @Test func hugeGridsDoNotOverflow() {
        // 100000 x 100000 points over 7 x 13 ranks: offsets beyond 2^31 elements.
        let n = 100_000 * 100_000
        let p = BlockPartition(count: n, parts: 91)
        #expect(p.start(of: 90) + p.size(of: 90) == n)
        #expect(p.start(of: 45) > Int(Int32.max))
        #expect(p.part(containing: n - 1) == 90)
    }

    /// A rank's main thread is bound to its first CPU before it makes the
    /// pool; threads pinned to CPUs of their own must still spin (sleeping
    /// on a futex every round made a 2-thread rank slower than 1 thread).
    @Test func pinnedThreadsSpinWhenTheirCreatorIsPinned() {
        let cpus = Affinity.allowedCPUs()
        guard cpus.count >= 2 else { return }   // one CPU: nothing to pin apart
        let pinned = Array(cpus.prefix(2))
        let outer = ForkJoinPool(threads: 2, pinTo: pinned)
        let seen = PerThread<Int>(count: 2, initial: -1)
        let spin = PerThread<UInt64>(count: 2, initial: 0)
        outer.run { t in
            guard t == 1 else { return }   // the worker: bound to one CPU
            let mask = Affinity.allowedCPUs()
            seen[t] = mask.count == 1 ? mask[0] : -mask.count
            spin[t] = ForkJoinPool(threads: 2, pinTo: pinned).spinNanoseconds
        }
        #expect(seen[1] == pinned[1])
        #expect(spin[1] > 0)
        #expect(ForkJoinPool(threads: 2, pinTo: [pinned[0], pinned[0]]).spinNanoseconds == 0)
    }
}
