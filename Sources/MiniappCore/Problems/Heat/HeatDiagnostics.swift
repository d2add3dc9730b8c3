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
}
