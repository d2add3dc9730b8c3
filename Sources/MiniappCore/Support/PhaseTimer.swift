#if canImport(Glibc)
import Glibc
#endif

/// Monotonic wall-clock seconds (clock_gettime through the vDSO: ~20 ns).
@inline(__always)
public func wallSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// Accumulated seconds per named phase of a rank's run, measured on the main
/// thread. Starting a phase ends the previous one, so a run is covered
/// without gaps and the cost is two clock reads per phase change.
public struct PhaseTimer: Sendable {
    public let names: [String]
    public private(set) var seconds: [Double]
    private var current: Int? = nil
    private var since = 0.0

    public init(phases: [String]) {
        names = phases
        seconds = [Double](repeating: 0, count: phases.count)
    }

    public func index(of name: String) -> Int {
        guard let k = names.firstIndex(of: name) else { preconditionFailure("unknown phase \(name)") }
        return k
    }

    /// Ends the running phase (if any) and starts `phase`.
    @inline(__always)
    public mutating func start(_ phase: Int) {
        let now = wallSeconds()
        if let current { seconds[current] += now - since }
        current = phase
        since = now
    }

    /// Ends the running phase.
    public mutating func stop() {
        let now = wallSeconds()
        if let current { seconds[current] += now - since }
        current = nil
    }

    public mutating func add(_ value: Double, to phase: Int) { seconds[phase] += value }

    public subscript(name: String) -> Double {
        get { seconds[index(of: name)] }
        set { seconds[index(of: name)] = newValue }
    }
}
