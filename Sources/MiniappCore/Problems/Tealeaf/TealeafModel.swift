import Foundation
import Kernels

/// The TeaLeaf mesh on one rank: cell geometry, the material states painted
/// onto cells, and the conduction coefficients on cell faces.
///
/// Everything is computed from global cell indices over the rank's block
/// extended by the halo, so a halo cell holds exactly what its owner
/// computes (no exchange needed, and the same bits on every decomposition).
/// Cells outside the domain mirror the cells inside (TeaLeaf's reflective
/// halo); faces on the domain boundary get a zero coefficient: no flux.
struct TealeafModel {
    let configuration: TealeafConfiguration
    let block: Decomposition.Block
    let halo: Int
    let dx: Double, dy: Double
    /// dt / dx^2 and dt / dy^2.
    let rx: Double, ry: Double
    let cellVolume: Double
    /// Which sides of the block are on the domain boundary: west, east, south, north.
    let external: (west: Bool, east: Bool, south: Bool, north: Bool)

    init(_ c: TealeafConfiguration, block: Decomposition.Block, halo: Int, coords: [Int], dims: [Int]) {
        configuration = c
        self.block = block
        self.halo = halo
        dx = c.grid.dx
        dy = c.grid.dy
        rx = c.initialTimestep / (dx * dx)
        ry = c.initialTimestep / (dy * dy)
        cellVolume = dx * dy
        external = (coords[0] == 0, coords[0] == dims[0] - 1, coords[1] == 0, coords[1] == dims[1] - 1)
    }

    // MARK: Geometry

    func vertexX(_ i: Int) -> Double { configuration.grid.xmin + dx * Double(i) }
    func vertexY(_ j: Int) -> Double { configuration.grid.ymin + dy * Double(j) }

    /// A global index outside 0..<n mirrored inside (reflective halo).
    static func mirrored(_ i: Int, _ n: Int) -> Int {
        i < 0 ? min(n - 1, -1 - i) : (i >= n ? max(0, 2 * n - 1 - i) : i)
    }

    /// The state that covers global cell (i, j): the last one that matches,
    /// state 1 (the background) everywhere first, as TeaLeaf paints them.
    /// As in TeaLeaf, a rectangle or circle is shrunk by 1/100 of a cell so
    /// that edges on cell boundaries do not depend on round-off.
    func state(ofCell i: Int, _ j: Int) -> TealeafConfiguration.State {
        let states = configuration.states
        var chosen = states[0]
        let (ex, ey) = (dx / 100, dy / 100)
        for state in states.dropFirst() {
            switch state.geometry {
            case .background:
                continue
            case .rectangle(let x0, let x1, let y0, let y1):
                if vertexX(i + 1) >= x0 + ex && vertexX(i) < x1 - ex && vertexY(j + 1) >= y0 + ey && vertexY(j) < y1 - ey {
                    chosen = state
                }
            case .circle(let x, let y, let radius):
                let cx = 0.5 * (vertexX(i) + vertexX(i + 1)) - (x + ex)
                let cy = 0.5 * (vertexY(j) + vertexY(j + 1)) - (y + ey)
                if (cx * cx + cy * cy).squareRoot() <= radius { chosen = state }
            case .point(let x, let y):
                if vertexX(i) == x && vertexY(j) == y { chosen = state }
            }
        }
        return chosen
    }

    /// Fills density and energy over `rows` (local, may reach into the halo),
    /// every column of the extended block.
    func paint(density: Field, energy: Field, rows: Range<Int>) {
        let g = configuration.grid
        for j in rows {
            let gj = Self.mirrored(block.offset[1] + j, g.yCells)
            for i in -halo ..< block.nx + halo {
                let gi = Self.mirrored(block.offset[0] + i, g.xCells)
                let s = state(ofCell: gi, gj)
                density[i, j] = s.density
                energy[i, j] = s.energy
            }
        }
    }

    /// Face coefficients and the matrix diagonal over `rows` (local; faces
    /// and cells from -halo+1 on). Needs density over the extended block.
    func coefficients(density: Field, kx: Field, ky: Field, rows: Range<Int>) {
        let recip = configuration.solver.coefficient == .recipConductivity
        let nx = block.nx, ny = block.ny, h = halo
        // w: the conduction weight of a cell; a face takes the mean of 1/w
        // of its two cells, written as TeaLeaf does: (w1 + w2) / (2 w1 w2).
        func w(_ i: Int, _ j: Int) -> Double { recip ? 1 / density[i, j] : density[i, j] }
        for j in rows {
            for i in -h ..< nx + h {
                var fx = 0.0, fy = 0.0
                if i > -h {
                    let a = w(i - 1, j), b = w(i, j)
                    fx = (a + b) / (2 * a * b)
                }
                if j > -h {
                    let a = w(i, j - 1), b = w(i, j)
                    fy = (a + b) / (2 * a * b)
                }
                // No flux through the domain boundary, nor beyond it.
                if (external.west && i <= 0) || (external.east && i >= nx) { fx = 0 }
                if (external.south && j <= 0) || (external.north && j >= ny) { fy = 0 }
                kx[i, j] = fx
                ky[i, j] = fy
            }
        }
    }

    /// Di = 1 + ry (Ky_k+1 + Ky_k) + rx (Kx_j+1 + Kx_j), and Mi = 1/Di, for
    /// cells whose four faces are known (-halo+1 ..< n+halo-1). Needs Kx and
    /// Ky on rows j and j+1.
    func diagonal(kx: Field, ky: Field, di: Field, mi: Field?, rows: Range<Int>) {
        let nx = block.nx, h = halo
        for j in rows {
            for i in (-h + 1) ..< (nx + h - 1) {
                let d = 1 + ry * (ky[i, j + 1] + ky[i, j]) + rx * (kx[i + 1, j] + kx[i, j])
                di[i, j] = d
                mi?[i, j] = d != 0 ? 1 / d : 0
            }
        }
    }
}
