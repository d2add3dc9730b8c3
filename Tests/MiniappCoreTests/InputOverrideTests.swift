@testable import MiniappCore
import Testing

/// `--set KEY.PATH=VALUE` applied to the input before it is checked.
@Suite struct InputOverrideTests {
    private func parse(_ text: String, _ settings: [String]) throws(InputError) -> ProblemInput {
        try ProblemInput.parse(text, fileName: "in.json", overrides: settings.map { InputOverride($0)! })
    }

    private func error(_ text: String, _ settings: [String]) -> String {
        do { _ = try parse(text, settings); return "no error" } catch { return error.description }
    }

    @Test func valuesAreTypedByTheSchema() throws {
        guard let c = (try parse(validHeat, ["grid.nx=128", "boundary.x=dirichlet", "time.dt=null",
                                                         "decomposition.dims=[1, 2]", "initial.center=[0.5, 0.25]",
                                                         "output.path=run 1.h5", "scheme.halo_depth=4"])).problem as? HeatConfiguration else {
            Issue.record("not heat"); return
        }
        #expect(c.grid.nx == 128 && c.decomposition.dims == [1, 2] && c.output.path == "run 1.h5")
        #expect(c.scheme.haloDepth == 4)
        // The same as the file with these values written in.
        let edited = validHeat.replacingOccurrences(of: "\"nx\": 64", with: "\"nx\": 128")
            .replacingOccurrences(of: "\"x\": \"periodic\"", with: "\"x\": \"dirichlet\"")
        guard let d = (try parse(edited, ["decomposition.dims=[1,2]", "initial.center=[0.5,0.25]",
                                                      "output.path=run 1.h5", "scheme.halo_depth=4"])).problem as? HeatConfiguration else { return }
        #expect(c.effectiveJSON.serialized() == d.effectiveJSON.serialized())
    }

    @Test func laterSettingsWinAndSectionsAreCreated() throws {
        let minimal = #"{"problem": "heat", "grid": {"nx": 8, "ny": 8}}"#
        guard let c = (try parse(minimal, ["time.steps=3", "time.steps=7", "physics.alpha=0.25"])).problem as? HeatConfiguration else { return }
        #expect(c.steps == 7 && c.alpha == 0.25)
    }

    @Test func errorsNameTheSetting() {
        #expect(error(validHeat, ["grid.nx=-4"]) == "--set grid.nx=-4: 'grid.nx' must be an integer from 1 to 2147483648, got -4")
        #expect(error(validHeat, ["grid.nx=\"64\""]).contains("'grid.nx' must be an integer"))
        #expect(error(validHeat, ["grid.nxx=4"]) == "--set grid.nxx=4: unknown key 'grid.nxx'; did you mean 'grid.nx'?")
        #expect(error(validHeat, ["nx=4"]) == "--set nx=4: unknown key 'nx'; did you mean 'grid.nx'?")
        #expect(error(validHeat, ["grid.nx.y=4"]) == "--set grid.nx.y=4: 'grid.nx' is not a section")
        #expect(error(validHeat, ["initial.center[2]=1"]) == "--set initial.center[2]=1: 'initial.center' has 2 elements, no initial.center[2]")
        #expect(error(validHeat, ["boundary.x=periodc"]).contains("did you mean 'periodic'?"))
    }

    @Test func malformedSettingsAreRefused() {
        for text in ["grid.nx", "=3", "grid..nx=3", "grid.nx[=3", "states[-1].density=2", ".nx=1"] {
            #expect(InputOverride(text) == nil, "\(text)")
        }
        #expect(InputOverride("states[1].density=0.2") != nil)
        #expect(InputOverride("output.path=a=b.h5")?.text == "output.path=a=b.h5")
    }

    @Test func aTealeafDeckTakesTheKeysOfItsJSONForm() throws {
        let deck = "*tea\nstate 1 density=100.0 energy=0.0001\nx_cells=10\ny_cells=10\nend_step=2\n*endtea\n"
        guard let c = (try ProblemInput.parse(deck, fileName: "d.in",
                                                            overrides: [InputOverride("grid.x_cells=20")!,
                                                                        InputOverride("solver.eps=1e-9")!])).problem as? TealeafConfiguration else { return }
        #expect(c.grid.xCells == 20 && c.solver.eps == 1e-9 && c.output.path == "d.h5")
        guard let plain = (try ProblemInput.parse(deck, fileName: "d.in")).problem as? TealeafConfiguration else { return }
        guard let same = (try ProblemInput.parse(deck, fileName: "d.in",
                                                               overrides: [InputOverride("grid.x_cells=10")!])).problem as? TealeafConfiguration else { return }
        #expect(same.effectiveJSON.serialized() == plain.effectiveJSON.serialized())
    }
}
