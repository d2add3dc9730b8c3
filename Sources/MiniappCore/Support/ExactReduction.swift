import Kernels
import MPI

/// Exact sums (and maxima) reduced across ranks in one MPI_Allreduce: the
/// result is the exact sum, rounded once, the same for every decomposition.
///
/// Each sum travels as a window of its live digits (`ExactSumMessage`):
/// small messages are what MPI_Allreduce does fastest, and the digits of a
/// sum of doubles are live only over the range of magnitudes of its terms.
/// The window is as wide as the widest span the previous reduction found,
/// plus a margin; a reduction whose spans have outgrown it (every rank
/// learns so from its result) is made again with every digit. The choice
/// depends only on reduced results, which are the same on every rank, so
/// all ranks send the same shape of message.
///
/// One per call site: each keeps its own window.
public final class ExactReduction {
    static let initialDigits = 8
    static let marginDigits = 2
    static let minimumDigits = 4

    private let communicator: Communicator
    private let operation: UserReduction
    private var datatypes: [Int: Datatype] = [:]
    private var buffer: [Int64] = []
    private var digits = ExactReduction.initialDigits
    /// Calls of `reduce`, those made again with every digit, and the widest
    /// span of live digits seen (the results file records them).
    public private(set) var reductions = 0
    public private(set) var retries = 0
    public private(set) var widestSpan = 0

    public init(_ communicator: Communicator) throws {
        self.communicator = communicator
        operation = try UserReduction(commutative: true) { input, target, length, _ in
            guard let input, let target, let length else { return }
            // One item per message (see `reduceOnce`), so `length` is 1.
            for _ in 0..<Int(length.pointee) {
                ExactSumMessage.combine(input.assumingMemoryBound(to: Int64.self),
                                        into: target.assumingMemoryBound(to: Int64.self))
            }
        }
    }

    /// The exact sums over all ranks, each rounded once, and the maxima over all ranks.
    public func reduce(sums: [ExactSum], maxima: [Double] = []) throws -> (sums: [Double], maxima: [Double]) {
        reductions += 1
        var result = try reduceOnce(sums: sums, maxima: maxima, digits: digits)
        if result.sums == nil {
            retries += 1
            result = try reduceOnce(sums: sums, maxima: maxima, digits: ExactSum.digitCount)
        }
        widestSpan = max(widestSpan, result.widestSpan)
        digits = min(ExactSum.digitCount, max(Self.minimumDigits, result.widestSpan + Self.marginDigits))
        return (result.sums!, result.maxima)
    }

    /// For the results file.
    var attributes: [String: AttributeValue] {
        ["exact_reductions": .int(reductions), "exact_reductions_retried": .int(retries),
         "exact_reduction_widest_digits": .int(widestSpan)]
    }

    private func reduceOnce(sums: [ExactSum], maxima: [Double], digits: Int) throws
        -> (sums: [Double]?, maxima: [Double], widestSpan: Int) {
        let words = ExactSumMessage.wordCount(sums: sums.count, maxima: maxima.count, digits: digits)
        if datatypes[words] == nil { datatypes[words] = try Datatype(contiguousOf: Int64.self, count: words) }
        if buffer.count < words { buffer = [Int64](repeating: 0, count: words) }
        return try buffer.withUnsafeMutableBufferPointer { message in
            let start = message.baseAddress!
            ExactSumMessage.write(sums: sums, maxima: maxima, digits: digits, into: start)
            // The whole message as one item: MPI never splits it between calls of the operation.
            try communicator.allreduce(start, count: 1, datatype: datatypes[words]!, op: operation)
            return ExactSumMessage.read(start)
        }
    }
}
