/// Extreme eigenvalues of a symmetric tridiagonal matrix, by bisection on
/// Sturm sequence counts: simple, robust, and accurate to the last bits.
/// Used on the Lanczos matrix that CG's alphas and betas define.
enum SymmetricTridiagonal {
    /// The smallest and largest eigenvalue of the matrix with `diagonal`
    /// (n entries) and `offDiagonal` (n - 1 entries, below/above the diagonal).
    static func extremeEigenvalues(diagonal d: [Double], offDiagonal e: [Double]) -> (min: Double, max: Double) {
        precondition(!d.isEmpty && e.count == d.count - 1)
        // Gershgorin discs bound every eigenvalue.
        var lower = Double.infinity, upper = -Double.infinity
        for i in d.indices {
            let radius = (i > 0 ? abs(e[i - 1]) : 0) + (i < e.count ? abs(e[i]) : 0)
            lower = Swift.min(lower, d[i] - radius)
            upper = Swift.max(upper, d[i] + radius)
        }
        let n = d.count
        return (bisect(d, e, index: 0, lower, upper), bisect(d, e, index: n - 1, lower, upper))
    }

    /// Number of eigenvalues smaller than x (the negative pivots of T - x I).
    static func countBelow(_ d: [Double], _ e: [Double], _ x: Double) -> Int {
        var count = 0
        var q = d[0] - x
        if q < 0 { count += 1 }
        for i in 1..<d.count {
            if q == 0 { q = Double.ulpOfOne * (abs(e[i - 1]) + 1e-300) }
            q = d[i] - x - e[i - 1] * e[i - 1] / q
            if q < 0 { count += 1 }
        }
        return count
    }

    /// The eigenvalue of rank `index` (0 = smallest) within [lower, upper].
    private static func bisect(_ d: [Double], _ e: [Double], index: Int, _ lower: Double, _ upper: Double) -> Double {
        var lo = lower, hi = upper
        for _ in 0..<200 {
            let mid = 0.5 * (lo + hi)
            if mid <= lo || mid >= hi { break }
            if countBelow(d, e, mid) > index { hi = mid } else { lo = mid }
        }
        return 0.5 * (lo + hi)
    }

    /// TeaLeaf's Lanczos matrix from n CG steps: diagonal 1/alpha_k + beta_(k-1)/alpha_(k-1),
    /// off-diagonal sqrt(beta_k)/alpha_k.
    static func lanczos(alphas: [Double], betas: [Double]) -> (diagonal: [Double], offDiagonal: [Double]) {
        let n = alphas.count
        var diagonal = [Double](repeating: 0, count: n), off = [Double](repeating: 0, count: max(0, n - 1))
        for k in 0..<n {
            diagonal[k] = 1 / alphas[k] + (k > 0 ? betas[k - 1] / alphas[k - 1] : 0)
            if k < n - 1 { off[k] = betas[k].squareRoot() / alphas[k] }
        }
        return (diagonal, off)
    }
}

/// Chebyshev iteration coefficients on [eigmin, eigmax] (TeaLeaf's
/// recurrence): theta, and per step alpha (previous direction) and beta
/// (new residual).
struct ChebyshevCoefficients {
    let theta: Double
    let alphas: [Double]
    let betas: [Double]

    init(eigmin: Double, eigmax: Double, steps: Int) {
        theta = (eigmax + eigmin) / 2
        let delta = (eigmax - eigmin) / 2
        let sigma = theta / delta
        var rhoOld = 1 / sigma
        var a: [Double] = [], b: [Double] = []
        for _ in 0..<max(0, steps) {
            let rhoNew = 1 / (2 * sigma - rhoOld)
            a.append(rhoNew * rhoOld)
            b.append(2 * rhoNew / delta)
            rhoOld = rhoNew
        }
        alphas = a
        betas = b
    }
}
