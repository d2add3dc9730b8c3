/// The reductions recorded every `diagnostics_every` steps.
struct HeatDiagnostics {
    var step: [Int64] = []
    var time: [Double] = []
    /// sum of u * hx * hy over the grid (exact sum, rounded once).
    var total: [Double] = []
    var minimum: [Double] = []
    var maximum: [Double] = []
    /// Against the exact solution of the discrete scheme (NaN when there is none):
    /// sqrt(hx hy sum e^2) and max |e|.
    var l2Error: [Double] = []
    var linfError: [Double] = []
    /// The same against the solution of the PDE (the discretisation error).
    var l2ErrorContinuum: [Double] = []
    var linfErrorContinuum: [Double] = []

    var count: Int { step.count }

    /// Name and values of each series, as written to /diagnostics.
    var doubleSeries: [(String, [Double])] {
        [("time", time), ("total", total), ("min", minimum), ("max", maximum),
         ("l2_error", l2Error), ("linf_error", linfError),
         ("l2_error_continuum", l2ErrorContinuum), ("linf_error_continuum", linfErrorContinuum)]
    }

    /// True unless the last record holds a NaN or an infinity (the exact
    /// total is not finite when any value is not).
    var lastIsFinite: Bool {
        guard let total = total.last, let low = minimum.last, let high = maximum.last else { return true }
        return total.isFinite && low.isFinite && high.isFinite
    }

    // MARK: In a checkpoint

    /// The series by their paths in the results file.
    var series: [String: Checkpoint.Series] {
        var all: [String: Checkpoint.Series] = ["diagnostics/step": .ints(step)]
        for (name, values) in doubleSeries { all["diagnostics/\(name)"] = .doubles(values) }
        return all
    }

    init() {}

    /// The diagnostics recorded in a checkpoint (read from `path`).
    init(series: [String: Checkpoint.Series], path: String) throws {
        guard case .ints(let steps)? = series["diagnostics/step"] else {
            throw MiniappFailure(.dataError, "restart file '\(path)' has no diagnostics/step series")
        }
        step = steps
        var values: [String: [Double]] = [:]
        for (name, _) in doubleSeries {
            guard case .doubles(let v)? = series["diagnostics/\(name)"], v.count == steps.count else {
                throw MiniappFailure(.dataError, "restart file '\(path)': series diagnostics/\(name) is missing "
                                     + "or not as long as diagnostics/step")
            }
            values[name] = v
        }
        time = values["time"]!; total = values["total"]!; minimum = values["min"]!; maximum = values["max"]!
        l2Error = values["l2_error"]!; linfError = values["linf_error"]!
        l2ErrorContinuum = values["l2_error_continuum"]!; linfErrorContinuum = values["linf_error_continuum"]!
    }
}
