import CKernelShims

/// STREAM's copy (a = b) and triad (a = b + s c) kernels, with ordinary or
/// streaming stores, over `range` (each thread its own part).
public enum StreamKernel: String, Sendable, CaseIterable {
    case copy, triad

    /// Bytes per element as STREAM counts them (explicit reads and writes;
    /// the write-allocate read of ordinary stores is not counted).
    public var bytesPerElement: Int { self == .copy ? 16 : 24 }
}

/// `zero` must be 0: copy computes a = b + zero, which the compiler cannot
/// turn into memcpy (whose streaming stores for large sizes would measure
/// another access pattern than the stencil's ordinary stores).
public func streamKernel(_ kernel: StreamKernel, a: UnsafeMutablePointer<Double>, b: UnsafePointer<Double>,
                         c: UnsafePointer<Double>, scalar: Double, zero: Double, range: Range<Int>, streaming: Bool) {
    var i = range.lowerBound
    let end = range.upperBound
    if streaming {
        // Scalar until a is 32-byte aligned, then 4 at a time.
        while i < end && Int(bitPattern: a + i) & 31 != 0 { a[i] = kernel == .copy ? b[i] + zero : b[i] + scalar * c[i]; i += 1 }
        let s = SIMD4<Double>(repeating: scalar)
        while i + 4 <= end {
            let x = UnsafeRawPointer(b + i).loadUnaligned(as: SIMD4<Double>.self)
            let v = kernel == .copy ? x + zero : x + s * UnsafeRawPointer(c + i).loadUnaligned(as: SIMD4<Double>.self)
            kernels_stream4(a + i, v)
            i += 4
        }
        kernels_store_fence()
    }
    switch kernel {
    case .copy: while i < end { a[i] = b[i] + zero; i += 1 }
    case .triad: while i < end { a[i] = b[i] + scalar * c[i]; i += 1 }
    }
}
