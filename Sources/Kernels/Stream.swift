import CKernelShims

/// STREAM's copy (a = b) and triad (a = b + s c) kernels, with ordinary or
/// streaming stores, with or without software prefetch, over `range` (each
/// thread its own part).
public enum StreamKernel: String, Sendable, CaseIterable {
    case copy, triad

    /// Bytes per element as STREAM counts them (explicit reads and writes;
    /// the write-allocate read of ordinary stores is not counted).
    public var bytesPerElement: Int { self == .copy ? 16 : 24 }
}

/// `zero` must be 0: copy computes a = b + zero, which the compiler cannot
/// turn into memcpy (whose streaming stores for large sizes would measure
/// another access pattern than the stencil's ordinary stores).
///
/// `prefetch` asks for the lines read and written the same distance ahead
/// as the stencil sweep does. One core keeps more misses in flight that way
/// than the hardware prefetchers alone give it, so the copy it measures is
/// the fair bound for a stencil that prefetches.
///
/// Each combination of kernel and flags runs its own loop, without a branch
/// inside: streaming memory, one core has a few cycles per cache line, and
/// a loop that tests three flags per line spends them on its own
/// instructions (docs/performance.md, "Kernel measurements").
public func streamKernel(_ kernel: StreamKernel, a: UnsafeMutablePointer<Double>, b: UnsafePointer<Double>,
                         c: UnsafePointer<Double>, scalar: Double, zero: Double, range: Range<Int>,
                         streaming: Bool, prefetch: Bool = false) {
    let run = { (copy: Bool, streaming: Bool, prefetch: Bool) in
        streamLoop(copy: copy, a: a, b: b, c: c, scalar: scalar, zero: zero, range: range, streaming: streaming,
                   prefetch: prefetch)
    }
    switch (kernel, streaming, prefetch) {
    case (.copy, false, false): run(true, false, false)
    case (.copy, false, true): run(true, false, true)
    case (.copy, true, false): run(true, true, false)
    case (.copy, true, true): run(true, true, true)
    case (.triad, false, false): run(false, false, false)
    case (.triad, false, true): run(false, false, true)
    case (.triad, true, false): run(false, true, false)
    case (.triad, true, true): run(false, true, true)
    }
}

/// The loop of `streamKernel`, inlined with constant flags.
@inline(__always)
func streamLoop(copy: Bool, a: UnsafeMutablePointer<Double>, b: UnsafePointer<Double>, c: UnsafePointer<Double>,
                scalar: Double, zero: Double, range: Range<Int>, streaming: Bool, prefetch: Bool) {
    var i = range.lowerBound
    let end = range.upperBound
    @inline(__always) func one(_ i: Int) -> Double { copy ? b[i] + zero : b[i] + scalar * c[i] }
    let s = SIMD8<Double>(repeating: scalar)
    @inline(__always) func eight(_ i: Int) -> SIMD8<Double> {
        let x = UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Double>.self)
        return copy ? x + zero : x + s * UnsafeRawPointer(c + i).loadUnaligned(as: SIMD8<Double>.self)
    }
    // Streaming stores: scalar until a is 64-byte aligned (a whole line per store).
    while streaming && i < end && Int(bitPattern: a + i) & 63 != 0 { a[i] = one(i); i += 1 }
    // A cache line (8 elements) per iteration.
    while i + 8 <= end {
        if prefetch {
            kernels_prefetch(b + i + prefetchAheadRead)
            if !copy { kernels_prefetch(c + i + prefetchAheadRead) }
            if !streaming { kernels_prefetch(a + i + prefetchAheadWrite) }
        }
        if streaming {
            kernels_stream8(a + i, eight(i))
        } else {
            kernels_store8(a + i, eight(i))
        }
        i += 8
    }
    if streaming { kernels_store_fence() }
    while i < end { a[i] = one(i); i += 1 }
}
