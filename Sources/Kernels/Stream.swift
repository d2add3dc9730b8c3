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
public func streamKernel(_ kernel: StreamKernel, a: UnsafeMutablePointer<Double>, b: UnsafePointer<Double>,
                         c: UnsafePointer<Double>, scalar: Double, zero: Double, range: Range<Int>,
                         streaming: Bool, prefetch: Bool = false) {
    var i = range.lowerBound
    let end = range.upperBound
    @inline(__always) func one(_ i: Int) -> Double { kernel == .copy ? b[i] + zero : b[i] + scalar * c[i] }
    let s = SIMD4<Double>(repeating: scalar)
    @inline(__always) func four(_ i: Int) -> SIMD4<Double> {
        let x = UnsafeRawPointer(b + i).loadUnaligned(as: SIMD4<Double>.self)
        return kernel == .copy ? x + zero : x + s * UnsafeRawPointer(c + i).loadUnaligned(as: SIMD4<Double>.self)
    }
    if streaming || prefetch {
        // Streaming stores: scalar until a is 32-byte aligned.
        while streaming && i < end && Int(bitPattern: a + i) & 31 != 0 { a[i] = one(i); i += 1 }
        // A cache line (8 elements) per iteration.
        while i + 8 <= end {
            if prefetch {
                kernels_prefetch(b + i + prefetchAheadRead)
                if kernel == .triad { kernels_prefetch(c + i + prefetchAheadRead) }
                if !streaming { kernels_prefetch(a + i + prefetchAheadWrite) }
            }
            if streaming {
                kernels_stream4(a + i, four(i))
                kernels_stream4(a + i + 4, four(i + 4))
            } else {
                UnsafeMutableRawPointer(a + i).storeBytes(of: four(i), as: SIMD4<Double>.self)
                UnsafeMutableRawPointer(a + i + 4).storeBytes(of: four(i + 4), as: SIMD4<Double>.self)
            }
            i += 8
        }
        if streaming { kernels_store_fence() }
    }
    switch kernel {
    case .copy: while i < end { a[i] = b[i] + zero; i += 1 }
    case .triad: while i < end { a[i] = b[i] + scalar * c[i]; i += 1 }
    }
}
