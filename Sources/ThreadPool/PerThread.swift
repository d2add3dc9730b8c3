/// One value per thread, each on its own cache lines so that threads updating
/// their own slot never share a line (no false sharing). For per-thread
/// partial reductions and timers.
public final class PerThread<Value: BitwiseCopyable>: @unchecked Sendable {
    /// Two 64-byte lines: adjacent-line prefetchers pull lines in pairs.
    public static var alignment: Int { 128 }

    public let count: Int
    private let stride: Int
    private let base: UnsafeMutableRawPointer

    public init(count: Int, initial: Value) {
        self.count = count
        let a = Self.alignment
        stride = (MemoryLayout<Value>.stride + a - 1) / a * a
        base = .allocate(byteCount: max(1, count) * stride, alignment: a)
        for t in 0..<count { pointer(t).initialize(to: initial) }
    }

    deinit { base.deallocate() }

    @inline(__always)
    public func pointer(_ thread: Int) -> UnsafeMutablePointer<Value> {
        (base + thread * stride).assumingMemoryBound(to: Value.self)
    }

    @inline(__always)
    public subscript(thread: Int) -> Value {
        get { pointer(thread).pointee }
        set { pointer(thread).pointee = newValue }
    }

    public var values: [Value] { (0..<count).map { self[$0] } }

    public func reset(to value: Value) {
        for t in 0..<count { self[t] = value }
    }
}
