import Glibc

/// The integrands of the reduction benchmark, on [0, pi] x [0, pi].
public enum Integrand: String, Sendable, CaseIterable {
    case sinOfSum = "sin(x+y)"
    case sinProduct = "sin(x)*sin(y)"

    /// The exact integral over [0, pi]^2.
    public var exact: Double {
        switch self {
        case .sinOfSum: 0
        case .sinProduct: 4
        }
    }
}

/// Adds f at the cell midpoints of `rows` x `columns` (global indices, cell
/// size h) to `sum`, exactly. Each value is computed from its global
/// indices, so no split of the grid changes it.
public func integrateMidpoints(_ f: Integrand, rows: Range<Int>, columns: Range<Int>, h: Double,
                               into sum: inout ExactSum) {
    guard !columns.isEmpty else { return }
    let n = columns.count
    withUnsafeTemporaryAllocation(of: Double.self, capacity: 2 * n) { scratch in
        let values = scratch.baseAddress!, profile = values + n
        for (k, i) in columns.enumerated() {
            let x = (Double(i) + 0.5) * h
            profile[k] = f == .sinProduct ? sin(x) : x
        }
        for j in rows {
            let y = (Double(j) + 0.5) * h
            switch f {
            case .sinProduct:
                let sy = sin(y)
                for k in 0..<n { values[k] = sy * profile[k] }
            case .sinOfSum:
                for k in 0..<n { values[k] = sin(profile[k] + y) }
            }
            sum.add(UnsafePointer(values), count: n)
        }
    }
}
