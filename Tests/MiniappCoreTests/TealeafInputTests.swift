import Foundation
@testable import MiniappCore
import Testing

/// The repository's inputs directory.
let inputs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("inputs")

func readInput(_ name: String) throws -> String {
    try String(contentsOf: inputs.appendingPathComponent(name), encoding: .utf8)
}

func tealeaf(_ text: String, file: String = "deck.in") throws -> TealeafConfiguration {
    guard let c = (try ProblemInput.parse(text, fileName: file)).problem as? TealeafConfiguration else { fatalError("not tealeaf") }
    return c
}

func deckError(_ text: String) -> String {
    do {
        _ = try ProblemInput.parse(text, fileName: "deck.in")
        return "no error"
    } catch {
        return error.description
    }
}

@Suite struct TealeafInputTests {
    @Test func shippedDecksEqualTheirJSONTwins() throws {
        for n in [1, 2] {
            var deck = try tealeaf(try readInput("tea_bm_\(n).in"), file: "tea_bm_\(n).in")
            let json = try tealeaf(try readInput("tea_bm_\(n).json"), file: "tea_bm_\(n).json")
            #expect(deck.output.path == "tea_bm_\(n).h5")
            deck.output = json.output
            #expect(deck == json)
            #expect(json.grid.xCells == (n == 1 ? 10 : 250) && json.states.count == 5 && json.testProblem == n)
            #expect(json.solver.method == .cg && json.solver.eps == 1e-15 && json.endStep == 10)
        }
    }

    @Test func deckSyntax() throws {
        let c = try tealeaf("""
            Comments and anything outside the block are ignored
            *TEA
            State 1 density=2.5 energy=1   ! background
            state 2,density = 1.0,energy=3.0,geometry=circle,xmin=5,ymin=5,radius=2 ; comment
            x_cells=20 y_cells \\
              30
            tl_use_ppcg tl_eps 1.0d-12 halo_depth=2 tl_preconditioner_type jac_diag
            tl_coefficient_inverse_density
            visit_frequency 5 summary_frequency 0 profiler_on
            *ENDTEA
            """)
        #expect(c.states == [.init(density: 2.5, energy: 1, geometry: .background),
                             .init(density: 1, energy: 3, geometry: .circle(x: 5, y: 5, radius: 2))])
        #expect(c.grid.xCells == 20 && c.grid.yCells == 30)
        #expect(c.solver.method == .ppcg && c.solver.eps == 1e-12 && c.solver.haloDepth == 2)
        #expect(c.solver.preconditioner == .jacDiag && c.solver.coefficient == .recipConductivity)
        #expect(c.output.every == 5 && c.output.summaryEvery == 0)
        // TeaLeaf's defaults: Jacobi, 10 x 10 cells on [0, 100]^2.
        let d = try tealeaf("*tea\nstate 1 density=1 energy=1\n*endtea\n")
        #expect(d.solver.method == .jacobi && d.grid.xCells == 10 && d.grid.xmax == 100 && d.solver.eps == 1e-10)
    }

    @Test func malformedDecksNameTheLine() {
        let base = "*tea\nstate 1 density=1 energy=1\n"
        #expect(deckError(base + "tl_use_gc\n*endtea") == "deck.in:3:1: unknown keyword 'tl_use_gc'; did you mean 'tl_use_cg'?")
        #expect(deckError(base + "x_cells=ten\n*endtea") == "deck.in:3:9: 'x_cells' needs an integer, got 'ten'")
        #expect(deckError(base + "tl_eps\n*endtea") == "deck.in:3:1: 'tl_eps' needs a value")
        #expect(deckError(base + "state 1 density=3\n*endtea").contains("deck.in:3:1: state 1 is defined twice"))
        #expect(deckError(base + "state 3 density=1 energy=1 geometry=point xmin=1 ymin=1\n*endtea").contains("3:1: state 2 is not defined"))
        #expect(deckError(base + "state 2 density=1 energy=1 geometry=square xmin=1\n*endtea")
                .contains("3:37: state 2: unknown geometry 'square'"))
        #expect(deckError(base + "state 2 density=1 energy=1 geomtry=circle\n*endtea").contains("did you mean 'geometry'?"))
        #expect(deckError(base + "state 2 density=1 energy=1 geometry=rectangle xmin=1 xmax=2\n*endtea").contains("'ymin' is missing"))
        #expect(deckError(base + "tl_preconditioner_type jac_block\n*endtea").contains("'jac_block' is not supported"))
        #expect(deckError(base + "xmin=5 xmax=1\n*endtea").contains("deck.in:3:8: 'grid.xmax' must be greater than xmin"))
        #expect(deckError(base + "end_step=-2\n*endtea").contains("must be at least 1"))
        #expect(deckError(base + "x_cells=10").contains("'*tea' block without '*endtea'"))
        #expect(deckError("*tea\n*endtea").contains("no states defined"))
        #expect(deckError(base + "halo_depth=2\n*endtea").contains("halo deeper than 1 is only used by the ppcg solver"))
    }

    @Test func jsonValidation() throws {
        let base = try readInput("tea_bm_1.json")
        func variant(_ old: String, _ new: String) -> String { base.replacingOccurrences(of: old, with: new) }
        #expect(message(variant(#""method": "cg""#, #""method": "gc""#)).contains("'solver.method' must be one of 'cg', 'jacobi', 'chebyshev', 'ppcg', got 'gc'; did you mean 'cg'?"))
        #expect(message(variant(#""density": 100.0, "energy": 0.0001"#, #""density": 100.0, "energy": 0.0001, "geometry": "circle""#))
                .contains("unknown key 'states[0].geometry'"))
        #expect(message(variant(#""density": 0.1, "energy": 25.0"#, #""density": -0.1, "energy": 25.0"#)).contains("states[1].density"))
        #expect(message(variant(#""test_problem": 1"#, #""test_problem": 9"#)).contains("test problems are 1 to 5"))
        #expect(message(variant(#""x_cells": 10"#, #""x_cells": 0"#)).contains("grid.x_cells"))
    }
}

@Suite struct EigenvalueTests {
    @Test func laplacianEigenvaluesByBisection() {
        // tridiag(-1, 2, -1) of order n: 2 - 2 cos(k pi / (n + 1)).
        let n = 50
        let (lo, hi) = SymmetricTridiagonal.extremeEigenvalues(diagonal: [Double](repeating: 2, count: n),
                                                                offDiagonal: [Double](repeating: -1, count: n - 1))
        #expect(abs(lo - (2 - 2 * cos(Double.pi / 51))) < 1e-14)
        #expect(abs(hi - (2 - 2 * cos(50 * Double.pi / 51))) < 1e-14)
        #expect(SymmetricTridiagonal.countBelow([Double](repeating: 2, count: n), [Double](repeating: -1, count: n - 1), 2) == 25)
    }

    @Test func chebyshevCoefficientsFollowTheRecurrence() {
        let c = ChebyshevCoefficients(eigmin: 1, eigmax: 3, steps: 3)
        #expect(c.theta == 2)
        // sigma = 2, rho0 = 1/2, rho1 = 1/(4 - 1/2) = 2/7
        #expect(abs(c.alphas[0] - 1.0 / 7) < 1e-16 && abs(c.betas[0] - 4.0 / 7) < 1e-16)
    }
}
