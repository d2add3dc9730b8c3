import Kernels
import Testing

@Suite struct StreamTests {
    /// Every kernel, store kind and prefetch setting writes exactly the
    /// STREAM result on a range that starts and ends off a cache line (the
    /// scalar head before streaming stores, the vector loop, the scalar tail),
    /// and nothing outside the range.
    @Test(arguments: StreamKernel.allCases)
    func everyVariantComputesItsRange(kernel: StreamKernel) {
        let count = 1000
        let b = (0..<count).map { Double($0) * 0.5 + 1 }, c = (0..<count).map { Double($0 % 7) - 3 }
        for streaming in [false, true] {
            for prefetch in [false, true] {
                var a = [Double](repeating: -1, count: count)
                let range = 3..<(count - 5)
                b.withUnsafeBufferPointer { b in
                    c.withUnsafeBufferPointer { c in
                        a.withUnsafeMutableBufferPointer { a in
                            streamKernel(kernel, a: a.baseAddress!, b: b.baseAddress!, c: c.baseAddress!, scalar: 3,
                                         zero: 0, range: range, streaming: streaming, prefetch: prefetch)
                        }
                    }
                }
                for i in 0..<count {
                    let expected = !range.contains(i) ? -1 : kernel == .copy ? b[i] : b[i] + 3 * c[i]
                    #expect(a[i] == expected, "\(kernel) streaming \(streaming) prefetch \(prefetch) at \(i)")
                }
            }
        }
    }
}
