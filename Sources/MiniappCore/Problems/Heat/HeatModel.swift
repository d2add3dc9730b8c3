import Foundation

/// The heat problem on one rank's block: spacing, time step, the initial
/// condition, and the reference solutions, all as separable profiles
/// f(i, j) = (scale * py[j]) * px[i] over the block's local indices.
///
/// Profiles are computed from global indices, so every decomposition sees
/// the same values at the same point.
struct HeatModel {
    let configuration: HeatConfiguration
    let block: Decomposition.Block
    let hx: Double, hy: Double, dt: Double
    /// alpha dt / h^2 per axis.
    let rx: Double, ry: Double

    let initialProfileX: [Double], initialProfileY: [Double]
    let initialScale: Double

    /// The exact solution of the discrete scheme and of the PDE, where known.
    let reference: Reference?

    struct Reference {
        let profileX: [Double], profileY: [Double]
        /// scale(k) = amplitude * growth^k: the discrete solution after k steps.
        let amplitude: Double
        let growth: Double
        /// scale(t) = amplitude * exp(-decayRate * t): the PDE solution.
        let decayRate: Double
        let name: String

        func discreteScale(step: Int) -> Double { amplitude * pow(growth, Double(step)) }
        func continuumScale(time: Double) -> Double { amplitude * exp(-decayRate * time) }
    }

    init(_ c: HeatConfiguration, block: Decomposition.Block) {
        configuration = c
        self.block = block
        hx = c.hx
        hy = c.hy
        dt = c.dt
        rx = c.alpha * dt / (hx * hx)
        ry = c.alpha * dt / (hy * hy)

        let x = (0..<block.nx).map { HeatConfiguration.coordinate(block.offset[0] + $0, spacing: c.hx, c.boundaryX) }
        let y = (0..<block.ny).map { HeatConfiguration.coordinate(block.offset[1] + $0, spacing: c.hy, c.boundaryY) }

        switch c.initial {
        case .sine(let modes, let amplitude):
            let kx = Double(modes[0]) * Double.pi / c.grid.lx, ky = Double(modes[1]) * Double.pi / c.grid.ly
            initialProfileX = x.map { sin(kx * $0) }
            initialProfileY = y.map { sin(ky * $0) }
            initialScale = amplitude
            // sin(k x) is an eigenvector of the discrete Laplacian with
            // eigenvalue -(4/h^2) sin^2(k h / 2): on a Dirichlet axis when the
            // boundary value is 0, on a periodic axis when the mode is even.
            let fits = { (kind: BoundaryKind, mode: Int) in
                kind == .dirichlet ? c.boundaryValue == 0 : mode % 2 == 0
            }
            if fits(c.boundaryX, modes[0]) && fits(c.boundaryY, modes[1]) {
                let sx = sin(kx * c.hx / 2), sy = sin(ky * c.hy / 2)
                let growth = 1 - 4 * c.alpha * dt / (c.hx * c.hx) * sx * sx - 4 * c.alpha * dt / (c.hy * c.hy) * sy * sy
                reference = Reference(profileX: initialProfileX, profileY: initialProfileY, amplitude: amplitude,
                                      growth: growth, decayRate: c.alpha * (kx * kx + ky * ky), name: "sine mode")
            } else {
                reference = nil
            }
        case .gaussian(let center, let width, let amplitude):
            let w2 = 2 * width * width
            initialProfileX = x.map { exp(-($0 - center[0]) * ($0 - center[0]) / w2) }
            initialProfileY = y.map { exp(-($0 - center[1]) * ($0 - center[1]) / w2) }
            initialScale = amplitude
            reference = nil
        case .constant(let value):
            initialProfileX = [Double](repeating: 1, count: block.nx)
            initialProfileY = [Double](repeating: 1, count: block.ny)
            initialScale = value
            let steady = (c.boundaryX == .periodic || c.boundaryValue == value)
                && (c.boundaryY == .periodic || c.boundaryValue == value)
            reference = steady ? Reference(profileX: initialProfileX, profileY: initialProfileY, amplitude: value,
                                           growth: 1, decayRate: 0, name: "constant") : nil
        }
    }

    /// Grid coordinates of the first point, for the XDMF geometry.
    var origin: (x: Double, y: Double) {
        (HeatConfiguration.coordinate(0, spacing: hx, configuration.boundaryX),
         HeatConfiguration.coordinate(0, spacing: hy, configuration.boundaryY))
    }
}
