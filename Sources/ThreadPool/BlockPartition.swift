/// Splits `count` items into `parts` contiguous blocks whose sizes differ by at
/// most one, the larger blocks first. Used for ranks along an axis and for the
/// rows of a rank among its threads. 64-bit throughout.
public struct BlockPartition: Sendable, Equatable {
    public let count: Int
    public let parts: Int

    public init(count: Int, parts: Int) {
        precondition(count >= 0 && parts > 0)
        self.count = count
        self.parts = parts
    }

    public func size(of part: Int) -> Int {
        count / parts + (part < count % parts ? 1 : 0)
    }

    public func start(of part: Int) -> Int {
        part * (count / parts) + min(part, count % parts)
    }

    public func range(of part: Int) -> Range<Int> {
        let s = start(of: part)
        return s ..< s + size(of: part)
    }

    /// The part that holds item `index`.
    public func part(containing index: Int) -> Int {
        let small = count / parts, extra = count % parts
        let boundary = extra * (small + 1)
        return index < boundary ? index / (small + 1) : extra + (index - boundary) / max(small, 1)
    }
}
