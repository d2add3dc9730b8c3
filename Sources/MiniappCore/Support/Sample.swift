/// Summary statistics of repeated measurements.
public struct Sample: Sendable {
    public let values: [Double]

    public init(_ values: [Double]) { self.values = values.sorted() }

    public var median: Double { values.isEmpty ? .nan : values[values.count / 2] }
    public var minimum: Double { values.first ?? .nan }
    public var maximum: Double { values.last ?? .nan }
    /// Half the distance between the quartiles, relative to the median; 0
    /// when all values are equal (a phase that never ran: all zero).
    public var spread: Double {
        if minimum == maximum { return 0 }
        guard values.count >= 4 else { return (maximum - minimum) / (2 * median) }
        return (values[3 * values.count / 4] - values[values.count / 4]) / (2 * median)
    }
}
